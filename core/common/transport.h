// The shape every sans-IO object with a network side shares, so one runtime (POSIX sockets,
// lwIP on ESP-IDF) and one simulator can drive any of them:
//
//   obj.handle_datagram(now, local, from, bytes);   // input
//   obj.handle_timeout(now);                        // when next_timeout() has passed
//   while (auto t = obj.poll_transmit()) send(*t);  // output, drained after every input
//   wake_at = obj.next_timeout();
//
// Streams are inputs and outputs of the same objects: ICE-TCP messages (handle_stream_message,
// the driver does the RFC 4571 framing) and plain byte streams the core asks the driver to open
// (TURN over TCP/TLS): poll_stream_command() says "connect stream K to X", "write these bytes on
// K", "close K"; handle_stream_connected/data/closed bring back what happened on K. The driver
// only moves bytes.
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

// What the core asks of the runtime for a plain byte stream (a TCP connection it holds).
struct StreamCommand {
  enum class Kind : uint8_t { connect, write, close };
  Kind kind = Kind::write;
  uint32_t stream = 0;   // chosen by the core, unique while the endpoint lives
  SocketAddress remote;  // connect: where to
  Bytes data;            // write: bytes to append to the stream, in order
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
  // Plain byte streams (see the top): endpoints that open none keep these defaults.
  virtual std::optional<StreamCommand> poll_stream_command() { return std::nullopt; }
  virtual void handle_stream_connected(Instant now, uint32_t stream) {
    (void)now;
    (void)stream;
  }
  virtual void handle_stream_data(Instant now, uint32_t stream, ByteView data) {
    (void)now;
    (void)stream;
    (void)data;
  }
  // The connection failed, was refused, reset or closed by the far end; no more data follows.
  virtual void handle_stream_closed(Instant now, uint32_t stream) {
    (void)now;
    (void)stream;
  }
  virtual void handle_timeout(Instant now) = 0;
  virtual std::optional<Transmit> poll_transmit() = 0;
  virtual std::optional<Instant> next_timeout() const = 0;
};

}  // namespace cellrtc
