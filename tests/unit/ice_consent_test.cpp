// Consent freshness (RFC 7675) with a long interval: each check is sent once; an unanswered one
// is followed by another after IceConfig::consent_retry instead of a whole interval, so one
// lost check neither ends consent nor makes the agent report the path disconnected, while a
// path that is really gone is still noticed and consent still expires after 30 s.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/ice/ice_agent.h"
#include "support/ice_endpoint.h"
#include "support/wire.h"

namespace cellrtc {
namespace {

using ice::IceConfig;
using ice::IceState;
using testing::IceEndpoint;
using testing::Wire;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

// A device (controlling, aggressive, checks every 15 s) and a lite server on one wire.
struct Pair {
  Pair() : rng_a(1), rng_b(2), a(device(), rng_a), b(lite(), rng_b) {
    auto immediate = [this](IceEndpoint& peer, IceEndpoint::Signal s) { s(wire.now(), peer); };
    a.signal_to(b, immediate);
    b.signal_to(a, immediate);
    wire.bind(addr("192.0.2.1:5000"), a);
    wire.bind(addr("198.51.100.1:6000"), b);
    a.send_credentials();
    b.send_credentials();
    EXPECT_TRUE(a.agent.add_host_socket(wire.now(), addr("192.0.2.1:5000")).ok());
    EXPECT_TRUE(b.agent.add_host_socket(wire.now(), addr("198.51.100.1:6000")).ok());
    a.agent.end_of_local_sockets(wire.now());
    b.agent.end_of_local_sockets(wire.now());
    a.drain(wire.now());
    b.drain(wire.now());
  }
  static IceConfig device() {
    IceConfig c;
    c.role = ice::Role::controlling;
    c.nomination = ice::Nomination::aggressive;
    c.consent_interval = seconds(15);
    return c;
  }
  static IceConfig lite() {
    IceConfig c;
    c.lite = true;
    return c;
  }
  SeededRandom rng_a, rng_b;
  Wire wire;
  IceEndpoint a, b;
};

bool is_request(const Transmit& t) {
  auto m = stun::Message::parse(t.data);
  return m && m->cls() == stun::Class::request;
}

TEST(IceConsent, ALostCheckIsFollowedByAnotherSoonAndNothingLapses) {
  Pair p;
  ASSERT_TRUE(p.wire.run([&] { return p.a.connected() && p.b.connected(); }, seconds(5)));
  const Instant connected = p.wire.now();
  // The first consent check after connecting is lost.
  std::vector<Instant> checks;
  bool lost_one = false;
  p.wire.drop = [&](const Transmit& t) {
    if (t.from != addr("192.0.2.1:5000") || !is_request(t)) return false;
    checks.push_back(p.wire.now());
    if (lost_one) return false;
    lost_one = true;
    return true;
  };
  p.wire.run_for(seconds(120));
  ASSERT_GE(checks.size(), 2u);
  EXPECT_GE(checks[0] - connected, seconds(12));  // 0.8 of the interval
  EXPECT_LE(checks[0] - connected, seconds(18));
  EXPECT_EQ(checks[1] - checks[0], seconds(2));   // the retry, not another interval
  EXPECT_GE(checks[2] - checks[1], seconds(12));  // answered: back to the interval
  EXPECT_EQ(std::count(p.a.states.begin(), p.a.states.end(), IceState::disconnected), 0);
  EXPECT_FALSE(p.a.consent_lost_at);
  EXPECT_FALSE(p.b.consent_lost_at);
  EXPECT_EQ(p.a.agent.state(), IceState::connected);
  // 120 s at one check per 12..18 s, plus the retry.
  EXPECT_LE(checks.size(), 12u);
}

TEST(IceConsent, AGonePathIsNoticedAtTheNextCheckAndConsentExpiresAfterThirtySeconds) {
  Pair p;
  ASSERT_TRUE(p.wire.run([&] { return p.a.connected() && p.b.connected(); }, seconds(5)));
  const Instant outage = p.wire.now();
  p.wire.drop = [](const Transmit&) { return true; };
  ASSERT_TRUE(p.wire.run([&] { return p.a.agent.state() == IceState::disconnected; }, seconds(30)));
  // The first check (12..18 s after the last answer) and its retry 2 s later went unanswered
  // for 2 s each.
  EXPECT_GE(p.wire.now() - outage, seconds(16));
  EXPECT_LE(p.wire.now() - outage, seconds(22));
  ASSERT_TRUE(p.wire.run([&] { return p.a.consent_lost_at.has_value(); }, seconds(30)));
  EXPECT_GE(*p.a.consent_lost_at - outage, seconds(30));
  EXPECT_LE(*p.a.consent_lost_at - outage, seconds(31));
}

TEST(IceConsent, LiteAgentCountsAnyPacketOnTheSelectedPairAsLife) {
  Pair p;
  ASSERT_TRUE(p.wire.run([&] { return p.a.connected() && p.b.connected(); }, seconds(5)));
  // Application data every second from the device: the lite side, which hears a check only
  // every 15 s, never calls the path disconnected.
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(p.a.agent.send(Bytes{0x17, 0xfe, 0xfd, 0x00}).ok());
    p.wire.run_for(seconds(1));
  }
  EXPECT_EQ(std::count(p.b.states.begin(), p.b.states.end(), IceState::disconnected), 0);
  EXPECT_EQ(p.b.app_data.size(), 60u);
  // Without data, the 8 s between its checks show as disconnected there, and recover.
  p.wire.run_for(seconds(40));
  EXPECT_GT(std::count(p.b.states.begin(), p.b.states.end(), IceState::disconnected), 0);
  EXPECT_EQ(p.b.agent.state() == IceState::failed, false);
  EXPECT_FALSE(p.b.consent_lost_at);
}

}  // namespace
}  // namespace cellrtc
