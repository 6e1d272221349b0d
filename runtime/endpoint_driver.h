// Drives any sans-IO DatagramEndpoint from real UDP sockets on an EventLoop. It only moves
// bytes and time; every protocol decision stays in the endpoint.
//
//   datagram arrives  -> endpoint.handle_datagram(now, socket's local address, from, bytes)
//   after any input   -> send every endpoint.poll_transmit() through the socket it names
//   next_timeout()    -> one loop timer; when it fires, endpoint.handle_timeout(now)
//
// Code that calls the endpoint directly (a data-channel write, adding a remote candidate) calls
// wake() afterwards so the output it produced is sent and the timer re-armed.
//
//   auto loop = EventLoop::create();                   // OsResult<std::unique_ptr<EventLoop>>
//   EndpointDriver driver(**loop, endpoint);
//   auto local = driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
//   endpoint.start(*local);                            // whatever the endpoint's own API is
//   driver.wake();
//   (*loop)->run_until([&] { return endpoint.done(); }, (*loop)->now() + seconds(5));
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "core/ice/tcp_framing.h"

#include "core/common/transport.h"
#include "runtime/event_loop.h"
#include "runtime/stream_connections.h"
#include "runtime/udp_socket.h"

namespace cellrtc::runtime {

struct EndpointDriverConfig {
  // Largest datagram accepted whole; longer ones are counted as truncated and dropped. 64 KiB
  // covers any UDP payload; the buffer is allocated once per driver.
  size_t receive_buffer_bytes = 65536;
  // Datagrams read per socket per wakeup, so one busy socket cannot starve timers and others.
  // The socket is level-triggered: what is left is read on the next iteration.
  size_t max_datagrams_per_wakeup = 64;
  // Transmits sent per drain, against an endpoint that keeps producing output; the rest is
  // sent on the next loop iteration.
  size_t max_transmits_per_drain = 1024;
  size_t max_tcp_queued_bytes = 256 * 1024;
  size_t max_tcp_frame = 4096;
  // Plain byte streams the endpoint asks for (StreamCommand: TURN over TCP/TLS).
  StreamConnectionsConfig streams;
};

struct EndpointDriverCounters {
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t send_errors = 0;     // the kernel refused a send (full buffer, unreachable, ...)
  uint64_t unroutable = 0;      // no socket matched Transmit.from (or the protocol is not UDP)
  uint64_t receive_errors = 0;  // recvmsg failed with something other than "nothing waiting"
  uint64_t truncated = 0;       // datagrams longer than the receive buffer, dropped
  uint64_t timeouts = 0;        // handle_timeout calls
  uint64_t tcp_messages_received = 0;
  uint64_t tcp_messages_sent = 0;
  uint64_t tcp_closed = 0;  // ICE-TCP connections that failed or were closed by the peer
};

class EndpointDriver {
 public:
  // The loop and the endpoint must outlive the driver.
  EndpointDriver(EventLoop& loop, DatagramEndpoint& endpoint, EndpointDriverConfig config = {});
  ~EndpointDriver();
  EndpointDriver(const EndpointDriver&) = delete;
  EndpointDriver& operator=(const EndpointDriver&) = delete;

  // Binds a socket and starts reading it. Returns the bound address (with the real port when 0
  // was asked for): the address the endpoint must put in Transmit.from to use this socket, and
  // the `local` it is given for datagrams arriving here. A wildcard socket (0.0.0.0:p, [::]:p)
  // reports the wildcard as `local` (the driver does not read IP_PKTINFO) and sends any
  // Transmit whose from has its family and port; bind concrete addresses, one per host
  // candidate, where the endpoint needs to know which one a datagram came in on.
  OsResult<SocketAddress> add_socket(const SocketAddress& local,
                                     const UdpSocketOptions& options = {});
  // Takes an already bound socket.
  OsResult<SocketAddress> add_socket(UdpSocket socket);
  std::vector<SocketAddress> local_addresses() const;

  // ICE-TCP, active side (RFC 6544): opens a non-blocking connection to `remote` (a peer's
  // passive candidate). Transmits with protocol TCP from `local` (the active candidate's
  // address; port 9 in SDP, RFC 6544 section 4.5) to `remote` are written on it with RFC 4571
  // framing, queued while it connects (at most max_tcp_queued_bytes, beyond which they are
  // dropped as on a congested path); messages read from it go to
  // endpoint.handle_stream_message(now, local, remote, bytes). A connection that fails stays
  // closed (counted); the endpoint's consent checks notice.
  OsStatus add_tcp_connection(const SocketAddress& local, const SocketAddress& remote);
  size_t open_tcp_connections() const;
  // Plain streams the endpoint opened through StreamCommands (see stream_connections.h): the
  // driver executes every poll_stream_command() before sending datagrams. Then it answers every
  // poll_socket_request() (common/transport.h): a socket bound with add_socket on the request's
  // IP and port 0, given to endpoint.handle_socket_bound (nullopt when the bind failed, with
  // last_error() saying why); it stays open while the driver lives.
  const StreamConnections& streams() const { return streams_; }

  // Sends whatever the endpoint has queued and re-arms the timer at its next_timeout(). Call
  // after touching the endpoint from outside the driver, on the loop thread.
  void wake();

  const EndpointDriverCounters& counters() const { return counters_; }
  // The error of the most recent failed send or receive, for diagnostics.
  const std::optional<OsError>& last_error() const { return last_error_; }

 private:
  void on_readable(size_t socket_index);
  void on_timer();
  void drain_transmits();
  void arm_timer();
  void send(const Transmit& t);
  UdpSocket* route(const Transmit& t);
  struct TcpLink;
  void on_tcp_ready(TcpLink& link, Readiness ready);
  void flush_tcp(TcpLink& link);
  void close_tcp(TcpLink& link);
  bool send_tcp(const Transmit& t);

  EventLoop& loop_;
  DatagramEndpoint& endpoint_;
  EndpointDriverConfig config_;
  // Sockets are never removed while the driver lives, so an index stays valid in callbacks; a
  // deque, so a socket added while another is being read (a socket request answered in a
  // drain) leaves the reader's reference valid.
  std::deque<UdpSocket> sockets_;
  // ICE-TCP connections; never removed while the driver lives (a closed one keeps its slot).
  std::vector<std::unique_ptr<TcpLink>> tcp_links_;
  std::vector<uint8_t> receive_buffer_;
  std::optional<TimerId> timer_;
  std::optional<Instant> timer_at_;
  std::optional<TimerId> continue_drain_;  // set when a drain stopped at its bound
  EndpointDriverCounters counters_;
  std::optional<OsError> last_error_;
  StreamConnections streams_;  // last: its destructor still unwatches through loop_
};

}  // namespace cellrtc::runtime
