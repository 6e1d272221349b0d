#pragma once

// The relay's media plane on real sockets: one UDP port bound on each configured address,
// datagrams read with Asio and handed to the relay, and after every input the relay drained:
// its transmits sent from the socket bound to Transmit::from, its events passed on, its one timer
// re-armed to next_timeout(). Everything runs on the io_context's one thread.
//
// ICE-TCP (RFC 6544): passive TCP connections, accepted on a dedicated port or handed over by
// the HTTP front end when it shares its port. Each connection's bytes are cut by RFC 4571
// framing and every message goes to the relay with the connection's address pair; the relay's
// TCP transmits leave on the connection whose pair they name, framed. Bounded: connections per
// remote address and in all, frame length, bytes queued for writing per connection, and a
// connection that sends no Binding request a session accepts within kIceTcpFirstStunTimeout
// (or nothing at all for kIceTcpIdleTimeout) is closed.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "runtime/clock.h"
#include "server/log.h"
#include "server/relay.h"

namespace cellrtc::server {

SocketAddress to_socket_address(const boost::asio::ip::udp::endpoint& endpoint);
SocketAddress to_socket_address(const boost::asio::ip::tcp::endpoint& endpoint);
boost::asio::ip::udp::endpoint to_udp_endpoint(const SocketAddress& address);
boost::asio::ip::address to_asio_address(const IpAddress& ip);

constexpr Duration kIceTcpFirstStunTimeout = seconds(10);
constexpr Duration kIceTcpIdleTimeout = seconds(60);  // consent checks come every ~5 s
constexpr size_t kIceTcpMaxFrame = 4096;              // STUN and DTLS records stay near the MTU
constexpr size_t kIceTcpMaxQueuedBytes = 256 * 1024;  // written but not yet taken by the kernel

struct IceTcpLimits {
  size_t max_per_address = 8;
  size_t max_connections = 1024;
};

class MediaPlane {
 public:
  using EventSink = std::function<void(RelayEvent)>;

  MediaPlane(boost::asio::io_context& io, Relay& relay, const runtime::MonotonicClock& clock,
             Logger& log, EventSink on_event);
  ~MediaPlane();
  MediaPlane(const MediaPlane&) = delete;
  MediaPlane& operator=(const MediaPlane&) = delete;

  // Binds `port` on every address (IPv6 sockets are v6-only, so each family has its own) and
  // registers each with the relay. Port 0: the first socket picks a free port and the others
  // take the same one. Returns the bound addresses, or what failed.
  Result<std::vector<SocketAddress>, std::string> bind(const std::vector<std::string>& addresses,
                                                       uint16_t port);

  // ICE-TCP on a dedicated port: binds `port` on every address (TCP, listening) and registers
  // each with the relay as a passive candidate. Returns the bound addresses.
  Result<std::vector<SocketAddress>, std::string> listen_ice_tcp(
      const std::vector<std::string>& addresses, uint16_t port, IceTcpLimits limits);
  // ICE-TCP on the HTTP(S) port: registers (each UDP address, `port`) as passive candidates;
  // the front end hands over connections whose first bytes are framed STUN (adopt_ice_tcp).
  Status share_ice_tcp_port(uint16_t port, IceTcpLimits limits);
  // A connection whose first bytes (still unread) are RFC 4571-framed STUN; closed when a
  // limit is reached.
  void adopt_ice_tcp(boost::asio::ip::tcp::socket socket);

  // Where the relay's answers to deferred HTTP requests go (the HTTP front end).
  using ResponseSink = std::function<void(DeferredResponse)>;
  void set_response_sink(ResponseSink sink) { on_response_ = std::move(sink); }

  // After every input to the relay (an HTTP request, a datagram, a timeout): send its
  // transmits, pass on its events and deferred responses, re-arm the timer.
  void pump();

  // Shutdown: the relay closes every session, its last transmits are sent, the sockets close.
  void shutdown();

  uint64_t datagrams_in() const { return datagrams_in_; }
  uint64_t datagrams_out() const { return datagrams_out_; }
  uint64_t send_errors() const { return send_errors_; }
  size_t ice_tcp_connections() const { return tcp_connections_.size(); }
  uint64_t ice_tcp_refused() const { return tcp_refused_; }

 private:
  struct Socket;
  struct TcpListener;
  struct TcpConnection;
  using TcpKey = std::pair<SocketAddress, SocketAddress>;  // (local candidate, remote)
  void receive(Socket& socket);
  void accept(TcpListener& listener);
  void start_connection(boost::asio::ip::tcp::socket socket, const SocketAddress& local);
  void read(const std::shared_ptr<TcpConnection>& c);
  void write(const std::shared_ptr<TcpConnection>& c);
  void arm_idle(const std::shared_ptr<TcpConnection>& c, Duration wait);
  void close(const std::shared_ptr<TcpConnection>& c, const char* why);
  void send_tcp(const Transmit& transmit);
  void send(const Transmit& transmit);
  void arm_timer();

  boost::asio::io_context& io_;
  Relay& relay_;
  const runtime::MonotonicClock& clock_;
  Logger& log_;
  EventSink on_event_;
  ResponseSink on_response_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::vector<std::unique_ptr<TcpListener>> tcp_listeners_;
  std::vector<SocketAddress> shared_tcp_;  // candidates on the HTTP(S) port
  IceTcpLimits tcp_limits_;
  std::map<TcpKey, std::shared_ptr<TcpConnection>> tcp_connections_;
  std::map<IpAddress, size_t> tcp_per_address_;
  uint64_t tcp_refused_ = 0;
  boost::asio::steady_timer timer_;
  std::optional<Instant> armed_;
  bool stopped_ = false;
  uint64_t datagrams_in_ = 0;
  uint64_t datagrams_out_ = 0;
  uint64_t send_errors_ = 0;
};

}  // namespace cellrtc::server
