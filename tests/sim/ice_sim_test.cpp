// ICE through simulated networks: NATs of every kind, a 3G link, outages. Each connecting test
// records how many round trips the connection took (gtest property "round_trips").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "support/ice_scenario.h"

namespace cellrtc {
namespace {

using ice::IceConfig;
using ice::IceState;
using ice::Role;
using testing::fixed_link;
using testing::IceScenario;
using testing::ip;
using testing::StunServerEndpoint;

IceConfig full(Role role) {
  IceConfig c;
  c.role = role;
  return c;
}

IceConfig device_toward_lite() {
  IceConfig c = full(Role::controlling);
  c.nomination = ice::Nomination::aggressive;
  return c;
}

IceConfig lite_server() {
  IceConfig c;
  c.lite = true;
  return c;
}

void report(const char* scenario, double rtts) {
  ::testing::Test::RecordProperty("round_trips", std::to_string(rtts));
  std::printf("[ round trips ] %s: %.2f\n", scenario, rtts);
}

TEST(IceSim, DirectBetweenPublicHosts) {
  IceScenario s(1);
  auto a =
      s.net.add_host("a", ip("192.0.2.10"), s.net.internet(), fixed_link(milliseconds(25))).value();
  auto b = s.net.add_host("b", ip("198.51.100.20"), s.net.internet(), fixed_link(milliseconds(25)))
               .value();
  s.make_agents(full(Role::controlling), full(Role::controlled), milliseconds(0));
  s.start(a, b);
  ASSERT_TRUE(s.run_until_connected(seconds(5)));
  double rtts = s.round_trips(milliseconds(100));
  report("direct, full/full, regular nomination", rtts);
  EXPECT_LE(rtts, 3.0);
}

TEST(IceSim, BothBehindEndpointIndependentNatsWithStunServer) {
  IceScenario s(2);
  sim::NatConfig cone;
  cone.mapping = sim::NatMapping::endpoint_independent;
  cone.filtering = sim::NatFiltering::address_and_port_dependent;  // port-restricted cone
  auto nat_a =
      s.net
          .add_nat("nat-a", ip("203.0.113.1"), cone, s.net.internet(), fixed_link(milliseconds(20)))
          .value();
  auto nat_b =
      s.net
          .add_nat("nat-b", ip("203.0.113.2"), cone, s.net.internet(), fixed_link(milliseconds(20)))
          .value();
  auto a = s.net.add_host("a", ip("192.168.1.10"), nat_a, fixed_link(milliseconds(5))).value();
  auto b = s.net.add_host("b", ip("192.168.1.10"), nat_b, fixed_link(milliseconds(5))).value();
  auto stun_host =
      s.net.add_host("stun", ip("198.51.100.3"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  SocketAddress stun_addr(ip("198.51.100.3"), 3478);
  StunServerEndpoint stun(stun_addr);
  ASSERT_TRUE(s.net.bind(stun_host, 3478, stun).ok());

  IceConfig ca = full(Role::controlling), cb = full(Role::controlled);
  ca.stun_servers = cb.stun_servers = {stun_addr};
  s.make_agents(ca, cb, milliseconds(0));
  s.start(a, b);
  ASSERT_TRUE(s.run_until_connected(seconds(10)));
  // Both found their NAT's address; the pair that works goes between the two NATs.
  auto has_srflx = [](const testing::IceEndpoint& e) {
    return std::any_of(
        e.local_candidates.begin(), e.local_candidates.end(),
        [](const ice::Candidate& c) { return c.type == ice::CandidateType::server_reflexive; });
  };
  EXPECT_TRUE(has_srflx(*s.a));
  EXPECT_TRUE(has_srflx(*s.b));
  EXPECT_EQ(s.a->agent.selected_pair()->remote.address.ip(), ip("203.0.113.2"));
  EXPECT_EQ(s.b->agent.selected_pair()->remote.address.ip(), ip("203.0.113.1"));
  // The RTT between the two hosts: 2 * (5 + 20 + 20 + 5) ms.
  report("both behind EIM NATs via STUN", s.round_trips(milliseconds(100)));
}

TEST(IceSim, SymmetricNatDeviceToLiteServer) {
  IceScenario s(3);
  sim::NatConfig symmetric;
  symmetric.mapping = sim::NatMapping::address_and_port_dependent;
  symmetric.filtering = sim::NatFiltering::address_and_port_dependent;
  auto cgnat = s.net
                   .add_nat("cgnat", ip("100.64.0.1"), symmetric, s.net.internet(),
                            fixed_link(milliseconds(40)))
                   .value();
  auto device =
      s.net.add_host("device", ip("10.0.0.2"), cgnat, fixed_link(milliseconds(10))).value();
  auto server =
      s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(0)))
          .value();
  s.make_agents(device_toward_lite(), lite_server(), milliseconds(0));
  s.a->trickle = false;  // the device's private candidates would be useless to the server
  s.start(device, server);
  ASSERT_TRUE(s.run_until_connected(seconds(5)));
  // The server sees the NAT's mapping as a peer-reflexive candidate and answers to it.
  EXPECT_EQ(s.b->agent.selected_pair()->remote.type, ice::CandidateType::peer_reflexive);
  EXPECT_EQ(s.b->agent.selected_pair()->remote.address.ip(), ip("100.64.0.1"));
  double rtts = s.round_trips(milliseconds(100));
  report("device behind symmetric NAT to lite server", rtts);
  EXPECT_LE(rtts, 1.5);
}

TEST(IceSim, ThreeGLinkWithLossConnectsInFewRoundTrips) {
  // 300 ms RTT, 2 % loss on the device's link; 20 seeds, the median must be a few round trips
  // and every run must connect.
  std::vector<double> rtts;
  for (uint64_t seed = 100; seed < 120; ++seed) {
    IceScenario s(seed);
    sim::NatConfig cgnat_config;  // endpoint-independent mapping, as most carriers do
    cgnat_config.filtering = sim::NatFiltering::address_and_port_dependent;
    auto cgnat = s.net
                     .add_nat("cgnat", ip("100.64.0.1"), cgnat_config, s.net.internet(),
                              fixed_link(milliseconds(0)))
                     .value();
    auto device = s.net.add_host("device", ip("10.0.0.2"), cgnat, testing::umts_link()).value();
    auto server =
        s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
            .value();
    s.make_agents(device_toward_lite(), lite_server(), milliseconds(0));
    s.a->trickle = false;
    s.start(device, server);
    ASSERT_TRUE(s.run_until_connected(seconds(20))) << "seed " << seed;
    rtts.push_back(s.round_trips(milliseconds(320)));
  }
  std::sort(rtts.begin(), rtts.end());
  double median = (rtts[9] + rtts[10]) / 2;
  report("3G link (300 ms RTT, 2% loss), device to lite server, median of 20", median);
  std::printf("[ round trips ] 3G worst of 20: %.2f\n", rtts.back());
  EXPECT_LE(median, 1.5);
}

TEST(IceSim, ThreeGLinkFullAgentsRegularNomination) {
  IceScenario s(7);
  auto cgnat = s.net
                   .add_nat("cgnat", ip("100.64.0.1"), sim::NatConfig{}, s.net.internet(),
                            fixed_link(milliseconds(0)))
                   .value();
  auto device = s.net.add_host("device", ip("10.0.0.2"), cgnat, testing::umts_link()).value();
  auto peer =
      s.net.add_host("peer", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  s.make_agents(full(Role::controlling), full(Role::controlled), milliseconds(0));
  s.start(device, peer);
  ASSERT_TRUE(s.run_until_connected(seconds(20)));
  report("3G link, full/full, regular nomination", s.round_trips(milliseconds(320)));
}

TEST(IceSim, OutageLosesConsentAndRestartReconnects) {
  IceScenario s(4);
  auto cgnat = s.net
                   .add_nat("cgnat", ip("100.64.0.1"), sim::NatConfig{}, s.net.internet(),
                            fixed_link(milliseconds(30)))
                   .value();
  auto device =
      s.net.add_host("device", ip("10.0.0.2"), cgnat, fixed_link(milliseconds(20))).value();
  auto peer =
      s.net.add_host("peer", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  s.make_agents(full(Role::controlling), full(Role::controlled), milliseconds(0));
  s.start(device, peer);
  ASSERT_TRUE(s.run_until_connected(seconds(5)));

  // A 60 s radio outage on the device's link.
  Instant outage = s.net.now() + seconds(1);
  s.net.uplink(device).schedule_outage(outage, seconds(60));
  s.net.downlink(device).schedule_outage(outage, seconds(60));
  ASSERT_TRUE(
      s.net.run_until([&] { return s.a->consent_lost_at.has_value(); }, s.net.now() + seconds(40)));
  Duration detected = *s.a->consent_lost_at - outage;
  std::printf("[ consent ] lost %.1f s after the outage began\n",
              static_cast<double>(detected.count()) / 1e6);
  EXPECT_GE(detected, seconds(29));
  EXPECT_LE(detected, seconds(32));
  EXPECT_EQ(s.a->agent.state(), IceState::failed);

  // After the outage the device restarts ICE; the peer follows the new credentials.
  ASSERT_TRUE(s.net.run_until(outage + seconds(61)).ok());
  size_t selections = s.a->selected.size();
  s.a->agent.restart(s.net.now());
  s.b->agent.restart(s.net.now());
  s.a->send_credentials();
  s.b->send_credentials();
  s.a->drain(s.net.now());
  s.b->drain(s.net.now());
  s.net.wake(*s.a);
  s.net.wake(*s.b);
  ASSERT_TRUE(s.run_until_connected(seconds(10)));
  EXPECT_GT(s.a->selected.size(), selections);
}

TEST(IceSim, ConsentChecksKeepCarrierNatMappingForAnHour) {
  // A 30 s mapping timeout and an hour of call: consent checks every ~5 s keep the mapping,
  // and the call never drops. Also: an hour of simulated time runs in well under a second.
  IceScenario s(5);
  sim::NatConfig nat;
  nat.mapping_timeout = seconds(30);
  nat.filtering = sim::NatFiltering::address_and_port_dependent;
  auto cgnat =
      s.net.add_nat("cgnat", ip("100.64.0.1"), nat, s.net.internet(), fixed_link(milliseconds(30)))
          .value();
  auto device =
      s.net.add_host("device", ip("10.0.0.2"), cgnat, fixed_link(milliseconds(20))).value();
  auto server =
      s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  s.make_agents(device_toward_lite(), lite_server(), milliseconds(0));
  s.a->trickle = false;
  s.start(device, server);
  ASSERT_TRUE(s.run_until_connected(seconds(5)));
  ASSERT_TRUE(s.net.run_for(seconds(3600)).ok());
  EXPECT_EQ(s.a->agent.state(), IceState::connected);
  EXPECT_EQ(s.b->agent.state(), IceState::connected);
  EXPECT_EQ(s.a->selected.size(), 1u);
  EXPECT_EQ(s.net.nat(cgnat).size(), 1u);
}

TEST(IceSim, LiteServerDeclaresConsentLostWhenDeviceGoesSilent) {
  IceScenario s(6);
  auto device =
      s.net.add_host("device", ip("192.0.2.2"), s.net.internet(), fixed_link(milliseconds(50)))
          .value();
  auto server =
      s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  s.make_agents(device_toward_lite(), lite_server(), milliseconds(0));
  s.start(device, server);
  ASSERT_TRUE(s.run_until_connected(seconds(5)));
  Instant silent = s.net.now();
  s.a->agent.close();
  ASSERT_TRUE(
      s.net.run_until([&] { return s.b->consent_lost_at.has_value(); }, s.net.now() + seconds(40)));
  EXPECT_LE(*s.b->consent_lost_at - silent, seconds(31));
}

TEST(IceSim, SameSeedSameTrace) {
  auto run = [](uint64_t seed) {
    IceScenario s(seed);
    auto cgnat = s.net
                     .add_nat("cgnat", ip("100.64.0.1"), sim::NatConfig{}, s.net.internet(),
                              fixed_link(milliseconds(0)))
                     .value();
    auto device = s.net.add_host("device", ip("10.0.0.2"), cgnat, testing::umts_link()).value();
    auto server =
        s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
            .value();
    s.make_agents(device_toward_lite(), lite_server(), milliseconds(0));
    s.start(device, server);
    EXPECT_TRUE(s.run_until_connected(seconds(20)));
    EXPECT_TRUE(s.net.run_for(seconds(60)).ok());
    return s.net.trace_digest();
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

}  // namespace
}  // namespace cellrtc
