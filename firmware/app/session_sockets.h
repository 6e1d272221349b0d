// The sockets behind the publisher's sessions (core/streamer/publisher.h PublisherHost), the
// same paths as cellrtc-device's (docs/architecture.md, "The device's transports"):
// - UDP (transport udp or auto): one socket bound per address of the network interface in use
//   (the PPP link's, or Wi-Fi's on the bench), each a host candidate of the session's
//   PeerConnection (RFC 8445 section 5.1.1.1); datagrams go out through the socket bound to
//   their source address, and what the sockets receive goes in through one bounded buffer.
// - ICE-TCP (transport tcp or auto): one active candidate per address family (RFC 6544,
//   streamer::add_active_tcp_candidates); once the answer (or a trickle) names the server's
//   passive candidates, one connection toward each (streamer::TcpCandidateConnector), its
//   messages framed by RFC 4571 (core/ice/tcp_framing.h) in both directions.
// - TURN relays from the WHIP answer's Link ice-servers (streamer::plan_relays): over UDP from
//   the first host socket (after a 437, RFC 8656 section 7.4, from a new socket the core asks
//   for with a SocketRequest), over TCP and TLS on connections the PeerConnection asks for with
//   StreamCommands (core/turn frames the stream, core/tls does the TLS).
// A closed session's relays keep their sockets and connections while they deallocate (RFC 8656
// section 7.2; next_timeout/handle_timeout). transport tcp never opens a UDP socket. The sockets
// sit behind DatagramSockets and StreamSockets: lwIP on the device, fakes or POSIX sockets in
// tests. Writes on a connection queue up to a bound: an ICE-TCP message that does not fit is
// dropped (as on a congested path; ICE, DTLS and SCTP recover), a TURN stream that overflows is
// closed and reported (a stream cannot lose bytes in its middle).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/ice/tcp_framing.h"
#include "core/streamer/ice_tcp.h"
#include "core/streamer/ice_transport.h"
#include "core/streamer/publisher.h"
#include "core/streamer/relay_plan.h"
#include "firmware/app/stream_sockets.h"

namespace cellrtc::firmware {

class DatagramSockets {
 public:
  virtual ~DatagramSockets() = default;
  struct Bound {
    int handle = -1;
    SocketAddress local;  // the address and the port the socket got
  };
  // A non-blocking UDP socket bound to `local` (port 0: any free port).
  virtual Result<Bound> open(const SocketAddress& local) = 0;
  virtual Status send(int handle, const SocketAddress& to, ByteView data) = 0;
  struct Received {
    size_t size = 0;  // the datagram's full size: above the buffer's, it was cut
    SocketAddress from;
  };
  // One waiting datagram into `buffer`, or nullopt when none waits.
  virtual std::optional<Received> receive(int handle, std::span<uint8_t> buffer) = 0;
  virtual void close(int handle) = 0;
};

struct SessionSocketsConfig {
  streamer::IceTransport transport = streamer::IceTransport::automatic;
  // RTCIceTransportPolicy "relay": no host or ICE-TCP candidate, every path through a TURN
  // server (networks where only the TURN server is reachable; tests). The transport still
  // decides whether TURN over UDP may be used.
  bool relay_only = false;
  // TURN: configured URLs, the turns: CA (FirmwareConfig::ca_pem), static names, clock.
  streamer::RelayPlanConfig relay;
  // Names of TURN servers, called on the loop: must not block (on the device a
  // TurnHostCache's resolver, filled by the HTTP task); none: only IP literals and relay.hosts.
  streamer::HostResolver resolve;
  // The wall clock (Unix seconds) once the device knows it (SNTP), for the validity dates of
  // turns: certificates (tls_client.h); nullopt or none: the dates are not checked.
  std::function<std::optional<int64_t>()> unix_time;
  // Bytes queued for writing per connection; more is dropped (ICE-TCP) or fails it (TURN).
  size_t max_stream_queue = 32 * 1024;
  // Largest RFC 4571 message taken from the server (DTLS records stay near the path MTU).
  size_t max_tcp_frame = 4096;
};

struct SessionSocketsStats {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t oversized_dropped = 0;   // larger than the receive buffer
  uint64_t unroutable_dropped = 0;  // no socket bound to the transmit's source address
  uint64_t send_errors = 0;
  uint64_t tcp_connections = 0;  // ICE-TCP connections started
  uint64_t tcp_messages_in = 0;
  uint64_t tcp_messages_out = 0;
  uint64_t tcp_messages_dropped = 0;  // the connection's queue was full
  uint64_t turn_streams = 0;          // TURN-over-TCP/TLS connections started
  uint64_t stream_failures = 0;  // connections refused, reset, closed by the far end, overflowed
  uint64_t relays_kept_closing = 0;  // closed sessions whose relays were still deallocating
};

// What the platform's select() watches.
struct WatchSet {
  std::vector<int> readable;  // every open socket
  std::vector<int> writable;  // connections in progress or with queued bytes
  bool operator==(const WatchSet&) const = default;
};

class SessionSockets final : public streamer::PublisherHost {
 public:
  // Datagrams of a WebRTC session stay below the path MTU; 1500 bytes leaves room for what
  // the PeerConnection sends (core/sctp keeps its packets under 1200 bytes). Stream reads use
  // the same buffer.
  static constexpr size_t kReceiveBuffer = 1500;
  // Datagrams (or stream reads) per socket per read() call, so one busy socket cannot starve
  // the loop.
  static constexpr size_t kReadBudget = 16;
  // Log lines held for poll_log(); older ones are dropped.
  static constexpr size_t kMaxLogLines = 32;

  // `sockets` outlives this. UDP only, transport udp.
  explicit SessionSockets(DatagramSockets& sockets);
  // `datagrams` and `streams` outlive this.
  SessionSockets(DatagramSockets& datagrams, StreamSockets& streams, SessionSocketsConfig config);
  ~SessionSockets() override;
  SessionSockets(const SessionSockets&) = delete;
  SessionSockets& operator=(const SessionSockets&) = delete;

  // The network interface's addresses (the PPP link's IPv4 address once IPCP is done); the
  // next session binds one socket on each. Empty: no session can open (the network is down).
  void set_local_addresses(std::vector<IpAddress> addresses) { addresses_ = std::move(addresses); }

  std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) override;
  void session_answered(Instant now, peer::PeerConnection& pc, const whip::WhipSession& session,
                        bool restarted) override;
  void close_session(Instant now, peer::PeerConnection& pc) override;

  // Sends what the publisher's current PeerConnection has to send: datagrams, ICE-TCP
  // messages, its stream commands; connects toward passive candidates learnt meanwhile; writes
  // what the connections can take.
  void flush(Instant now, streamer::Publisher& publisher);
  // Reads what the sockets hold (at most kReadBudget reads each) and what happened to the
  // connections (connected, failed, closed) into the current PeerConnection, then lets the
  // publisher act on it and sends its answers. The number of inputs (datagrams, messages,
  // stream reads and state changes).
  size_t read(Instant now, streamer::Publisher& publisher);

  // A closed session's TURN relays still deallocating (PeerConnection::take_relays: their
  // Refresh with LIFETIME 0 is retransmitted until answered or close_timeout, RFC 8656
  // section 7.2) keep their sockets and connections until then; the platform calls
  // handle_timeout when next_timeout passes.
  std::optional<Instant> next_timeout() const;
  void handle_timeout(Instant now);
  size_t closing_relays() const { return closing_.size(); }

  // The open sockets' handles (for the platform's select()).
  std::vector<int> handles() const;
  WatchSet watch_set() const;
  // Changes whenever watch_set() may have changed, so the platform copies it only then.
  uint64_t watch_generation() const { return watch_generation_; }
  // A line for the device's log ("relay: allocated ...", "warning: ..."), oldest first.
  std::optional<std::string> poll_log();
  const SessionSocketsStats& stats() const { return stats_; }
  const SessionSocketsConfig& config() const { return config_; }
  // The relay plan's settings for a session starting now (the clock read now).
  streamer::RelayPlanConfig relay_plan_config() const;

 private:
  struct Socket {
    DatagramSockets::Bound bound;
    const void* owner = nullptr;  // the session's PeerConnection, or its closing relays
  };
  // A TCP connection: ICE-TCP toward a passive candidate, or a TURN server's stream.
  struct Connection {
    int handle = -1;
    const void* owner = nullptr;  // as Socket::owner
    bool ice_tcp = false;
    uint32_t stream = 0;   // TURN: the core's stream id
    SocketAddress local;   // ICE-TCP: the active candidate (port 9)
    SocketAddress remote;  // ICE-TCP: the passive candidate; TURN: the server
    bool connected = false;
    bool closing = false;  // TURN: closed by the core once the queue is written
    bool dead = false;     // failed or closed: removed after the current pass
    Bytes queue;           // bytes not yet taken by the stack, from queue_head
    size_t queue_head = 0;
    std::unique_ptr<ice::Rfc4571Framer> framer;  // ICE-TCP
  };

  void send(const Transmit& t);
  void send_tcp(const Transmit& t);
  // Carries out one of the PeerConnection's stream commands; true when it fed the connection
  // (a failure reported back).
  template <class Target>
  bool execute(Instant now, Target& target, StreamCommand command);
  turn::RelayGatherer* closing_of(const void* owner) const;
  // Sends what the closing relays have to send; releases those that are done.
  void drive_closing(Instant now);
  // Closes the sockets and connections of `owner`.
  void release(const void* owner);
  void connect_tcp(peer::PeerConnection& pc);
  void bind_requested(Instant now, peer::PeerConnection& pc, const SocketRequest& request);
  void start_relays(Instant now, peer::PeerConnection& pc, const whip::WhipSession& session);
  void log_relay_events(peer::PeerConnection& pc);
  bool enqueue(Connection& c, ByteView bytes);
  // Writes what the stack takes; true when a failure was reported to `pc`.
  bool write_queued(Instant now, Connection& c, peer::PeerConnection* pc);
  size_t read_connection(Instant now, Connection& c, peer::PeerConnection* pc);
  // Marks a connection dead; the PeerConnection hears of a TURN stream's end when `report`.
  void fail(Instant now, Connection& c, peer::PeerConnection* pc, bool report);
  void remove_dead();
  void log(std::string line);
  void changed() { ++watch_generation_; }

  DatagramSockets& sockets_;
  StreamSockets* streams_ = nullptr;
  SessionSocketsConfig config_;
  std::vector<IpAddress> addresses_;
  std::vector<Socket> open_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<turn::RelayGatherer>> closing_;
  std::optional<SocketAddress> turn_udp_;  // the host socket TURN over UDP goes out of
  streamer::TcpCandidateConnector tcp_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(kReceiveBuffer);
  std::deque<std::string> log_;
  uint64_t watch_generation_ = 0;
  SessionSocketsStats stats_;
};

}  // namespace cellrtc::firmware
