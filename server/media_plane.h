#pragma once

// The relay's media plane on real sockets: one UDP port bound on each configured address,
// datagrams read with Asio and handed to the relay, and after every input the relay drained:
// its transmits sent from the socket bound to Transmit::from, its events passed on, its one timer
// re-armed to next_timeout(). Everything runs on the io_context's one thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
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
boost::asio::ip::udp::endpoint to_udp_endpoint(const SocketAddress& address);
boost::asio::ip::address to_asio_address(const IpAddress& ip);

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

  // After every input to the relay (an HTTP request, a datagram, a timeout): send its
  // transmits, pass on its events, re-arm the timer.
  void pump();

  // Shutdown: the relay closes every session, its last transmits are sent, the sockets close.
  void shutdown();

  uint64_t datagrams_in() const { return datagrams_in_; }
  uint64_t datagrams_out() const { return datagrams_out_; }
  uint64_t send_errors() const { return send_errors_; }

 private:
  struct Socket;
  void receive(Socket& socket);
  void send(const Transmit& transmit);
  void arm_timer();

  boost::asio::io_context& io_;
  Relay& relay_;
  const runtime::MonotonicClock& clock_;
  Logger& log_;
  EventSink on_event_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  boost::asio::steady_timer timer_;
  std::optional<Instant> armed_;
  bool stopped_ = false;
  uint64_t datagrams_in_ = 0;
  uint64_t datagrams_out_ = 0;
  uint64_t send_errors_ = 0;
};

}  // namespace cellrtc::server
