#include "runtime/endpoint_driver.h"

#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "support/queued_endpoint.h"

namespace cellrtc::runtime {
namespace {

constexpr Duration kTestDeadline = seconds(5);

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop) << loop.error().message();
  return std::move(*loop);
}

bool can_bind_v6_loopback() {
  return UdpSocket::bind(SocketAddress(IpAddress::loopback_v6(), 0)).ok();
}

// Answers every datagram with "pong:<payload>" from the socket it arrived on.
class Echo final : public cellrtc::testing::QueuedEndpoint {
 public:
  void handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    std::string reply = "pong:" + std::string(as_chars(data));
    out.push_back(Transmit{local, from, Bytes(reply.begin(), reply.end())});
  }
};

// Sends "ping <n>" and the next one only when the matching pong arrives, up to `count`.
class Pinger final : public DatagramEndpoint {
 public:
  Pinger(SocketAddress peer, int count) : peer_(peer), count_(count) {}

  void start(const SocketAddress& local) {
    local_ = local;
    queue_next();
  }
  void handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    EXPECT_EQ(local, local_);
    EXPECT_EQ(from, peer_);
    if (as_chars(data) != "pong:ping " + std::to_string(sent_ - 1)) {
      ++unexpected_;
      return;
    }
    ++pongs_;
    queue_next();
  }
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override {
    auto t = std::move(out_);
    out_.reset();
    return t;
  }
  std::optional<Instant> next_timeout() const override { return std::nullopt; }

  int pongs() const { return pongs_; }
  int unexpected() const { return unexpected_; }
  bool done() const { return pongs_ == count_; }

 private:
  void queue_next() {
    if (sent_ == count_) return;
    std::string msg = "ping " + std::to_string(sent_++);
    out_ = Transmit{local_, peer_, Bytes(msg.begin(), msg.end())};
  }
  SocketAddress peer_;
  SocketAddress local_;
  int count_;
  int sent_ = 0;
  int pongs_ = 0;
  int unexpected_ = 0;
  std::optional<Transmit> out_;
};

void ping_pong_on(const IpAddress& loopback) {
  constexpr int kPings = 200;
  auto loop = make_loop();
  Echo echo;
  EndpointDriver echo_driver(*loop, echo);
  auto echo_address = echo_driver.add_socket(SocketAddress(loopback, 0));
  ASSERT_TRUE(echo_address) << echo_address.error().message();

  Pinger pinger(*echo_address, kPings);
  EndpointDriver ping_driver(*loop, pinger);
  auto ping_address = ping_driver.add_socket(SocketAddress(loopback, 0));
  ASSERT_TRUE(ping_address) << ping_address.error().message();

  pinger.start(*ping_address);
  ping_driver.wake();
  EXPECT_TRUE(loop->run_until([&] { return pinger.done(); }, loop->now() + kTestDeadline));

  EXPECT_EQ(pinger.pongs(), kPings);
  EXPECT_EQ(pinger.unexpected(), 0);
  const auto& p = ping_driver.counters();
  const auto& e = echo_driver.counters();
  EXPECT_EQ(p.datagrams_sent, uint64_t{kPings});
  EXPECT_EQ(p.datagrams_received, uint64_t{kPings});
  EXPECT_EQ(e.datagrams_received, uint64_t{kPings});
  EXPECT_EQ(e.datagrams_sent, uint64_t{kPings});
  EXPECT_EQ(p.send_errors + p.unroutable + p.receive_errors + p.truncated, 0u);
  EXPECT_EQ(e.send_errors + e.unroutable + e.receive_errors + e.truncated, 0u);
  EXPECT_EQ(e.bytes_received, p.bytes_sent);
}

TEST(EndpointDriver, PingPongsBetweenTwoDriversOnV4Loopback) {
  ping_pong_on(IpAddress::loopback_v4());
}

TEST(EndpointDriver, PingPongsBetweenTwoDriversOnV6Loopback) {
  if (!can_bind_v6_loopback()) GTEST_SKIP() << "::1 cannot be bound on this machine";
  ping_pong_on(IpAddress::loopback_v6());
}

// Sends one datagram per timeout, every `period`, `count` times: output driven by time alone.
class Ticker final : public DatagramEndpoint {
 public:
  Ticker(Instant start, Duration period, int count, SocketAddress peer)
      : next_(start + period), period_(period), count_(count), peer_(peer) {}
  void set_local(const SocketAddress& local) { local_ = local; }

  void handle_datagram(Instant, const SocketAddress&, const SocketAddress&, ByteView) override {}
  void handle_timeout(Instant now) override {
    EXPECT_GE(now, next_) << "handle_timeout before next_timeout()";
    fired_at_.push_back(now);
    std::string msg = "tick " + std::to_string(fired_at_.size());
    out_.push_back(Transmit{local_, peer_, Bytes(msg.begin(), msg.end())});
    next_ = now + period_;
  }
  std::optional<Transmit> poll_transmit() override {
    if (out_.empty()) return std::nullopt;
    Transmit t = std::move(out_.front());
    out_.pop_front();
    return t;
  }
  std::optional<Instant> next_timeout() const override {
    if (static_cast<int>(fired_at_.size()) >= count_) return std::nullopt;
    return next_;
  }
  const std::vector<Instant>& fired_at() const { return fired_at_; }

 private:
  Instant next_;
  Duration period_;
  int count_;
  SocketAddress peer_;
  SocketAddress local_;
  std::vector<Instant> fired_at_;
  std::deque<Transmit> out_;
};

// Records what arrives; sends nothing.
class Sink final : public DatagramEndpoint {
 public:
  void handle_datagram(Instant, const SocketAddress&, const SocketAddress&,
                       ByteView data) override {
    received.emplace_back(as_chars(data));
  }
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override { return std::nullopt; }
  std::optional<Instant> next_timeout() const override { return std::nullopt; }
  std::vector<std::string> received;
};

TEST(EndpointDriver, TimeoutsDriveTheEndpoint) {
  constexpr int kTicks = 5;
  constexpr Duration kPeriod = milliseconds(10);
  auto loop = make_loop();
  Sink sink;
  EndpointDriver sink_driver(*loop, sink);
  auto sink_address = sink_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sink_address);

  Instant start = loop->now();
  Ticker ticker(start, kPeriod, kTicks, *sink_address);
  EndpointDriver ticker_driver(*loop, ticker);
  auto ticker_address = ticker_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(ticker_address);
  ticker.set_local(*ticker_address);
  ticker_driver.wake();  // arms the first timeout

  EXPECT_TRUE(
      loop->run_until([&] { return sink.received.size() == kTicks; }, loop->now() + kTestDeadline));
  ASSERT_EQ(ticker.fired_at().size(), size_t{kTicks});
  for (size_t i = 1; i < ticker.fired_at().size(); ++i)
    EXPECT_GE(ticker.fired_at()[i] - ticker.fired_at()[i - 1], kPeriod);
  EXPECT_EQ(ticker_driver.counters().timeouts, uint64_t{kTicks});
  EXPECT_EQ(sink.received.front(), "tick 1");
  EXPECT_EQ(sink.received.back(), "tick 5");

  // No further timeouts once the endpoint has no deadline.
  EXPECT_TRUE(loop->run_for(milliseconds(30)));
  EXPECT_EQ(ticker_driver.counters().timeouts, uint64_t{kTicks});
}

// An endpoint whose output the test queues directly, as an application write would.
class Outbox final : public cellrtc::testing::QueuedEndpoint {
 public:
  void handle_datagram(Instant, const SocketAddress&, const SocketAddress&, ByteView) override {}
};

TEST(EndpointDriver, WakeSendsWhatWasQueuedAndCountsUnroutableTransmits) {
  auto loop = make_loop();
  Sink sink;
  EndpointDriver sink_driver(*loop, sink);
  auto sink_address = sink_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sink_address);

  Outbox outbox;
  EndpointDriver driver(*loop, outbox);
  auto local = driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(local);
  EXPECT_EQ(driver.local_addresses(), std::vector<SocketAddress>{*local});

  auto text = [](const char* s) { return Bytes(s, s + std::char_traits<char>::length(s)); };
  outbox.out.push_back(Transmit{*local, *sink_address, text("one")});
  // No socket is bound at this address: dropped and counted, never sent elsewhere.
  outbox.out.push_back(
      Transmit{SocketAddress(IpAddress::loopback_v4(), 1), *sink_address, text("lost")});
  outbox.out.push_back(Transmit{*local, *sink_address, text("tcp"), TransportProtocol::tcp});
  outbox.out.push_back(Transmit{*local, *sink_address, text("two")});
  driver.wake();
  EXPECT_TRUE(outbox.out.empty());

  EXPECT_TRUE(
      loop->run_until([&] { return sink.received.size() == 2; }, loop->now() + kTestDeadline));
  EXPECT_EQ(sink.received, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(driver.counters().datagrams_sent, 2u);
  EXPECT_EQ(driver.counters().unroutable, 2u);
}

TEST(EndpointDriver, WildcardSocketSendsForItsPort) {
  auto loop = make_loop();
  Sink sink;
  EndpointDriver sink_driver(*loop, sink);
  auto sink_address = sink_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sink_address);

  Outbox outbox;
  EndpointDriver driver(*loop, outbox);
  auto wildcard = driver.add_socket(SocketAddress(IpAddress(), 0));
  ASSERT_TRUE(wildcard) << wildcard.error().message();
  // The endpoint names the concrete local address it believes it uses; the wildcard socket
  // bound to that port carries it.
  SocketAddress from(IpAddress::loopback_v4(), wildcard->port());
  outbox.out.push_back(Transmit{from, *sink_address, Bytes{'w'}});
  driver.wake();
  EXPECT_TRUE(
      loop->run_until([&] { return sink.received.size() == 1; }, loop->now() + kTestDeadline));
  EXPECT_EQ(driver.counters().unroutable, 0u);
}

TEST(EndpointDriver, BoundsTheDatagramsReadPerWakeup) {
  constexpr int kBurst = 50;
  auto loop = make_loop();
  Sink sink;
  EndpointDriverConfig config;
  config.max_datagrams_per_wakeup = 4;
  EndpointDriver sink_driver(*loop, sink, config);
  auto sink_address = sink_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sink_address);

  auto sender = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sender);
  for (int i = 0; i < kBurst; ++i)
    ASSERT_TRUE(sender->send_to(*sink_address, as_bytes(std::to_string(i))));

  // Level-triggered readiness brings the driver back until the socket is empty.
  size_t most_per_iteration = 0;
  Instant deadline = loop->now() + kTestDeadline;
  while (sink.received.size() < kBurst && loop->now() < deadline) {
    size_t before = sink.received.size();
    loop->run_once(deadline);
    most_per_iteration = std::max(most_per_iteration, sink.received.size() - before);
  }
  ASSERT_EQ(sink.received.size(), size_t{kBurst});
  EXPECT_LE(most_per_iteration, 4u);
  for (int i = 0; i < kBurst; ++i)
    EXPECT_EQ(sink.received[i], std::to_string(i));
}

// Asks for a new UDP port when a datagram arrives on its first socket (as TURN does after a
// 437, RFC 8656 section 7.4), then pings the sender from the new port.
class PortChanger final : public cellrtc::testing::QueuedEndpoint {
 public:
  void handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (!first) {
      first = local;
      peer = from;
      requests.push_back(SocketRequest{7, local});
      return;
    }
    replies.emplace_back(local, std::string(as_chars(data)));
  }
  std::optional<SocketRequest> poll_socket_request() override {
    if (requests.empty()) return std::nullopt;
    SocketRequest r = requests.front();
    requests.pop_front();
    return r;
  }
  void handle_socket_bound(Instant, uint32_t id,
                           const std::optional<SocketAddress>& bound) override {
    EXPECT_EQ(id, 7u);
    second = bound;
    if (bound) out.push_back(Transmit{*bound, *peer, Bytes{'h', 'i'}});
  }

  std::optional<SocketAddress> first, second, peer;
  std::deque<SocketRequest> requests;
  std::vector<std::pair<SocketAddress, std::string>> replies;
};

TEST(EndpointDriver, BindsANewPortAnEndpointAsksForAndReadsIt) {
  auto loop = make_loop();
  PortChanger changer;
  EndpointDriver driver(*loop, changer);
  auto first = driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(first);
  auto sender = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(sender);
  // The request is answered inside the read of the first socket: the new socket is added
  // while that one is being read.
  ASSERT_TRUE(sender->send_to(*first, as_bytes("go")));
  ASSERT_TRUE(
      loop->run_until([&] { return changer.second.has_value(); }, loop->now() + kTestDeadline));
  EXPECT_EQ(changer.second->ip(), first->ip());
  EXPECT_NE(changer.second->port(), first->port());
  EXPECT_NE(changer.second->port(), 0);
  EXPECT_EQ(driver.local_addresses().size(), 2u);
  // The endpoint's first transmit went out of the new port to the first datagram's sender; a
  // datagram to the new port comes in with it as `local`.
  std::array<uint8_t, 16> buffer{};
  ASSERT_TRUE(loop->run_until(
      [&] {
        auto got = sender->receive(buffer);
        return got && got->has_value() && (*got)->from == *changer.second;
      },
      loop->now() + kTestDeadline));
  ASSERT_TRUE(sender->send_to(*changer.second, as_bytes("back")));
  ASSERT_TRUE(
      loop->run_until([&] { return !changer.replies.empty(); }, loop->now() + kTestDeadline));
  EXPECT_EQ(changer.replies[0].first, *changer.second);
  EXPECT_EQ(changer.replies[0].second, "back");
  EXPECT_EQ(driver.counters().unroutable, 0u);
  EXPECT_EQ(driver.counters().datagrams_sent, 1u);
}

}  // namespace
}  // namespace cellrtc::runtime
