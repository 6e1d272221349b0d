// The UDP sockets behind the publisher's sessions (core/streamer/publisher.h PublisherHost):
// one socket bound per address of the network interface in use (the PPP link's, or Wi-Fi's on
// the bench), each a host candidate of the session's PeerConnection (RFC 8445 section 5.1.1.1);
// the PeerConnection's datagrams go out through the socket bound to their source address, and
// what the sockets receive goes into it through one bounded buffer. The sockets themselves sit
// behind DatagramSockets: lwIP on the device, a fake in tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/streamer/publisher.h"

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

struct SessionSocketsStats {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t oversized_dropped = 0;   // larger than the receive buffer
  uint64_t unroutable_dropped = 0;  // no socket bound to the transmit's source address
  uint64_t send_errors = 0;
};

class SessionSockets final : public streamer::PublisherHost {
 public:
  // Datagrams of a WebRTC session stay below the path MTU; 1500 bytes leaves room for what
  // the PeerConnection sends (core/sctp keeps its packets under 1200 bytes).
  static constexpr size_t kReceiveBuffer = 1500;
  // Datagrams read per socket per read() call, so one busy socket cannot starve the loop.
  static constexpr size_t kReadBudget = 16;

  // `sockets` outlives this.
  explicit SessionSockets(DatagramSockets& sockets) : sockets_(sockets) {}
  ~SessionSockets() override;
  SessionSockets(const SessionSockets&) = delete;
  SessionSockets& operator=(const SessionSockets&) = delete;

  // The network interface's addresses (the PPP link's IPv4 address once IPCP is done); the
  // next session binds one socket on each. Empty: no session can open (the network is down).
  void set_local_addresses(std::vector<IpAddress> addresses) { addresses_ = std::move(addresses); }

  std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) override;
  void close_session(Instant now, peer::PeerConnection& pc) override;

  // Sends what the publisher's current PeerConnection has to send.
  void flush(streamer::Publisher& publisher);
  // Reads what the sockets hold (at most kReadBudget each) into the current PeerConnection,
  // then lets the publisher act on it and sends its answers. The number of datagrams read.
  size_t read(Instant now, streamer::Publisher& publisher);

  // The open sockets' handles (for the platform's select()).
  std::vector<int> handles() const;
  const SessionSocketsStats& stats() const { return stats_; }

 private:
  struct Socket {
    DatagramSockets::Bound bound;
    const peer::PeerConnection* owner = nullptr;
  };
  void send(const Transmit& t);

  DatagramSockets& sockets_;
  std::vector<IpAddress> addresses_;
  std::vector<Socket> open_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(kReceiveBuffer);
  SessionSocketsStats stats_;
};

}  // namespace cellrtc::firmware
