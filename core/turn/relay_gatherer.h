// Relayed candidates from several TURN servers at once (RFC 8445 section 5.1.1.2), sans-IO:
// one TurnClient per server, all allocating in parallel, each over UDP, TCP (a byte stream the
// runtime holds, framed by the TurnClient) or TLS (tls::TlsClient over that stream).
//
//   RelayGathererConfig config;
//   config.servers = {...};            // from parse_ice_server_uri + the runtime's name lookup
//   config.udp_local = bound_udp;      // the socket TURN-over-UDP goes out of
//   config.ca_pem = ...;               // turns: trust anchors
//   RelayGatherer relays(config, rng);
//   relays.start(now);
//   relays.handle_datagram(now, local, from, bytes);     // true when it was a TURN server's
//   relays.handle_stream_connected/data/closed(now, stream, ...);
//   relays.handle_timeout(now);
//   while (auto t = relays.poll_transmit()) ...           // UDP datagrams to TURN servers
//   while (auto c = relays.poll_stream_command()) ...     // connect / write / close a stream
//   while (auto r = relays.poll_socket_request()) ...     // a new UDP port (437 over UDP)
//   relays.handle_socket_bound(now, r->id, bound);        //   bound by the runtime
//   while (auto e = relays.poll_event()) ...              // candidates, peer data, failures
//   relays.send(now, relayed, peer, data);                // ICE's transmit from a relayed base
//   relays.close(now);                                    // deallocates everything
//
// Each server stands alone: one that is unreachable, refuses the credentials (401 again after
// the authenticated retry), answers 403 or 486 (at once, no retry), answers 437 more than
// max_mismatch_retries times (each time from a new 5-tuple: a new connection over TCP/TLS, a
// new local UDP port over UDP, asked of the runtime with poll_socket_request), fails
// TLS verification or does not finish
// within allocation_timeout gives a ServerFailed event for itself; the others go on, and a
// candidate is reported the moment its own allocation succeeds (nobody waits for the slowest).
// Refreshes of allocations, permissions and channels are the TurnClients' (RFC 8656 sections
// 8, 9, 12). Credentials are whatever the server list carries: TURN REST credentials from the
// signaling server are time-limited, so every session builds its gatherer from the newest list.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "core/ice/candidate.h"
#include "core/tls/tls_client.h"
#include "core/turn/ice_server_uri.h"
#include "core/turn/turn_client.h"

namespace cellrtc::turn {

// One TURN server of the list, its name already resolved by the runtime.
struct RelayServer {
  IceServerUri uri;       // turn: or turns: (stun: entries are not relays)
  SocketAddress address;  // where uri.host resolved to
  TurnCredentials credentials;
  // turns: the name the certificate must carry and SNI; uri.host when empty. An IP literal
  // cannot be checked (see tls_client.h), so turns: on an IP needs a name here.
  std::string tls_server_name;
};

struct RelayGathererConfig {
  std::vector<RelayServer> servers;
  // The bound UDP socket TURN over UDP uses; servers over UDP fail without one.
  std::optional<SocketAddress> udp_local;
  // turns: trust anchors (PEM); turns: servers fail without them.
  std::string ca_pem;
  // Unix time for certificate validity, when the owner knows it (see tls_client.h).
  std::optional<int64_t> now_unix_s;
  // From start() to Allocated, per server: connecting, TLS and the Allocate exchange. Past it
  // the server is given up (its TurnClient would retransmit for 39.5 s).
  Duration allocation_timeout = seconds(10);
  // How long close() waits for the deallocations before the streams are closed anyway.
  Duration close_timeout = seconds(2);
  // A 437 (allocation mismatch) to Allocate: allocations tried again from a new 5-tuple (RFC
  // 8656 section 7.4), within allocation_timeout: over TCP/TLS on a new connection, over UDP
  // from a new local port the runtime binds (poll_socket_request / handle_socket_bound).
  uint32_t max_mismatch_retries = 2;
  // An allocation that dies after it was made (refresh refused or unanswered, 437 on a refresh,
  // its TCP/TLS connection lost) is made again, each server at most this many times in the
  // gatherer's life; the new relayed address is a new RelayedCandidate.
  uint32_t max_reallocations = 3;
  size_t max_servers = 8;
  // Settings every TurnClient starts from (transport and credentials are set per server).
  TurnClientConfig turn;
};

enum class RelayServerState : uint8_t {
  connecting,
  allocating,
  allocated,
  failed,
  closing,
  closed
};
const char* to_string(RelayServerState state);

namespace event {
// An allocation succeeded: add the candidate to ICE (its address is the relayed base).
struct RelayedCandidate {
  size_t server = 0;  // index in the configured list
  std::string uri;
  ice::Candidate candidate;
  SocketAddress mapped;  // our address as the TURN server saw it
  Duration took{};       // from start() to the allocation
};
// A server gave up: never allocated, or lost its allocation (then `relayed` says which
// candidate is dead, and a new allocation may follow, see max_reallocations).
struct ServerFailed {
  size_t server = 0;
  std::string uri;
  std::string reason;
  std::optional<SocketAddress> relayed;
};
// Data a peer sent to one of our relayed addresses.
struct RelayData {
  SocketAddress relayed;
  SocketAddress peer;
  Bytes data;
};
// Every server has allocated or failed (once per gatherer).
struct GatheringDone {};
}  // namespace event

using RelayEvent = std::variant<event::RelayedCandidate, event::ServerFailed, event::RelayData,
                                event::GatheringDone>;

class RelayGatherer {
 public:
  // `rng` must outlive the gatherer.
  RelayGatherer(RelayGathererConfig config, Random& rng);
  ~RelayGatherer();
  RelayGatherer(const RelayGatherer&) = delete;
  RelayGatherer& operator=(const RelayGatherer&) = delete;

  // Starts every allocation. Fails only when called twice or with more than max_servers; a
  // server that cannot even start (no UDP socket, no CA, a stun: URI) fails on its own.
  Status start(Instant now);

  // A datagram on `local`: true when it came from one of our UDP TURN servers (consumed).
  bool handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data);
  void handle_stream_connected(Instant now, uint32_t stream);
  void handle_stream_data(Instant now, uint32_t stream, ByteView data);
  void handle_stream_closed(Instant now, uint32_t stream);
  void handle_timeout(Instant now);

  std::optional<Transmit> poll_transmit();
  std::optional<StreamCommand> poll_stream_command();
  // A new local UDP port for a server that answered 437 over UDP (common/transport.h); the
  // server waits (state connecting, within allocation_timeout) for handle_socket_bound.
  std::optional<SocketRequest> poll_socket_request();
  // The runtime bound request `id` at `bound` (nullopt: it could not, and the server fails).
  // The server allocates from it; its datagrams come in with `local` == bound.
  void handle_socket_bound(Instant now, uint32_t id, const std::optional<SocketAddress>& bound);
  std::optional<RelayEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  // Whether `relayed` is the address of one of our live allocations.
  bool owns(const SocketAddress& relayed) const;
  // Sends `data` to `peer` through the allocation whose relayed address is `relayed`.
  Status send(Instant now, const SocketAddress& relayed, const SocketAddress& peer, ByteView data);
  // New credentials for server `server`'s next allocation (a reallocation after its allocation
  // died, or a 437 retry): TURN REST credentials expire, and the live allocation keeps the
  // username it was made with (RFC 8656 section 5), so they serve new allocations only.
  void set_credentials(size_t server, TurnCredentials credentials);
  // Deallocates every allocation (RFC 8656 section 7.2) and closes the streams after.
  void close(Instant now);

  size_t server_count() const { return servers_.size(); }
  RelayServerState server_state(size_t index) const;
  bool gathering_done() const { return gathering_done_; }
  // close() was called (the deallocations may still be in flight).
  bool closing() const { return closing_; }
  // Every server closed or failed after close().
  bool closed() const;
  // Stream ids are assigned from this value up (the owner may reserve a range).
  void set_first_stream_id(uint32_t id) { next_stream_ = id; }

 private:
  struct Server;
  Server* find_stream(uint32_t stream);
  void open(Instant now, Server& s);
  void fail(Server& s, std::string reason);
  void pump(Instant now);
  void pump_server(Instant now, Server& s);
  void reconnect(Instant now, Server& s);
  void request_new_port(Server& s);
  SocketAddress udp_local(const Server& s) const;
  void lose(Instant now, Server& s, std::string reason);
  void write_stream(Server& s, Bytes bytes);
  void close_stream(Server& s);
  void check_done();

  RelayGathererConfig config_;
  Random& rng_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::optional<Instant> started_;
  std::optional<Instant> close_deadline_;
  uint32_t next_stream_ = 1;
  uint32_t next_socket_request_ = 1;
  bool gathering_done_ = false;
  bool closing_ = false;
  std::deque<Transmit> transmits_;
  std::deque<StreamCommand> commands_;
  std::deque<SocketRequest> socket_requests_;
  std::deque<RelayEvent> events_;
};

}  // namespace cellrtc::turn
