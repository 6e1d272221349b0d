// The shape every sans-IO object with a network side shares, so one runtime (POSIX sockets,
// lwIP on ESP-IDF) and one simulator can drive any of them:
//
//   obj.handle_datagram(now, local, from, bytes);   // input
//   obj.handle_timeout(now);                        // when next_timeout() has passed
//   while (auto t = obj.poll_transmit()) send(*t);  // output, drained after every input
//   wake_at = obj.next_timeout();
//
// Streams (ICE-TCP, TURN over TCP/TLS) will come in as further inputs of the same objects;
// the driver only moves bytes.
#pragma once

#include <optional>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"

namespace cellrtc {

// Which transport a packet travels on. UDP for now; TCP variants for ICE-TCP and TURN over
// TCP/TLS arrive with those features.
enum class TransportProtocol : uint8_t { udp, tcp, tls };

struct Transmit {
  SocketAddress from;  // the local address to send from (a bound socket)
  SocketAddress to;
  Bytes data;
  TransportProtocol protocol = TransportProtocol::udp;
};

class DatagramEndpoint {
 public:
  virtual ~DatagramEndpoint() = default;
  virtual void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                               ByteView data) = 0;
  // One message out of an ICE-TCP connection's RFC 4571 framing (RFC 6544): `local` is the
  // local TCP candidate, `from` the connection's remote end. Endpoints without ICE-TCP drop it.
  virtual void handle_stream_message(Instant now, const SocketAddress& local,
                                     const SocketAddress& from, ByteView data) {
    (void)now;
    (void)local;
    (void)from;
    (void)data;
  }
  virtual void handle_timeout(Instant now) = 0;
  virtual std::optional<Transmit> poll_transmit() = 0;
  virtual std::optional<Instant> next_timeout() const = 0;
};

}  // namespace cellrtc
