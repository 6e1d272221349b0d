// Path choice between UDP and ICE-TCP (RFC 6544) by the controlling agent, in virtual time: a
// device (full agent, aggressive nomination, a UDP host candidate and an active TCP one) toward
// a lite server (a UDP host candidate and a passive TCP one). UDP is preferred; when UDP gets
// no answer, TCP carries the data as soon as the UDP grace (IceConfig::udp_grace) is over.
#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "core/ice/ice_agent.h"
#include "core/stun/stun_message.h"
#include "support/ice_call.h"

namespace cellrtc {
namespace {

using ice::Candidate;
using ice::CandidateType;
using ice::IceAgent;
using ice::IceConfig;
using ice::TcpType;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

const SocketAddress kDeviceUdp = addr("10.0.0.2:5000");
const SocketAddress kDeviceActive = addr("10.0.0.2:9");         // RFC 6544 section 4.5
const SocketAddress kDeviceTcpSource = addr("10.0.0.2:40000");  // what the kernel picked
const SocketAddress kServerUdp = addr("198.51.100.1:3478");
const SocketAddress kServerPassive = addr("198.51.100.1:443");

Candidate tcp_candidate(const SocketAddress& address, TcpType type) {
  Candidate c;
  c.foundation = type == TcpType::active ? "tcpa" : "tcpp";
  c.transport = TransportProtocol::tcp;
  c.tcp_type = type;
  c.address = address;
  c.priority =
      ice::compute_priority(ice::type_preference(CandidateType::host, TransportProtocol::tcp),
                            ice::tcp_local_preference(CandidateType::host, type, 8191), 1);
  return c;
}

// Both agents and the network between them: UDP and the one TCP connection each have their
// own one-way delay and may drop everything.
struct PathCall : test::IceCall {
  explicit PathCall(IceConfig device_config = {},
                    ice::Nomination nomination = ice::Nomination::aggressive)
      : IceCall(device_config, nomination) {}
  // Offer/answer at time zero: candidates and credentials both ways.
  void start() {
    EXPECT_TRUE(device.add_host_socket(now, kDeviceUdp).ok());
    EXPECT_TRUE(
        device.add_local_candidate(now, tcp_candidate(kDeviceActive, TcpType::active)).ok());
    device.end_of_local_sockets(now);
    EXPECT_TRUE(server.add_host_socket(now, kServerUdp).ok());
    EXPECT_TRUE(
        server.add_local_candidate(now, tcp_candidate(kServerPassive, TcpType::passive)).ok());
    server.end_of_local_sockets(now);
    exchange_candidates();
  }

  std::optional<Duration> route(const Transmit& t, bool from_device) override {
    const bool tcp = t.protocol != TransportProtocol::udp;
    if (tcp ? tcp_down : udp_down) return std::nullopt;
    (tcp ? tcp_sent : udp_sent) += from_device;
    return tcp ? tcp_one_way : udp_one_way;
  }
  void deliver(const Flight& f) override {
    const Transmit& t = f.t;
    if (t.protocol == TransportProtocol::udp) {
      IceAgent& to = f.to_server ? server : device;
      if (!to.handle_packet(now, t.to, t.from, t.data)) ++(f.to_server ? server_data : device_data);
      return;
    }
    // The TCP connection: the device's active candidate to the server's passive one; the server
    // sees the connection's source port, and answers to it.
    if (f.to_server) {
      EXPECT_EQ(t.from, kDeviceActive);
      EXPECT_EQ(t.to, kServerPassive);
      if (!server.handle_packet(now, kServerPassive, kDeviceTcpSource, t.data,
                                TransportProtocol::tcp))
        ++server_data;
    } else {
      EXPECT_EQ(t.to, kDeviceTcpSource);
      if (!device.handle_packet(now, kDeviceActive, kServerPassive, t.data, TransportProtocol::tcp))
        ++device_data;
    }
  }
  void on_selected(const ice::event::SelectedPairChanged& e) override {
    selections.push_back(e.pair.local.transport);
    if (!selected_at) selected_at = now;
  }
  bool selected(TransportProtocol p) const {
    return device.selected_pair() && device.selected_pair()->local.transport == p &&
           server.selected_pair() && server.selected_pair()->local.transport == p;
  }

  Duration udp_one_way = milliseconds(40);
  Duration tcp_one_way = milliseconds(40);
  bool udp_down = false;
  bool tcp_down = false;
  uint64_t udp_sent = 0, tcp_sent = 0;
  uint64_t server_data = 0, device_data = 0;
  std::vector<TransportProtocol> selections;
  std::optional<Instant> selected_at;
};

TEST(IcePathChoice, UdpSilentlyDroppedTcpCarriesTheDataRightAfterTheGrace) {
  PathCall call;
  call.device.set_udp_grace_from_round_trip(milliseconds(600));  // a POST of 600 ms
  EXPECT_EQ(call.device.udp_grace(), milliseconds(1200));
  call.udp_down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::tcp); }, seconds(5)));
  // Not before the grace, and one TCP round trip (the nominating check) after it.
  EXPECT_GE(*call.selected_at - Instant(), milliseconds(1200));
  EXPECT_LE(*call.selected_at - Instant(), milliseconds(1200) + milliseconds(100));
  ASSERT_EQ(call.selections.size(), 1u);
  // Data goes over the TCP pair, in both directions.
  ASSERT_TRUE(call.device.send(Bytes{0x17, 0xfe, 0xfd}).ok());
  ASSERT_TRUE(call.server.send(Bytes{0x17, 0xfe, 0xfd}).ok());
  ASSERT_TRUE(call.run([&] { return call.server_data == 1 && call.device_data == 1; }, seconds(1)));
  EXPECT_GT(call.tcp_sent, 0u);
}

TEST(IcePathChoice, UdpWinsEvenWhenTcpAnswersFirst) {
  PathCall call;
  call.udp_one_way = milliseconds(150);  // TCP's check comes back long before UDP's
  call.tcp_one_way = milliseconds(20);
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::udp); }, seconds(5)));
  // TCP was valid first but never selected on either side.
  ASSERT_EQ(call.selections.size(), 1u);
  EXPECT_EQ(call.selections[0], TransportProtocol::udp);
  EXPECT_GT(call.tcp_sent, 0u);
  call.run([] { return false; }, seconds(10));
  EXPECT_TRUE(call.selected(TransportProtocol::udp));
  EXPECT_EQ(call.selections.size(), 1u);
}

TEST(IcePathChoice, RegularNominationWaitsForTheGraceAndStillPrefersUdp) {
  {
    PathCall call({}, ice::Nomination::regular);
    call.udp_down = true;
    call.start();
    ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::tcp); }, seconds(5)));
    // The TCP pair was valid after one round trip, but waited for the 2 s grace (not the
    // 500 ms nomination delay).
    EXPECT_GE(*call.selected_at - Instant(), seconds(2));
    EXPECT_LE(*call.selected_at - Instant(), seconds(2) + milliseconds(100));
  }
  {
    PathCall call({}, ice::Nomination::regular);
    call.udp_one_way = milliseconds(150);
    call.tcp_one_way = milliseconds(20);
    call.start();
    ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::udp); }, seconds(5)));
    ASSERT_EQ(call.selections.size(), 1u);
  }
}

TEST(IcePathChoice, WithoutUdpPairsTcpIsNominatedAtOnce) {
  // A device with --transport tcp has no UDP candidate: nothing to wait for.
  SeededRandom rng(7);
  IceAgent device(IceConfig{}, rng);
  device.set_role(ice::Role::controlling, ice::Nomination::aggressive);
  Instant now;
  ASSERT_TRUE(device.add_local_candidate(now, tcp_candidate(kDeviceActive, TcpType::active)).ok());
  device.set_remote_credentials(now, "abcd", "0123456789012345678901");
  ASSERT_TRUE(
      device.add_remote_candidate(now, tcp_candidate(kServerPassive, TcpType::passive)).ok());
  auto check = device.poll_transmit();
  ASSERT_TRUE(check);
  EXPECT_EQ(check->protocol, TransportProtocol::tcp);
  auto parsed = stun::Message::parse(check->data);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->use_candidate());  // aggressive: nominates with the first check
}

TEST(IcePathChoice, GraceFollowsTheMeasuredRoundTripWithinItsBounds) {
  SeededRandom rng(3);
  IceAgent agent(IceConfig{}, rng);
  EXPECT_EQ(agent.udp_grace(), seconds(2));
  agent.set_udp_grace_from_round_trip(milliseconds(5));  // loopback
  EXPECT_EQ(agent.udp_grace(), seconds(1));
  agent.set_udp_grace_from_round_trip(milliseconds(800));
  EXPECT_EQ(agent.udp_grace(), milliseconds(1600));
  agent.set_udp_grace_from_round_trip(seconds(9));  // GPRS under load
  EXPECT_EQ(agent.udp_grace(), seconds(4));
}

TEST(IcePathChoice, AfterAnIceRestartUdpGetsItsChanceAgain) {
  PathCall call;
  call.udp_down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::tcp); }, seconds(5)));
  // UDP comes back; the next ICE restart (new credentials both ways) moves to UDP.
  call.udp_down = false;
  call.device.restart(call.now);
  call.server.restart(call.now);
  call.server.set_remote_credentials(call.now, call.device.local_credentials().ufrag,
                                     call.device.local_credentials().pwd);
  for (const auto& c : call.device.local_candidates())
    if (c.type != CandidateType::peer_reflexive)
      (void)call.server.add_remote_candidate(call.now, c);
  call.device.set_remote_credentials(call.now, call.server.local_credentials().ufrag,
                                     call.server.local_credentials().pwd);
  for (const auto& c : call.server.local_candidates())
    (void)call.device.add_remote_candidate(call.now, c);
  ASSERT_TRUE(call.run([&] { return call.selected(TransportProtocol::udp); }, seconds(5)));
  EXPECT_EQ(call.selections.back(), TransportProtocol::udp);
}

}  // namespace
}  // namespace cellrtc
