#include "core/ice/ice_agent.h"

#include <gtest/gtest.h>

#include "core/stun/stun_message.h"
#include "support/ice_endpoint.h"
#include "support/wire.h"

namespace cellrtc {
namespace {

using ice::IceConfig;
using ice::IceState;
using ice::Role;
using testing::IceEndpoint;
using testing::Wire;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

// Two agents on one wire, signaling to each other at once.
struct Call {
  Call(IceConfig a_config, IceConfig b_config, uint64_t seed = 1)
      : rng_a(seed),
        rng_b(seed + 100),
        a(std::move(a_config), rng_a),
        b(std::move(b_config), rng_b) {
    auto immediate = [this](IceEndpoint& peer, IceEndpoint::Signal s) { s(wire.now(), peer); };
    a.signal_to(b, immediate);
    b.signal_to(a, immediate);
  }
  void start(const SocketAddress& a_addr, const SocketAddress& b_addr) {
    wire.bind(a_addr, a);
    wire.bind(b_addr, b);
    a.send_credentials();
    b.send_credentials();
    ASSERT_TRUE(a.agent.add_host_socket(wire.now(), a_addr).ok());
    ASSERT_TRUE(b.agent.add_host_socket(wire.now(), b_addr).ok());
    a.agent.end_of_local_sockets(wire.now());
    b.agent.end_of_local_sockets(wire.now());
    a.drain(wire.now());
    b.drain(wire.now());
  }
  bool connect(Duration limit = seconds(5)) {
    return wire.run([&] { return a.connected() && b.connected(); }, limit);
  }
  SeededRandom rng_a, rng_b;
  Wire wire;
  IceEndpoint a, b;
};

IceConfig controlling() {
  IceConfig c;
  c.role = Role::controlling;
  return c;
}
IceConfig controlled() {
  IceConfig c;
  c.role = Role::controlled;
  return c;
}

TEST(IceAgent, GeneratesCredentialsOfRfcLength) {
  SeededRandom rng(7);
  ice::IceAgent agent(IceConfig{}, rng);
  EXPECT_GE(agent.local_credentials().ufrag.size(), 4u);
  EXPECT_GE(agent.local_credentials().pwd.size(), 22u);
}

TEST(IceAgent, TwoFullAgentsConnectAndAgreeOnThePair) {
  Call call(controlling(), controlled());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  ASSERT_FALSE(call.a.selected.empty());
  ASSERT_FALSE(call.b.selected.empty());
  EXPECT_EQ(call.a.agent.selected_pair()->remote.address, addr("198.51.100.1:6000"));
  EXPECT_EQ(call.b.agent.selected_pair()->remote.address, addr("192.0.2.1:5000"));
  const auto& s = call.a.agent.stats();
  ASSERT_TRUE(s.first_check_sent && s.first_success && s.nominated);
  // Regular nomination: a check, then a check with USE-CANDIDATE: two round trips of 20 ms,
  // the second paced to start no sooner than Ta (50 ms) after the first.
  EXPECT_EQ(*s.first_success - *s.first_check_sent, milliseconds(20));
  EXPECT_EQ(*s.nominated - *s.first_check_sent, milliseconds(50) + milliseconds(20));
}

TEST(IceAgent, DataFlowsOverTheSelectedPairOnly) {
  Call call(controlling(), controlled());
  EXPECT_FALSE(call.a.agent.send(Bytes{1, 2, 3}).ok());  // nothing selected yet
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  ASSERT_TRUE(call.a.agent.send(Bytes{0x17, 1, 2, 3}).ok());
  ASSERT_TRUE(call.b.agent.send(Bytes{0x17, 4, 5}).ok());
  call.wire.run([&] { return !call.a.app_data.empty() && !call.b.app_data.empty(); }, seconds(1));
  ASSERT_EQ(call.b.app_data.size(), 1u);
  EXPECT_EQ(call.b.app_data[0], (Bytes{0x17, 1, 2, 3}));
  ASSERT_EQ(call.a.app_data.size(), 1u);
  EXPECT_EQ(call.a.app_data[0], (Bytes{0x17, 4, 5}));
}

TEST(IceAgent, LiteServerAndAggressiveDeviceConnectInOneRoundTrip) {
  IceConfig device = controlling();
  device.nomination = ice::Nomination::aggressive;
  IceConfig server;
  server.lite = true;
  server.role = Role::controlling;  // ignored: a lite agent is always controlled
  Call call(device, server);
  call.b.trickle = true;
  call.start(addr("10.0.0.2:5000"), addr("203.0.113.5:3478"));
  ASSERT_TRUE(call.connect());
  EXPECT_EQ(call.b.agent.role(), Role::controlled);
  const auto& s = call.a.agent.stats();
  EXPECT_EQ(*s.nominated - *s.first_check_sent, milliseconds(20));
  // A lite agent never sends checks: every request on the wire came from the device.
  EXPECT_EQ(call.b.agent.stats().checks_sent, 0u);
  EXPECT_GT(call.b.agent.stats().requests_received, 0u);
}

TEST(IceAgent, LiteAgentLearnsThePeerWithoutItsCandidates) {
  // The device-to-server case: the server never hears the device's candidates (they would be
  // private addresses anyway); it learns the NAT's address from the check as peer-reflexive.
  IceConfig device = controlling();
  device.nomination = ice::Nomination::aggressive;
  IceConfig server;
  server.lite = true;
  Call call(device, server);
  call.a.trickle = false;  // the device's candidates never reach the server
  call.start(addr("10.0.0.2:5000"), addr("203.0.113.5:3478"));
  ASSERT_TRUE(call.connect());
  EXPECT_EQ(call.b.agent.selected_pair()->remote.type, ice::CandidateType::peer_reflexive);
}

TEST(IceAgent, ControlledAgentLearnsPeerReflexiveRemote) {
  Call call(controlling(), controlled());
  call.a.trickle = false;  // b never hears of a's candidates
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  EXPECT_EQ(call.b.agent.selected_pair()->remote.type, ice::CandidateType::peer_reflexive);
  EXPECT_EQ(call.b.agent.selected_pair()->remote.address, addr("192.0.2.1:5000"));
}

TEST(IceAgent, RoleConflictBothControllingIsResolved) {
  Call call(controlling(), controlling());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  EXPECT_NE(call.a.agent.role(), call.b.agent.role());
  EXPECT_EQ(call.a.roles.size() + call.b.roles.size(), 1u);
}

TEST(IceAgent, RoleConflictBothControlledIsResolved) {
  Call call(controlled(), controlled());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  EXPECT_NE(call.a.agent.role(), call.b.agent.role());
}

TEST(IceAgent, RetransmitsThroughLoss) {
  Call call(controlling(), controlled());
  int n = 0;
  // Lose the first four datagrams of every kind: retransmissions must carry the call.
  call.wire.drop = [&](const Transmit&) { return n++ < 4; };
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect(seconds(10)));
  EXPECT_GT(call.a.agent.stats().retransmissions + call.b.agent.stats().retransmissions, 0u);
}

TEST(IceAgent, PicksTheHigherPriorityPair) {
  Call call(controlling(), controlled());
  call.wire.bind(addr("192.0.2.1:5000"), call.a);
  call.wire.bind(addr("192.0.2.2:5000"), call.a);
  call.wire.bind(addr("198.51.100.1:6000"), call.b);
  call.a.send_credentials();
  call.b.send_credentials();
  Instant t0 = call.wire.now();
  ASSERT_TRUE(call.a.agent.add_host_socket(t0, addr("192.0.2.1:5000")).ok());
  ASSERT_TRUE(call.a.agent.add_host_socket(t0, addr("192.0.2.2:5000")).ok());
  ASSERT_TRUE(call.b.agent.add_host_socket(t0, addr("198.51.100.1:6000")).ok());
  call.a.drain(t0);
  call.b.drain(t0);
  ASSERT_TRUE(call.connect());
  // The first host socket has the higher local preference (the runtime lists preferred first).
  EXPECT_EQ(call.a.agent.selected_pair()->base, addr("192.0.2.1:5000"));
}

TEST(IceAgent, UnreachablePeerFailsOnceEveryPairFailed) {
  Call call(controlling(), controlled());
  call.wire.drop = [](const Transmit& t) { return t.to.port() == 6000; };  // a can't reach b
  IceConfig cfg;
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  bool failed =
      call.wire.run([&] { return call.a.agent.state() == IceState::failed; }, seconds(60));
  ASSERT_TRUE(failed);
  // 7 transmissions of a check with RTO 500 ms doubling to 3 s: about 14.5 s, not 30.
  EXPECT_LT(call.wire.now() - Instant(), seconds(20));
}

TEST(IceAgent, ConsentLostAfterOutageThenRestartReconnects) {
  Call call(controlling(), controlled());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  Instant outage = call.wire.now();
  bool down = true;
  call.wire.drop = [&](const Transmit&) { return down; };
  ASSERT_TRUE(call.wire.run([&] { return call.a.consent_lost_at.has_value(); }, seconds(40)));
  Duration detected = *call.a.consent_lost_at - outage;
  EXPECT_GE(detected, seconds(30));
  EXPECT_LE(detected, seconds(32));
  EXPECT_EQ(call.a.agent.state(), IceState::failed);
  EXPECT_NE(std::find(call.a.states.begin(), call.a.states.end(), IceState::disconnected),
            call.a.states.end());
  EXPECT_FALSE(call.a.agent.send(Bytes{1}).ok());

  // The link returns; both sides restart with new credentials, as signaling would carry them.
  down = false;
  std::string old_ufrag = call.a.agent.local_credentials().ufrag;
  size_t selections = call.a.selected.size();
  call.a.agent.restart(call.wire.now());
  call.b.agent.restart(call.wire.now());
  EXPECT_NE(call.a.agent.local_credentials().ufrag, old_ufrag);
  call.a.send_credentials();
  call.b.send_credentials();
  call.a.drain(call.wire.now());
  call.b.drain(call.wire.now());
  ASSERT_TRUE(call.connect(seconds(5)));
  EXPECT_GT(call.a.selected.size(), selections);
  EXPECT_TRUE(call.a.agent.send(Bytes{1}).ok());
}

TEST(IceAgent, ConsentChecksKeepTheCallUpForMinutes) {
  Call call(controlling(), controlled());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  ASSERT_TRUE(call.connect());
  call.wire.run_for(seconds(300));
  EXPECT_EQ(call.a.agent.state(), IceState::connected);
  EXPECT_EQ(call.b.agent.state(), IceState::connected);
  // One consent check every 4..6 s on each side.
  EXPECT_GE(call.a.agent.stats().consent_checks_sent, 50u);
  EXPECT_LE(call.a.agent.stats().consent_checks_sent, 76u);
}

TEST(IceAgent, GathersServerReflexiveCandidate) {
  SeededRandom rng(3);
  IceConfig cfg;
  cfg.stun_servers = {addr("203.0.113.9:3478")};
  IceEndpoint a(cfg, rng);
  testing::StunServerEndpoint server(addr("203.0.113.9:3478"));
  Wire wire;
  wire.bind(addr("192.0.2.1:5000"), a);
  wire.bind(addr("203.0.113.9:3478"), server);
  ASSERT_TRUE(a.agent.add_host_socket(wire.now(), addr("192.0.2.1:5000")).ok());
  a.agent.end_of_local_sockets(wire.now());
  a.drain(wire.now());
  ASSERT_TRUE(wire.run([&] { return a.gathering_complete; }, seconds(5)));
  // Without a NAT the reflexive address equals the host address: redundant, not announced.
  ASSERT_EQ(a.local_candidates.size(), 1u);
  EXPECT_EQ(a.local_candidates[0].type, ice::CandidateType::host);
  auto results = a.agent.stun_server_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].done);
  EXPECT_EQ(results[0].mapped, addr("192.0.2.1:5000"));
}

TEST(IceAgent, GatheringCompletesWhenStunServerIsSilent) {
  SeededRandom rng(3);
  IceConfig cfg;
  cfg.stun_servers = {addr("203.0.113.9:3478")};
  IceEndpoint a(cfg, rng);
  Wire wire;
  wire.bind(addr("192.0.2.1:5000"), a);
  ASSERT_TRUE(a.agent.add_host_socket(wire.now(), addr("192.0.2.1:5000")).ok());
  a.agent.end_of_local_sockets(wire.now());
  a.drain(wire.now());
  ASSERT_TRUE(wire.run([&] { return a.gathering_complete; }, seconds(30)));
  // 4 transmissions, RTO 500 ms doubling: 0.5 + 1 + 2 + 3 = 6.5 s.
  EXPECT_LE(wire.now() - Instant(), milliseconds(6500));
  EXPECT_FALSE(a.agent.stun_server_results()[0].mapped);
}

TEST(IceAgent, RejectsMalformedAndUnauthenticatedChecks) {
  SeededRandom rng(5);
  IceConfig cfg = controlled();
  cfg.ufrag = "serv";
  cfg.pwd = "serverpasswordserverpassword";
  ice::IceAgent agent(cfg, rng);
  Instant now;
  SocketAddress local = addr("192.0.2.1:5000"), peer = addr("198.51.100.7:4000");
  ASSERT_TRUE(agent.add_host_socket(now, local).ok());
  while (agent.poll_transmit()) {
  }
  auto send = [&](Bytes b) {
    EXPECT_TRUE(agent.handle_packet(now, local, peer, b));
    auto t = agent.poll_transmit();
    EXPECT_TRUE(t.has_value());
    auto m = stun::Message::parse(t->data);
    EXPECT_TRUE(m.ok());
    return m->error_code() ? m->error_code()->code : 0;
  };
  stun::TransactionId tid{};
  tid[0] = 1;
  // No USERNAME / MESSAGE-INTEGRITY: 400.
  EXPECT_EQ(
      send(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid).finish(true)),
      400);
  // Wrong ufrag: 401.
  EXPECT_EQ(send(std::move(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid)
                               .add_username("nope:peer")
                               .add_priority(1))
                     .finish_with_integrity(as_bytes(cfg.pwd))),
            401);
  // Right ufrag, wrong password: 401.
  EXPECT_EQ(send(std::move(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid)
                               .add_username("serv:peer")
                               .add_priority(1))
                     .finish_with_integrity(as_bytes("wrongwrongwrongwrongwrong"))),
            401);
  // Unknown comprehension-required attribute: 420.
  uint8_t v[4] = {0, 0, 0, 0};
  EXPECT_EQ(send(std::move(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid)
                               .add_raw(0x0033, v)
                               .add_username("serv:peer"))
                     .finish_with_integrity(as_bytes(cfg.pwd))),
            420);
  // A good check gets a success response carrying our view of its source.
  EXPECT_TRUE(agent.handle_packet(
      now, local, peer,
      std::move(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid)
                    .add_username("serv:peer")
                    .add_priority(1845501695)
                    .add_ice_controlling(42))
          .finish_with_integrity(as_bytes(cfg.pwd))));
  auto t = agent.poll_transmit();
  ASSERT_TRUE(t);
  auto m = stun::Message::parse(t->data);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cls(), stun::Class::success_response);
  EXPECT_EQ(*m->xor_mapped_address(), peer);
  EXPECT_TRUE(m->check_integrity(as_bytes(cfg.pwd)));
  // Not STUN at all: not consumed.
  uint8_t dtls[] = {22, 254, 253, 0, 0};
  EXPECT_FALSE(agent.handle_packet(now, local, peer, dtls));
  EXPECT_EQ(agent.stats().rejected_packets, 2u);
}

TEST(IceAgent, RejectsMdnsAndTooManyCandidates) {
  SeededRandom rng(5);
  IceConfig cfg;
  cfg.max_remote_candidates = 2;
  ice::IceAgent agent(cfg, rng);
  ice::Candidate c;
  c.foundation = "1";
  c.priority = 1;
  c.hostname = "abc.local";
  c.address = SocketAddress(IpAddress(), 9);
  EXPECT_EQ(agent.add_remote_candidate(Instant(), c).error().code, Errc::unsupported);
  c.hostname.reset();
  for (int i = 1; i <= 2; ++i) {
    c.address = SocketAddress(IpAddress::v4(192, 0, 2, static_cast<uint8_t>(i)), 9);
    EXPECT_TRUE(agent.add_remote_candidate(Instant(), c).ok());
  }
  c.address = SocketAddress(IpAddress::v4(192, 0, 2, 3), 9);
  EXPECT_EQ(agent.add_remote_candidate(Instant(), c).error().code, Errc::limit_exceeded);
}

TEST(IceAgent, NextTimeoutNeverStaysInThePast) {
  // Drive a call and check after every step that the agents' deadlines move forward.
  Call call(controlling(), controlled());
  call.start(addr("192.0.2.1:5000"), addr("198.51.100.1:6000"));
  for (int i = 0; i < 200; ++i) {
    call.wire.run_for(milliseconds(50));
    for (auto* e : {&call.a, &call.b}) {
      auto t = e->agent.next_timeout();
      if (t) {
        EXPECT_GT(*t, call.wire.now() - milliseconds(1));
      }
    }
  }
}

}  // namespace
}  // namespace cellrtc
