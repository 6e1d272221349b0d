#include "server/media_plane.h"

#include <array>
#include <boost/asio/ip/v6_only.hpp>

namespace cellrtc::server {

namespace asio = boost::asio;
using udp = asio::ip::udp;

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
    log_.debug("relay transmit on a transport this server has no socket for");
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

void MediaPlane::shutdown() {
  if (stopped_) return;
  relay_.close_all(clock_.now());
  pump();
  stopped_ = true;
  timer_.cancel();
  boost::system::error_code ec;
  for (auto& socket : sockets_)
    socket->socket.close(ec);
}

}  // namespace cellrtc::server
