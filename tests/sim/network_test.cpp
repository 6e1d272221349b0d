// Whole-network properties: routing errors, endpoint driving, determinism and speed.
#include <chrono>

#include "sim_test_util.h"

namespace cellrtc::sim {
namespace {

using namespace std::chrono_literals;
using testing::addr;
using testing::at_s;
using testing::ip;

// A device on a 3G-like link behind a symmetric carrier NAT, talking to a public server.
struct CellularCall {
  explicit CellularCall(uint64_t seed) : net(seed) {
    LinkConfig up;  // UMTS uplink: slow, lossy, jittery, with a modem buffer
    up.rate_bps = 384'000;
    up.delay = 60ms;
    up.jitter = 40ms;
    up.loss = 0.01;
    up.burst_loss = {.p_good_to_bad = 0.002, .p_bad_to_good = 0.3};
    up.queue_limit_bytes = 32'000;
    up.reorder = 0.005;
    up.duplicate = 0.002;
    LinkConfig down = up;
    down.rate_bps = 2'000'000;
    NatConfig cgn;
    cgn.mapping = NatMapping::address_and_port_dependent;
    cgn.filtering = NatFiltering::address_and_port_dependent;
    LinkConfig core;
    core.delay = 20ms;
    nat = net.add_nat("cgnat", ip("203.0.113.1"), cgn, net.internet(), Attachment::symmetric(core))
              .value();
    dev = net.add_host("device", ip("10.64.0.2"), nat, Attachment{up, down}).value();
    srv = net.add_host("server", ip("198.51.100.1"), net.internet()).value();
    server.echo = true;
    dev_addr = net.bind(dev, 0, device).value();
    srv_addr = net.bind(srv, 3478, server).value();
  }

  Network net;
  NodeId nat = 0, dev = 0, srv = 0;
  Probe device, server;
  SocketAddress dev_addr, srv_addr;
};

uint64_t run_call(uint64_t seed) {
  CellularCall call(seed);
  call.device.send_periodically(call.dev_addr, call.srv_addr, 800, 20ms, Instant(), at_s(60));
  call.net.wake(call.device);
  EXPECT_TRUE(call.net.run_until(at_s(61)).ok());
  EXPECT_GT(call.device.received().size(), 2500u);
  return call.net.trace_digest();
}

TEST(Network, SameSeedSameTraceOtherSeedOtherTrace) {
  uint64_t a = run_call(42);
  uint64_t b = run_call(42);
  uint64_t c = run_call(43);
  std::printf("digests: %016llx %016llx %016llx\n", static_cast<unsigned long long>(a),
              static_cast<unsigned long long>(b), static_cast<unsigned long long>(c));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Network, RecordedTraceMatchesCounters) {
  CellularCall call(5);
  call.net.trace().set_recording(true);
  call.device.send_periodically(call.dev_addr, call.srv_addr, 800, 20ms, Instant(), at_s(10));
  call.net.wake(call.device);
  ASSERT_TRUE(call.net.run_until(at_s(11)).ok());
  uint64_t sent = 0, delivered = 0, dropped = 0;
  for (const TraceEvent& e : call.net.trace().events()) {
    sent += e.kind == TraceKind::sent;
    delivered += e.kind == TraceKind::delivered;
    dropped += e.kind == TraceKind::dropped;
  }
  EXPECT_EQ(sent, call.device.sent_count() + call.server.received_count());
  EXPECT_EQ(delivered, call.net.delivered());
  EXPECT_EQ(delivered, call.device.received_count() + call.server.received_count());
  const LinkCounters& up = call.net.uplink(call.dev).counters();
  EXPECT_EQ(up.packets_sent, call.device.sent_count());
  EXPECT_EQ(up.packets_sent + up.duplicated, up.packets_delivered + up.dropped_total());
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(call.net.trace().event_count(), call.net.trace().events().size());
  std::printf("first events:\n");
  for (size_t i = 0; i < 6 && i < call.net.trace().events().size(); ++i)
    std::printf("  %s\n", call.net.describe(call.net.trace().events()[i]).c_str());
}

// Two hours of a 20 ms periodic stream both ways through the cellular call, in virtual time.
TEST(Network, HoursOfTrafficRunInSeconds) {
  CellularCall call(1);
  call.device.keep_received = false;
  call.server.keep_received = false;
  Instant end = Instant() + std::chrono::hours(2);
  call.device.send_periodically(call.dev_addr, call.srv_addr, 200, 20ms, Instant(), end);
  call.net.wake(call.device);
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(call.net.run_until(end + 1s).ok());
  double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("7200 s simulated in %.3f s real: %.0fx real time; %llu events traced\n", real,
              7200 / real, static_cast<unsigned long long>(call.net.trace().event_count()));
  EXPECT_EQ(call.device.sent_count(), 360'000u);
  EXPECT_GT(call.device.received_count(), 340'000u);
}

TEST(Network, DropsWithoutARouteOrListener) {
  Network net(1);
  NodeId a = net.add_host("a", ip("198.51.100.1"), net.internet()).value();
  NodeId b = net.add_host("b", ip("198.51.100.2"), net.internet()).value();
  Probe pa;
  SocketAddress a_addr = net.bind(a, 1, pa).value();
  pa.send(a_addr, addr("192.0.2.99:1"), Bytes{1});
  pa.send(a_addr, SocketAddress(net.address(b), 9), Bytes{2});
  pa.send(addr("198.51.100.1:2"), SocketAddress(net.address(b), 9), Bytes{3});  // not bound
  Transmit tcp{a_addr, SocketAddress(net.address(b), 9), Bytes{4}, TransportProtocol::tcp};
  pa.send(tcp.from, tcp.to, tcp.data);
  net.wake(pa);
  ASSERT_TRUE(net.run_for(1s).ok());
  EXPECT_EQ(net.dropped(DropReason::no_route), 1u);
  EXPECT_EQ(net.dropped(DropReason::no_listener), 2u);
  EXPECT_EQ(net.dropped(DropReason::bad_source), 1u);
}

TEST(Network, SendsToItselfWithoutLinks) {
  Network net(1);
  LinkConfig dead;
  dead.loss = 1;
  NodeId a =
      net.add_host("a", ip("198.51.100.1"), net.internet(), Attachment::symmetric(dead)).value();
  Probe p1, p2;
  SocketAddress x = net.bind(a, 1, p1).value();
  SocketAddress y = net.bind(a, 2, p2).value();
  p1.send(x, y, Bytes{1});
  net.wake(p1);
  ASSERT_TRUE(net.run_for(1ms).ok());
  ASSERT_EQ(p2.received().size(), 1u);
  EXPECT_EQ(p2.received()[0].at, Instant());
}

TEST(Network, BindRules) {
  Network net(1);
  NodeId nat = net.add_nat("nat", ip("203.0.113.1"), {}, net.internet()).value();
  NodeId a = net.add_host("a", ip("10.0.0.2"), nat).value();
  NodeId b = net.add_host("b", ip("10.0.0.3"), nat).value();
  Probe p, q;
  EXPECT_FALSE(net.bind(nat, 1, p).ok());
  EXPECT_EQ(net.bind(a, 0, p).value().port(), 49152);
  EXPECT_EQ(net.bind(a, 0, p).value().port(), 49153);  // one endpoint, several ports
  EXPECT_EQ(net.bind(a, 1000, p).value(), addr("10.0.0.2:1000"));
  EXPECT_FALSE(net.bind(a, 1000, q).ok());
  EXPECT_FALSE(net.bind(b, 1000, p).ok());  // one endpoint lives on one host
  EXPECT_TRUE(net.unbind(a, 1000).ok());
  EXPECT_FALSE(net.unbind(a, 1000).ok());
  EXPECT_TRUE(net.bind(a, 1000, q).ok());

  // Addresses are unique per realm, not globally: another NAT may reuse 10.0.0.2.
  EXPECT_FALSE(net.add_host("dup", ip("10.0.0.2"), nat).ok());
  EXPECT_FALSE(net.add_host("dup", ip("203.0.113.1"), net.internet()).ok());
  NodeId other = net.add_nat("other", ip("203.0.113.2"), {}, net.internet()).value();
  EXPECT_TRUE(net.add_host("twin", ip("10.0.0.2"), other).ok());
  EXPECT_FALSE(net.add_host("child-of-host", ip("10.9.9.9"), a).ok());
}

TEST(Network, RunUntilPredicateStopsEarlyOrAtDeadline) {
  Network net(1);
  LinkConfig c;
  c.delay = 100ms;
  NodeId a =
      net.add_host("a", ip("198.51.100.1"), net.internet(), Attachment::symmetric(c)).value();
  NodeId b = net.add_host("b", ip("198.51.100.2"), net.internet()).value();
  Probe pa, pb;
  SocketAddress a_addr = net.bind(a, 1, pa).value();
  SocketAddress b_addr = net.bind(b, 1, pb).value();
  pa.send(a_addr, b_addr, Bytes{1});
  net.wake(pa);
  EXPECT_TRUE(net.run_until([&] { return !pb.received().empty(); }, at_s(10)));
  EXPECT_EQ(net.now(), Instant() + 100ms);
  EXPECT_FALSE(net.run_until([&] { return pb.received().size() > 1; }, at_s(5)));
  EXPECT_EQ(net.now(), at_s(5));
}

TEST(Network, ScheduledActionsRunInOrder) {
  Network net(1);
  std::vector<int> order;
  net.at(at_s(2), [&] { order.push_back(3); });
  net.at(at_s(1), [&] { order.push_back(1); });
  net.at(at_s(1), [&] { order.push_back(2); });  // ties go in insertion order
  ASSERT_TRUE(net.run_until(at_s(3)).ok());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// Two echoes over ideal links answer each other forever at one instant; the network notices
// instead of hanging.
TEST(Network, StuckRunIsReportedNotLooped) {
  Network net(1);
  NodeId a = net.add_host("a", ip("198.51.100.1"), net.internet()).value();
  NodeId b = net.add_host("b", ip("198.51.100.2"), net.internet()).value();
  Probe pa, pb;
  pa.echo = pb.echo = true;
  pa.keep_received = pb.keep_received = false;
  SocketAddress a_addr = net.bind(a, 1, pa).value();
  SocketAddress b_addr = net.bind(b, 1, pb).value();
  pa.send(a_addr, b_addr, Bytes{1});
  net.wake(pa);
  Status s = net.run_for(1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::limit_exceeded);
  EXPECT_TRUE(net.fault().has_value());
  EXPECT_EQ(net.now(), Instant());
}

// An endpoint that asks to be woken at fixed times, and a test that pokes it from outside.
class Alarm final : public DatagramEndpoint {
 public:
  std::vector<Instant> fired;
  std::optional<Instant> wake_at;
  void handle_datagram(Instant, const SocketAddress&, const SocketAddress&, ByteView) override {}
  void handle_timeout(Instant now) override {
    fired.push_back(now);
    wake_at.reset();
  }
  std::optional<Transmit> poll_transmit() override { return std::nullopt; }
  std::optional<Instant> next_timeout() const override { return wake_at; }
};

TEST(Network, TimeoutsFollowNextTimeout) {
  Network net(1);
  NodeId a = net.add_host("a", ip("198.51.100.1"), net.internet()).value();
  Alarm alarm;
  alarm.wake_at = at_s(5);
  ASSERT_TRUE(net.bind(a, 1, alarm).ok());
  net.at(at_s(1), [&] {
    alarm.wake_at = at_s(2);  // moved earlier: the old timer must not fire
    net.wake(alarm);
  });
  ASSERT_TRUE(net.run_until(at_s(10)).ok());
  EXPECT_EQ(alarm.fired, (std::vector<Instant>{at_s(2)}));
  // Unbound, it is never called again.
  alarm.wake_at = at_s(11);
  net.wake(alarm);
  ASSERT_TRUE(net.unbind(a, 1).ok());
  ASSERT_TRUE(net.run_until(at_s(20)).ok());
  EXPECT_EQ(alarm.fired.size(), 1u);
}

}  // namespace
}  // namespace cellrtc::sim
