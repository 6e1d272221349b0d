#include "runtime/endpoint_driver.h"

namespace cellrtc::runtime {

EndpointDriver::EndpointDriver(EventLoop& loop, DatagramEndpoint& endpoint,
                               EndpointDriverConfig config)
    : loop_(loop),
      endpoint_(endpoint),
      config_(config),
      receive_buffer_(config.receive_buffer_bytes) {}

EndpointDriver::~EndpointDriver() {
  for (const auto& s : sockets_)
    loop_.unwatch(s.fd());
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
