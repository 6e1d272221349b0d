// Keepalives: the device's RFC 7675 consent checks at its 15 s interval keep a carrier NAT's
// mapping (30 s idle timeout, outbound refresh only) alive for an hour on a lossy 3G link, with
// only ICE traffic on it: the server keeps answering the same mapped address and consent never
// lapses, because an unanswered check is followed by another within IceConfig::consent_retry.
#include <gtest/gtest.h>

#include "support/ice_scenario.h"

namespace cellrtc {
namespace {

using ice::IceConfig;
using ice::IceState;
using testing::fixed_link;
using testing::IceScenario;
using testing::ip;

IceConfig device_every(Duration interval) {
  IceConfig c;
  c.role = ice::Role::controlling;
  c.nomination = ice::Nomination::aggressive;
  c.consent_interval = interval;
  return c;
}

IceConfig lite_server() {
  IceConfig c;
  c.lite = true;
  return c;
}

TEST(IceKeepalive, FifteenSecondChecksKeepAThirtySecondNatMappingForAnHour) {
  IceScenario s(21);
  sim::NatConfig nat;
  nat.mapping_timeout = seconds(30);
  nat.inbound_refreshes = false;
  auto cgnat =
      s.net.add_nat("cgnat", ip("100.64.0.1"), nat, s.net.internet(), fixed_link(milliseconds(0)))
          .value();
  auto device = s.net.add_host("device", ip("10.0.0.2"), cgnat, testing::umts_link()).value();
  auto server =
      s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  s.make_agents(device_every(seconds(15)), lite_server(), milliseconds(0));
  s.a->trickle = false;
  s.start(device, server);
  ASSERT_TRUE(s.run_until_connected(seconds(10)));
  const SocketAddress mapped = s.b->agent.selected_pair()->remote.address;
  EXPECT_EQ(mapped.ip(), ip("100.64.0.1"));

  ASSERT_TRUE(s.net.run_for(seconds(3600)).ok());
  // The same mapping all along: had it expired, the device's next check would have come from
  // a new one, which the server does not take for the selected pair, and consent would lapse.
  EXPECT_EQ(s.b->agent.selected_pair()->remote.address, mapped);
  EXPECT_EQ(s.b->agent.remote_candidate_count(), 1u);
  EXPECT_EQ(s.net.nat(cgnat).size(), 1u);
  EXPECT_FALSE(s.a->consent_lost_at.has_value());
  EXPECT_FALSE(s.b->consent_lost_at.has_value());
  EXPECT_EQ(s.a->agent.state(), IceState::connected);
  EXPECT_EQ(s.a->selected.size(), 1u);
  // About one check per 15 s (0.8..1.2 of it), and some retries after the link's 2 % losses.
  const auto checks = s.a->agent.stats().consent_checks_sent;
  EXPECT_GE(checks, 3600u / 18);
  EXPECT_LE(checks, 3600u / 12 + 40);
  // (Two losses in a row, check and retry, happen a few times an hour at 2 % each way: the
  // device then calls the path disconnected until the next check, 2 s later, is answered.)
}

TEST(IceKeepalive, AnIntervalAboveTheNatTimeoutLosesTheMapping) {
  // The same NAT with checks every 40 s (and consent allowed 120 s on both sides, so that
  // only the mapping can break it): the mapping expires between checks, the next check leaves
  // from a new one, which the server learns as a second address, and the server's selected
  // pair hears nothing more.
  IceScenario s(21);
  sim::NatConfig nat;
  nat.mapping_timeout = seconds(30);
  auto cgnat =
      s.net.add_nat("cgnat", ip("100.64.0.1"), nat, s.net.internet(), fixed_link(milliseconds(0)))
          .value();
  auto device =
      s.net.add_host("device", ip("10.0.0.2"), cgnat, fixed_link(milliseconds(50))).value();
  auto server =
      s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
          .value();
  IceConfig device_config = device_every(seconds(40));
  device_config.consent_timeout = seconds(120);
  IceConfig server_config = lite_server();
  server_config.consent_timeout = seconds(120);
  s.make_agents(device_config, server_config, milliseconds(0));
  s.a->trickle = false;
  s.start(device, server);
  ASSERT_TRUE(s.run_until_connected(seconds(10)));
  EXPECT_EQ(s.b->agent.remote_candidate_count(), 1u);
  ASSERT_TRUE(s.net.run_for(seconds(130)).ok());
  EXPECT_GE(s.b->agent.remote_candidate_count(), 2u);
  EXPECT_TRUE(s.b->consent_lost_at.has_value());
}

}  // namespace
}  // namespace cellrtc
