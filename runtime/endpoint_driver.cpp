#include "runtime/endpoint_driver.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sockaddr.h"
#include "runtime/tcp_connect.h"

namespace cellrtc::runtime {

EndpointDriver::EndpointDriver(EventLoop& loop, DatagramEndpoint& endpoint,
                               EndpointDriverConfig config)
    : loop_(loop),
      endpoint_(endpoint),
      config_(config),
      receive_buffer_(config.receive_buffer_bytes),
      streams_(loop, endpoint, config.streams, [this] {
        drain_transmits();
        arm_timer();
      }) {}

struct EndpointDriver::TcpLink {
  TcpLink(SocketAddress l, SocketAddress r, size_t max_frame)
      : local(l), remote(r), framer(ice::Rfc4571FramerConfig{max_frame, 64}) {}
  SocketAddress local;
  SocketAddress remote;
  int fd = -1;
  bool connected = false;
  ice::Rfc4571Framer framer;
  std::deque<Bytes> writes;  // framed, the first maybe partly written
  size_t written = 0;        // bytes of writes.front() already sent
  size_t queued_bytes = 0;
};

EndpointDriver::~EndpointDriver() {
  for (const auto& s : sockets_)
    loop_.unwatch(s.fd());
  for (auto& link : tcp_links_) {
    if (link->fd >= 0) {
      loop_.unwatch(link->fd);
      ::close(link->fd);
    }
  }
  if (timer_) loop_.cancel_timer(*timer_);
  if (continue_drain_) loop_.cancel_timer(*continue_drain_);
}

OsResult<SocketAddress> EndpointDriver::add_socket(const SocketAddress& local,
                                                   const UdpSocketOptions& options) {
  auto socket = UdpSocket::bind(local, options);
  if (!socket) return socket.error();
  return add_socket(std::move(*socket));
}

OsResult<SocketAddress> EndpointDriver::add_socket(UdpSocket socket) {
  size_t index = sockets_.size();
  SocketAddress local = socket.local_address();
  auto watched = loop_.watch(socket.fd(), Interest{}, [this, index](Readiness) {
    // Errors show up as a failed read, so readable and error both mean "read".
    on_readable(index);
  });
  if (!watched) return watched.error();
  sockets_.push_back(std::move(socket));
  return local;
}

std::vector<SocketAddress> EndpointDriver::local_addresses() const {
  std::vector<SocketAddress> out;
  out.reserve(sockets_.size());
  for (const auto& s : sockets_)
    out.push_back(s.local_address());
  return out;
}

void EndpointDriver::wake() {
  drain_transmits();
  arm_timer();
}

void EndpointDriver::on_readable(size_t socket_index) {
  UdpSocket& socket = sockets_[socket_index];
  for (size_t i = 0; i < config_.max_datagrams_per_wakeup; ++i) {
    auto received = socket.receive(receive_buffer_);
    if (!received) {
      ++counters_.receive_errors;
      last_error_ = received.error();
      break;
    }
    if (!received->has_value()) break;  // drained
    const ReceivedDatagram& d = **received;
    if (d.truncated) {
      // A cut datagram would only fail the endpoint's parser in a confusing way.
      ++counters_.truncated;
      continue;
    }
    ++counters_.datagrams_received;
    counters_.bytes_received += d.size;
    endpoint_.handle_datagram(loop_.now(), socket.local_address(), d.from,
                              ByteView(receive_buffer_.data(), d.size));
    // Answer each input before reading the next, as the sans-IO contract asks: a response
    // (a STUN binding success, an SCTP SACK) leaves as soon as it exists.
    drain_transmits();
  }
  arm_timer();
}

void EndpointDriver::on_timer() {
  timer_.reset();
  timer_at_.reset();
  ++counters_.timeouts;
  endpoint_.handle_timeout(loop_.now());
  drain_transmits();
  arm_timer();
}

void EndpointDriver::drain_transmits() {
  for (size_t i = 0; i < config_.max_transmits_per_drain; ++i) {
    auto c = endpoint_.poll_stream_command();
    if (!c) break;
    streams_.execute(std::move(*c));
  }
  // New UDP ports the endpoint asks for (TURN's 437 over UDP): bound on the IP asked for, read
  // like every other socket; the answer may bring output, sent below.
  for (size_t i = 0; i < config_.max_transmits_per_drain; ++i) {
    auto r = endpoint_.poll_socket_request();
    if (!r) break;
    auto bound = add_socket(SocketAddress(r->like.ip(), 0));
    std::optional<SocketAddress> answer;
    if (bound) {
      answer = *bound;
    } else {
      last_error_ = bound.error();
    }
    endpoint_.handle_socket_bound(loop_.now(), r->id, answer);
  }
  for (size_t i = 0; i < config_.max_transmits_per_drain; ++i) {
    auto t = endpoint_.poll_transmit();
    if (!t) return;
    send(*t);
  }
  // Bound reached with output possibly left: continue on the next iteration, after other
  // sockets and timers had their turn.
  if (!continue_drain_) {
    continue_drain_ = loop_.add_timer(Instant{}, [this] {
      continue_drain_.reset();
      wake();
    });
  }
}

void EndpointDriver::arm_timer() {
  std::optional<Instant> next = endpoint_.next_timeout();
  if (next == timer_at_ && timer_) return;
  if (timer_) loop_.cancel_timer(*timer_);
  timer_.reset();
  timer_at_ = next;
  if (next) timer_ = loop_.add_timer(*next, [this] { on_timer(); });
}

OsStatus EndpointDriver::add_tcp_connection(const SocketAddress& local,
                                            const SocketAddress& remote) {
  for (const auto& link : tcp_links_)
    if (link->fd >= 0 && link->local == local && link->remote == remote)
      return OsError::invalid_argument("add_tcp_connection: already connected");
  auto link = std::make_unique<TcpLink>(local, remote, config_.max_tcp_frame);
  auto started = start_tcp_connect(remote);
  if (!started) return started.error();
  int fd = *started;
  link->fd = fd;
  TcpLink* raw = link.get();
  auto watched = loop_.watch(fd, Interest{true, true},
                             [this, raw](Readiness ready) { on_tcp_ready(*raw, ready); });
  if (!watched) {
    ::close(fd);
    return watched.error();
  }
  tcp_links_.push_back(std::move(link));
  return {};
}

size_t EndpointDriver::open_tcp_connections() const {
  size_t n = 0;
  for (const auto& link : tcp_links_)
    n += link->fd >= 0;
  return n;
}

void EndpointDriver::on_tcp_ready(TcpLink& link, Readiness ready) {
  if (link.fd < 0) return;
  if (!link.connected && (ready.writable || ready.error)) {
    if (auto made = finish_tcp_connect(link.fd); !made) {
      last_error_ = made.error();
      close_tcp(link);
      return;
    }
    link.connected = true;
  }
  if (ready.readable || ready.error) {
    // Bounded per wakeup like the UDP sockets; level-triggered, the rest comes next time.
    for (size_t i = 0; i < config_.max_datagrams_per_wakeup && link.fd >= 0; ++i) {
      ssize_t n = ::recv(link.fd, receive_buffer_.data(), receive_buffer_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        if (n < 0) last_error_ = OsError::from_errno("recv");
        close_tcp(link);
        break;
      }
      counters_.bytes_received += static_cast<size_t>(n);
      if (!link.framer.push(ByteView(receive_buffer_.data(), static_cast<size_t>(n)))) {
        close_tcp(link);
        break;
      }
      while (auto message = link.framer.next()) {
        ++counters_.tcp_messages_received;
        endpoint_.handle_stream_message(loop_.now(), link.local, link.remote, *message);
      }
    }
  }
  if (link.fd >= 0 && link.connected) flush_tcp(link);
  drain_transmits();
  arm_timer();
}

bool EndpointDriver::send_tcp(const Transmit& t) {
  TcpLink* link = nullptr;
  for (auto& l : tcp_links_)
    if (l->fd >= 0 && l->local == t.from && l->remote == t.to) link = l.get();
  if (!link) return false;
  auto framed = ice::frame_rfc4571(t.data);
  if (!framed || link->queued_bytes + framed->size() > config_.max_tcp_queued_bytes) {
    ++counters_.send_errors;
    return true;
  }
  link->queued_bytes += framed->size();
  link->writes.push_back(std::move(*framed));
  ++counters_.tcp_messages_sent;
  counters_.bytes_sent += t.data.size();
  if (link->connected) flush_tcp(*link);
  return true;
}

void EndpointDriver::flush_tcp(TcpLink& link) {
  if (auto sent = send_queued(link.fd, link.writes, link.written, link.queued_bytes); !sent) {
    last_error_ = sent.error();
    close_tcp(link);
    return;
  }
  // Ask for writability only while something waits (level-triggered: it would spin).
  (void)loop_.modify(link.fd, Interest{true, !link.connected || !link.writes.empty()});
}

void EndpointDriver::close_tcp(TcpLink& link) {
  if (link.fd < 0) return;
  loop_.unwatch(link.fd);
  ::close(link.fd);
  link.fd = -1;
  link.writes.clear();
  link.queued_bytes = 0;
  ++counters_.tcp_closed;
}

UdpSocket* EndpointDriver::route(const Transmit& t) {
  if (t.protocol != TransportProtocol::udp) return nullptr;
  UdpSocket* wildcard = nullptr;
  for (auto& s : sockets_) {
    const SocketAddress& local = s.local_address();
    if (local == t.from) return &s;
    // A socket bound to 0.0.0.0:p or [::]:p sends from any local address with port p.
    if (!wildcard && local.ip().is_unspecified() && local.family() == t.from.family() &&
        local.port() == t.from.port())
      wildcard = &s;
  }
  return wildcard;
}

void EndpointDriver::send(const Transmit& t) {
  if (t.protocol != TransportProtocol::udp && send_tcp(t)) return;
  UdpSocket* socket = route(t);
  if (!socket) {
    ++counters_.unroutable;
    return;
  }
  auto sent = socket->send_to(t.to, t.data);
  if (!sent) {
    // UDP may lose any datagram and every protocol above copes with loss, so a refused send
    // (even a full buffer) is dropped and counted rather than queued.
    ++counters_.send_errors;
    last_error_ = sent.error();
    return;
  }
  ++counters_.datagrams_sent;
  counters_.bytes_sent += t.data.size();
}

}  // namespace cellrtc::runtime
