#include "server/media_plane.h"

#include <array>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "core/ice/tcp_framing.h"

namespace cellrtc::server {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;

asio::ip::address to_asio_address(const IpAddress& ip) {
  if (ip.is_v4()) return asio::ip::address_v4(ip.v4_value());
  asio::ip::address_v6::bytes_type bytes;
  std::copy(ip.data(), ip.data() + 16, bytes.begin());
  return asio::ip::address_v6(bytes);
}

SocketAddress to_socket_address(const udp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v4()) return {IpAddress::v4(address.to_v4().to_uint()), endpoint.port()};
  auto bytes = address.to_v6().to_bytes();
  std::array<uint8_t, 16> raw;
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  return {IpAddress::v6(raw), endpoint.port()};
}

SocketAddress to_socket_address(const tcp::endpoint& endpoint) {
  return to_socket_address(udp::endpoint(endpoint.address(), endpoint.port()));
}

udp::endpoint to_udp_endpoint(const SocketAddress& address) {
  return {to_asio_address(address.ip()), address.port()};
}

// 64 KiB: a UDP datagram can be no larger, so nothing is cut short.
struct MediaPlane::Socket {
  explicit Socket(asio::io_context& io) : socket(io), buffer(65536) {}
  udp::socket socket;
  SocketAddress bound;
  std::vector<uint8_t> buffer;
  udp::endpoint sender;
};

struct MediaPlane::TcpListener {
  explicit TcpListener(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
  SocketAddress bound;
};

struct MediaPlane::TcpConnection {
  TcpConnection(tcp::socket s, const SocketAddress& local_candidate, const SocketAddress& peer)
      : socket(std::move(s)),
        timer(socket.get_executor()),
        local(local_candidate),
        remote(peer),
        framer(ice::Rfc4571FramerConfig{kIceTcpMaxFrame, 64}),
        buffer(4096) {}
  tcp::socket socket;
  asio::steady_timer timer;
  SocketAddress local;
  SocketAddress remote;
  ice::Rfc4571Framer framer;
  std::vector<uint8_t> buffer;
  std::deque<Bytes> writes;
  size_t queued_bytes = 0;
  bool writing = false;
  bool attached = false;  // a Binding request reached a session
  bool closed = false;
  Instant last_input;
};

MediaPlane::MediaPlane(asio::io_context& io, Relay& relay, const runtime::MonotonicClock& clock,
                       Logger& log, EventSink on_event)
    : io_(io),
      relay_(relay),
      clock_(clock),
      log_(log),
      on_event_(std::move(on_event)),
      timer_(io) {}

MediaPlane::~MediaPlane() = default;

Result<std::vector<SocketAddress>, std::string> MediaPlane::bind(
    const std::vector<std::string>& addresses, uint16_t port) {
  std::vector<SocketAddress> bound;
  for (const auto& text : addresses) {
    auto ip = IpAddress::parse(text);
    if (!ip) return std::string("relay.udp_addresses: '" + text + "' is not an IP address");
    auto socket = std::make_unique<Socket>(io_);
    boost::system::error_code ec;
    udp::endpoint endpoint(to_asio_address(*ip), port);
    socket->socket.open(endpoint.protocol(), ec);
    if (!ec && ip->is_v6()) socket->socket.set_option(asio::ip::v6_only(true), ec);
    if (!ec) socket->socket.bind(endpoint, ec);
    if (!ec) socket->socket.non_blocking(true, ec);
    if (ec) {
      return std::string("cannot bind UDP " + SocketAddress(*ip, port).to_string() + ": " +
                         ec.message());
    }
    socket->bound = to_socket_address(socket->socket.local_endpoint(ec));
    if (port == 0) port = socket->bound.port();  // the other families take the same port
    if (auto s = relay_.add_media_socket(clock_.now(), socket->bound); !s) {
      return std::string("the relay refused UDP " + socket->bound.to_string() + ": " +
                         s.error().reason);
    }
    bound.push_back(socket->bound);
    sockets_.push_back(std::move(socket));
  }
  for (auto& socket : sockets_)
    receive(*socket);
  pump();
  return bound;
}

void MediaPlane::receive(Socket& socket) {
  socket.socket.async_receive_from(
      asio::buffer(socket.buffer), socket.sender,
      [this, &socket](const boost::system::error_code& ec, size_t size) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        if (!ec) {
          ++datagrams_in_;
          relay_.handle_datagram(clock_.now(), socket.bound, to_socket_address(socket.sender),
                                 ByteView(socket.buffer.data(), size));
          pump();
        } else {
          // An ICMP error surfacing on the socket (port unreachable) or a transient failure:
          // UDP carries on.
          log_.debug("udp receive error",
                     {{"socket", socket.bound.to_string()}, {"error", ec.message()}});
        }
        receive(socket);
      });
}

void MediaPlane::send(const Transmit& transmit) {
  if (transmit.protocol != TransportProtocol::udp) {
    send_tcp(transmit);
    return;
  }
  Socket* chosen = nullptr;
  for (auto& socket : sockets_) {
    if (socket->bound == transmit.from) chosen = socket.get();
  }
  if (!chosen) {
    // The relay names its bound address; a transmit from elsewhere goes out of the socket of
    // the same family rather than nowhere.
    for (auto& socket : sockets_) {
      if (!chosen && socket->bound.family() == transmit.to.family()) chosen = socket.get();
    }
  }
  if (!chosen) {
    ++send_errors_;
    return;
  }
  boost::system::error_code ec;
  // Non-blocking: when the kernel's buffer is full the datagram is dropped, as the network
  // would; nothing queues here.
  chosen->socket.send_to(asio::buffer(transmit.data), to_udp_endpoint(transmit.to), 0, ec);
  if (ec) {
    ++send_errors_;
    log_.debug("udp send error", {{"to", transmit.to.to_string()}, {"error", ec.message()}});
  } else {
    ++datagrams_out_;
  }
}

void MediaPlane::pump() {
  while (auto transmit = relay_.poll_transmit()) {
    if (!sockets_.empty()) send(*transmit);
  }
  while (auto event = relay_.poll_event()) {
    if (on_event_) on_event_(std::move(*event));
  }
  while (auto response = relay_.poll_deferred_response()) {
    if (on_response_) on_response_(std::move(*response));
  }
  if (!stopped_) arm_timer();
}

void MediaPlane::arm_timer() {
  auto next = relay_.next_timeout();
  if (next == armed_) return;
  armed_ = next;
  if (!next) {
    timer_.cancel();
    return;
  }
  auto wait = std::max(Duration(0), *next - clock_.now());
  timer_.expires_after(wait);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    armed_.reset();
    relay_.handle_timeout(clock_.now());
    pump();
  });
}

Result<std::vector<SocketAddress>, std::string> MediaPlane::listen_ice_tcp(
    const std::vector<std::string>& addresses, uint16_t port, IceTcpLimits limits) {
  tcp_limits_ = limits;
  std::vector<SocketAddress> bound;
  for (const auto& text : addresses) {
    auto ip = IpAddress::parse(text);
    if (!ip) return std::string("relay.udp_addresses: '" + text + "' is not an IP address");
    auto listener = std::make_unique<TcpListener>(io_);
    boost::system::error_code ec;
    tcp::endpoint endpoint(to_asio_address(*ip), port);
    listener->acceptor.open(endpoint.protocol(), ec);
    if (!ec && ip->is_v6()) listener->acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) listener->acceptor.bind(endpoint, ec);
    if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return std::string("cannot listen on ICE-TCP " + SocketAddress(*ip, port).to_string() + ": " +
                         ec.message());
    }
    listener->bound = to_socket_address(listener->acceptor.local_endpoint(ec));
    if (auto s = relay_.add_ice_tcp_listener(clock_.now(), listener->bound); !s) {
      return std::string("the relay refused ICE-TCP " + listener->bound.to_string() + ": " +
                         s.error().reason);
    }
    bound.push_back(listener->bound);
    tcp_listeners_.push_back(std::move(listener));
  }
  for (auto& listener : tcp_listeners_)
    accept(*listener);
  return bound;
}

Status MediaPlane::share_ice_tcp_port(uint16_t port, IceTcpLimits limits) {
  tcp_limits_ = limits;
  for (const auto& socket : sockets_) {
    SocketAddress candidate(socket->bound.ip(), port);
    if (auto s = relay_.add_ice_tcp_listener(clock_.now(), candidate); !s) return s;
    shared_tcp_.push_back(candidate);
  }
  return {};
}

void MediaPlane::accept(TcpListener& listener) {
  listener.acceptor.async_accept(
      [this, &listener](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        if (!ec) start_connection(std::move(socket), listener.bound);
        accept(listener);
      });
}

void MediaPlane::adopt_ice_tcp(tcp::socket socket) {
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  if (ec || stopped_) return;
  // The candidate of the connection's family on the shared port (the listener may be bound
  // to a wildcard address; the candidate names the media plane's address).
  SocketAddress here = to_socket_address(local);
  for (const auto& candidate : shared_tcp_) {
    if (candidate.family() == here.family()) {
      start_connection(std::move(socket), candidate);
      return;
    }
  }
  ++tcp_refused_;
}

void MediaPlane::start_connection(tcp::socket socket, const SocketAddress& local) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  if (ec) return;
  SocketAddress remote = to_socket_address(peer);
  size_t& from_address = tcp_per_address_[remote.ip()];
  if (tcp_connections_.size() >= tcp_limits_.max_connections ||
      from_address >= tcp_limits_.max_per_address ||
      tcp_connections_.count(TcpKey{local, remote})) {
    if (from_address == 0) tcp_per_address_.erase(remote.ip());
    ++tcp_refused_;
    log_.debug("ice-tcp connection refused: limit", {{"from", remote.to_string()}});
    socket.close(ec);
    return;
  }
  ++from_address;
  socket.set_option(tcp::no_delay(true), ec);  // frames are small and latency counts
  auto c = std::make_shared<TcpConnection>(std::move(socket), local, remote);
  c->last_input = clock_.now();
  tcp_connections_[TcpKey{local, remote}] = c;
  log_.debug("ice-tcp connection", {{"from", remote.to_string()}, {"to", local.to_string()}});
  arm_idle(c, kIceTcpFirstStunTimeout);
  read(c);
}

void MediaPlane::read(const std::shared_ptr<TcpConnection>& c) {
  c->socket.async_read_some(asio::buffer(c->buffer), [this, c](const boost::system::error_code& ec,
                                                               size_t size) {
    if (c->closed || stopped_) return;
    if (ec) {
      close(c, ec == asio::error::eof ? "closed by peer" : "read error");
      return;
    }
    c->last_input = clock_.now();
    if (auto s = c->framer.push(ByteView(c->buffer.data(), size)); !s) {
      close(c, s.error().reason);
      return;
    }
    while (auto message = c->framer.next()) {
      bool delivered = relay_.handle_stream_message(clock_.now(), c->local, c->remote, *message);
      // RFC 6544 section 7.2: the first message on an accepted connection is a check;
      // a connection whose first message no session takes is not ICE for us.
      if (!c->attached && !delivered) {
        pump();
        close(c, "first message is not a check for a session");
        return;
      }
      c->attached = true;
    }
    pump();
    if (!c->closed) read(c);
  });
}

void MediaPlane::arm_idle(const std::shared_ptr<TcpConnection>& c, Duration wait) {
  c->timer.expires_after(wait);
  c->timer.async_wait([this, c](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || c->closed || stopped_) return;
    if (!c->attached) {
      close(c, "no check before the first-check timeout");
      return;
    }
    Duration idle = clock_.now() - c->last_input;
    if (idle >= kIceTcpIdleTimeout) {
      close(c, "idle");
      return;
    }
    arm_idle(c, kIceTcpIdleTimeout - idle);
  });
}

void MediaPlane::send_tcp(const Transmit& transmit) {
  auto it = tcp_connections_.find(TcpKey{transmit.from, transmit.to});
  if (it == tcp_connections_.end()) {
    // RFC 6544: a passive candidate never opens connections; the peer's is gone.
    ++send_errors_;
    return;
  }
  auto c = it->second;
  auto framed = ice::frame_rfc4571(transmit.data);
  if (!framed || c->queued_bytes + framed->size() > kIceTcpMaxQueuedBytes) {
    // The connection cannot keep up: drop as a congested UDP path would (SCTP retransmits
    // what must arrive, the newest frame replaces a lost one).
    ++send_errors_;
    return;
  }
  c->queued_bytes += framed->size();
  c->writes.push_back(std::move(*framed));
  ++datagrams_out_;
  if (!c->writing) write(c);
}

void MediaPlane::write(const std::shared_ptr<TcpConnection>& c) {
  if (c->writes.empty() || c->closed) {
    c->writing = false;
    return;
  }
  c->writing = true;
  asio::async_write(c->socket, asio::buffer(c->writes.front()),
                    [this, c](const boost::system::error_code& ec, size_t) {
                      if (c->closed) return;
                      if (ec) {
                        close(c, "write error");
                        return;
                      }
                      c->queued_bytes -= c->writes.front().size();
                      c->writes.pop_front();
                      write(c);
                    });
}

void MediaPlane::close(const std::shared_ptr<TcpConnection>& c, const char* why) {
  if (c->closed) return;
  c->closed = true;
  log_.debug("ice-tcp connection closed", {{"from", c->remote.to_string()}, {"why", why}});
  boost::system::error_code ec;
  c->timer.cancel();
  c->socket.close(ec);
  tcp_connections_.erase(TcpKey{c->local, c->remote});
  if (auto it = tcp_per_address_.find(c->remote.ip()); it != tcp_per_address_.end()) {
    if (--it->second == 0) tcp_per_address_.erase(it);
  }
}

void MediaPlane::shutdown() {
  if (stopped_) return;
  relay_.close_all(clock_.now());
  pump();
  stopped_ = true;
  timer_.cancel();
  boost::system::error_code ec;
  for (auto& socket : sockets_)
    socket->socket.close(ec);
  for (auto& listener : tcp_listeners_)
    listener->acceptor.close(ec);
  // The relay's last transmits (close_notify) are queued on the connections: let them go,
  // then close.
  std::vector<std::shared_ptr<TcpConnection>> open;
  for (auto& [key, c] : tcp_connections_)
    open.push_back(c);
  for (auto& c : open) {
    c->timer.cancel();
    c->socket.shutdown(tcp::socket::shutdown_receive, ec);
  }
}

}  // namespace cellrtc::server
