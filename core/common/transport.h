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
//
// A core object may also need a new local UDP port (TURN over UDP answered 437, RFC 8656
// section 7.4: allocate again from a different local transport address): poll_socket_request()
// says "bind request K on this IP, any port", handle_socket_bound(K, address) answers with the
// bound address (nullopt when binding failed). From then on the socket is like any other: the
// object sends from it (Transmit.from) and its datagrams come in with it as `local`. A runtime
// keeps the socket until the endpoint goes. runtime::EndpointDriver does it with add_socket; a
// firmware session host does it the same way: DatagramSockets::open(SocketAddress(ip, 0)), the
// handle added to the session's socket list, closed with the session.
#pragma once

#include <cstdint>
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

// What the core asks of the runtime for a new UDP socket (see the top).
struct SocketRequest {
  uint32_t id = 0;     // chosen by the core, unique while the endpoint lives
  SocketAddress like;  // bind on this address's IP (a wildcard is fine) with a new port
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
  // New UDP sockets (see the top): endpoints that ask for none keep these defaults.
  virtual std::optional<SocketRequest> poll_socket_request() { return std::nullopt; }
  virtual void handle_socket_bound(Instant now, uint32_t id,
                                   const std::optional<SocketAddress>& bound) {
    (void)now;
    (void)id;
    (void)bound;
  }
  virtual void handle_timeout(Instant now) = 0;
  virtual std::optional<Transmit> poll_transmit() = 0;
  virtual std::optional<Instant> next_timeout() const = 0;
};

}  // namespace cellrtc
