// NAT behaviour in RFC 4787 terms: mapping (section 4.1), filtering (section 5), idle timeout
// (section 4.3) and hairpinning (section 6).
#include "sim_test_util.h"

namespace cellrtc::sim {
namespace {

using namespace std::chrono_literals;
using testing::addr;
using testing::at_s;
using testing::ip;

// A device behind a NAT, and three public servers: s1 on two ports, s2 on one.
struct NatLab {
  explicit NatLab(const NatConfig& config, uint64_t seed = 1) : net(seed) {
    LinkConfig wire;
    wire.delay = 10ms;
    nat = net.add_nat("nat", ip("203.0.113.1"), config, net.internet(), Attachment::symmetric(wire))
              .value();
    dev = net.add_host("device", ip("10.0.0.2"), nat, Attachment::symmetric(wire)).value();
    s1 = net.add_host("s1", ip("198.51.100.1"), net.internet()).value();
    s2 = net.add_host("s2", ip("198.51.100.2"), net.internet()).value();
    dev_addr = net.bind(dev, 5000, device).value();
    s1a_addr = net.bind(s1, 3478, s1a).value();
    s1b_addr = net.bind(s1, 3479, s1b).value();
    s2_addr = net.bind(s2, 3478, s2p).value();
  }

  // Sends from `from` (probe bound at `local`) to `to` and runs a second.
  void exchange(Probe& from, const SocketAddress& local, const SocketAddress& to) {
    from.send(local, to, Bytes{1, 2, 3});
    net.wake(from);
    ASSERT_TRUE(net.run_for(1s).ok());
  }
  // The source address the last datagram to `p` came from.
  static SocketAddress seen_by(const Probe& p) { return p.received().back().from; }

  Network net;
  NodeId nat = 0, dev = 0, s1 = 0, s2 = 0;
  Probe device, s1a, s1b, s2p;
  SocketAddress dev_addr, s1a_addr, s1b_addr, s2_addr;
};

NatConfig nat_config(NatMapping m, NatFiltering f) {
  NatConfig c;
  c.mapping = m;
  c.filtering = f;
  return c;
}

TEST(Nat, EndpointIndependentMappingReusesTheMapping) {
  NatLab lab(nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent));
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s1b_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s2_addr);
  SocketAddress mapped = NatLab::seen_by(lab.s1a);
  EXPECT_EQ(mapped.ip(), ip("203.0.113.1"));
  EXPECT_EQ(NatLab::seen_by(lab.s1b), mapped);
  EXPECT_EQ(NatLab::seen_by(lab.s2p), mapped);
  EXPECT_EQ(lab.net.nat(lab.nat).size(), 1u);
  EXPECT_EQ(lab.net.nat(lab.nat).lookup(lab.net.now(), lab.dev_addr, addr("192.0.2.7:1")),
            mapped.port());
  EXPECT_FALSE(lab.net.nat(lab.nat).lookup(lab.net.now() + 31s, lab.dev_addr, lab.s1a_addr));
}

TEST(Nat, AddressDependentMappingIsPerRemoteIp) {
  NatLab lab(nat_config(NatMapping::address_dependent, NatFiltering::address_dependent));
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s1b_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s2_addr);
  EXPECT_EQ(NatLab::seen_by(lab.s1b), NatLab::seen_by(lab.s1a));
  EXPECT_NE(NatLab::seen_by(lab.s2p), NatLab::seen_by(lab.s1a));
  EXPECT_EQ(lab.net.nat(lab.nat).size(), 2u);
}

TEST(Nat, AddressAndPortDependentMappingIsPerRemoteEndpoint) {
  NatLab lab(
      nat_config(NatMapping::address_and_port_dependent, NatFiltering::address_and_port_dependent));
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s1b_addr);
  lab.exchange(lab.device, lab.dev_addr, lab.s2_addr);
  SocketAddress a = NatLab::seen_by(lab.s1a), b = NatLab::seen_by(lab.s1b),
                c = NatLab::seen_by(lab.s2p);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  EXPECT_EQ(lab.net.nat(lab.nat).size(), 3u);
  // The same remote again reuses its own mapping.
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  EXPECT_EQ(NatLab::seen_by(lab.s1a), a);
}

// After the device sent to s1:3478, which senders get in through its mapping?
struct FilterCase {
  NatFiltering filtering;
  bool s1_same_port, s1_other_port, s2;
};

class NatFilteringTest : public ::testing::TestWithParam<FilterCase> {};

TEST_P(NatFilteringTest, AdmitsOnlyWhatTheBehaviourAllows) {
  const FilterCase& fc = GetParam();
  NatLab lab(nat_config(NatMapping::endpoint_independent, fc.filtering));
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  SocketAddress mapped = NatLab::seen_by(lab.s1a);

  lab.exchange(lab.s1a, lab.s1a_addr, mapped);
  lab.exchange(lab.s1b, lab.s1b_addr, mapped);
  lab.exchange(lab.s2p, lab.s2_addr, mapped);
  std::vector<SocketAddress> got;
  for (const Received& r : lab.device.received())
    got.push_back(r.from);
  auto admitted = [&](const SocketAddress& a) {
    return std::find(got.begin(), got.end(), a) != got.end();
  };
  EXPECT_EQ(admitted(lab.s1a_addr), fc.s1_same_port);
  EXPECT_EQ(admitted(lab.s1b_addr), fc.s1_other_port);
  EXPECT_EQ(admitted(lab.s2_addr), fc.s2);
  int denied = !fc.s1_same_port + !fc.s1_other_port + !fc.s2;
  EXPECT_EQ(lab.net.dropped(DropReason::nat_filter), static_cast<uint64_t>(denied));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc4787, NatFilteringTest,
    ::testing::Values(FilterCase{NatFiltering::endpoint_independent, true, true, true},
                      FilterCase{NatFiltering::address_dependent, true, true, false},
                      FilterCase{NatFiltering::address_and_port_dependent, true, false, false}));

TEST(Nat, UnsolicitedInboundIsFiltered) {
  NatLab lab(nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent));
  lab.exchange(lab.s1a, lab.s1a_addr, addr("203.0.113.1:40000"));
  EXPECT_TRUE(lab.device.received().empty());
  EXPECT_EQ(lab.net.dropped(DropReason::nat_filter), 1u);
}

TEST(Nat, IdleMappingExpires) {
  NatLab lab(nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent));
  lab.net.trace().set_recording(true);
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);  // the mapping is made at 10 ms
  SocketAddress mapped = NatLab::seen_by(lab.s1a);
  ASSERT_TRUE(lab.net.run_until(at_s(29)).ok());
  lab.exchange(lab.s1a, lab.s1a_addr, mapped);  // inbound does not refresh (RFC 4787 REQ-6)
  EXPECT_EQ(lab.device.received().size(), 1u);
  ASSERT_TRUE(lab.net.run_until(at_s(31)).ok());
  EXPECT_EQ(lab.net.nat(lab.nat).size(), 0u);
  lab.exchange(lab.s1a, lab.s1a_addr, mapped);
  EXPECT_EQ(lab.device.received().size(), 1u);
  EXPECT_EQ(lab.net.dropped(DropReason::nat_filter), 1u);

  // The expiry is in the trace, 30 s after the last outbound packet.
  std::vector<TraceEvent> expired;
  for (const TraceEvent& e : lab.net.trace().events())
    if (e.kind == TraceKind::mapping_expired) expired.push_back(e);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].at, Instant() + 10ms + 30s);
  EXPECT_EQ(expired[0].dst, mapped);
  EXPECT_EQ(expired[0].src, lab.dev_addr);
}

TEST(Nat, InboundRefreshIsOptional) {
  NatConfig c = nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent);
  c.inbound_refreshes = true;
  NatLab lab(c);
  lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
  SocketAddress mapped = NatLab::seen_by(lab.s1a);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lab.net.run_for(20s).ok());
    lab.exchange(lab.s1a, lab.s1a_addr, mapped);
  }
  EXPECT_EQ(lab.device.received().size(), 5u);
}

TEST(Nat, KeepalivesKeepTheMapping) {
  NatLab lab(
      nat_config(NatMapping::endpoint_independent, NatFiltering::address_and_port_dependent));
  lab.net.trace().set_recording(true);
  // A keepalive every 25 s for 10 minutes, as the device does on carrier NAT.
  lab.device.send_periodically(lab.dev_addr, lab.s1a_addr, 20, 25s, Instant(), at_s(600));
  lab.net.wake(lab.device);
  ASSERT_TRUE(lab.net.run_until(at_s(590)).ok());
  SocketAddress mapped = NatLab::seen_by(lab.s1a);
  for (const Received& r : lab.s1a.received())
    EXPECT_EQ(r.from, mapped);
  lab.exchange(lab.s1a, lab.s1a_addr, mapped);
  EXPECT_EQ(lab.device.received().size(), 1u);
  int created = 0, expired = 0;
  for (const TraceEvent& e : lab.net.trace().events()) {
    created += e.kind == TraceKind::mapping_created;
    expired += e.kind == TraceKind::mapping_expired;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(expired, 0);

  // Keepalives slower than the timeout lose the mapping every time: a new port each round.
  NatLab slow(nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent), 2);
  slow.device.send_periodically(slow.dev_addr, slow.s1a_addr, 20, 35s, Instant(), at_s(350));
  slow.net.wake(slow.device);
  ASSERT_TRUE(slow.net.run_until(at_s(360)).ok());
  std::set<SocketAddress> sources;
  for (const Received& r : slow.s1a.received())
    sources.insert(r.from);
  EXPECT_EQ(slow.s1a.received().size(), 10u);
  EXPECT_GE(sources.size(), 9u);  // random ports; two could coincide
}

TEST(Nat, Hairpinning) {
  for (bool hairpin : {false, true}) {
    SCOPED_TRACE(hairpin);
    NatConfig c = nat_config(NatMapping::endpoint_independent, NatFiltering::endpoint_independent);
    c.hairpinning = hairpin;
    NatLab lab(c);
    NodeId dev2 = lab.net.add_host("device2", ip("10.0.0.3"), lab.nat).value();
    Probe second;
    SocketAddress dev2_addr = lab.net.bind(dev2, 6000, second).value();
    lab.exchange(lab.device, lab.dev_addr, lab.s1a_addr);
    lab.exchange(second, dev2_addr, lab.s1a_addr);
    SocketAddress second_mapped = NatLab::seen_by(lab.s1a);
    SocketAddress first_mapped = lab.s1a.received()[0].from;

    lab.exchange(lab.device, lab.dev_addr, second_mapped);
    if (hairpin) {
      ASSERT_EQ(second.received().size(), 1u);
      // RFC 4787 REQ-9: the source is the sender's external address, not its private one.
      EXPECT_EQ(second.received()[0].from, first_mapped);
    } else {
      EXPECT_TRUE(second.received().empty());
      EXPECT_EQ(lab.net.dropped(DropReason::no_route), 1u);
    }
  }
}

TEST(Nat, PrivateHostsBehindOneNatReachEachOtherDirectly) {
  NatLab lab(
      nat_config(NatMapping::address_and_port_dependent, NatFiltering::address_and_port_dependent));
  NodeId dev2 = lab.net.add_host("device2", ip("10.0.0.3"), lab.nat).value();
  Probe second;
  SocketAddress dev2_addr = lab.net.bind(dev2, 6000, second).value();
  lab.exchange(lab.device, lab.dev_addr, dev2_addr);
  ASSERT_EQ(second.received().size(), 1u);
  EXPECT_EQ(second.received()[0].from, lab.dev_addr);
  EXPECT_EQ(lab.net.nat(lab.nat).size(), 0u);
}

TEST(Nat, NestedNatsTranslateTwice) {
  Network net(1);
  NatConfig cgnat_config =
      nat_config(NatMapping::address_and_port_dependent, NatFiltering::address_and_port_dependent);
  NodeId cgnat = net.add_nat("cgnat", ip("203.0.113.1"), cgnat_config, net.internet()).value();
  NodeId home = net.add_nat("home", ip("100.64.0.7"), {}, cgnat).value();
  NodeId dev = net.add_host("device", ip("192.168.1.2"), home).value();
  NodeId srv = net.add_host("server", ip("198.51.100.1"), net.internet()).value();
  Probe device, server;
  server.echo = true;
  SocketAddress dev_addr = net.bind(dev, 5000, device).value();
  SocketAddress srv_addr = net.bind(srv, 3478, server).value();
  device.send(dev_addr, srv_addr, Bytes{42});
  net.wake(device);
  ASSERT_TRUE(net.run_for(1s).ok());
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_EQ(server.received()[0].from.ip(), ip("203.0.113.1"));
  ASSERT_EQ(device.received().size(), 1u);  // the echo found its way back through both
  EXPECT_EQ(device.received()[0].from, srv_addr);
  EXPECT_EQ(device.received()[0].local, dev_addr);
}

}  // namespace
}  // namespace cellrtc::sim
