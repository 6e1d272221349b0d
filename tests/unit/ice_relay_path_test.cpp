// Relayed candidates in path choice and when their allocation dies, in virtual time: a device
// (full agent, controlling) with a UDP host candidate and relayed candidates (RFC 8445 section
// 5.1.1.2) toward a lite server with one UDP host candidate. Each local base of the device is
// its own path with a one-way delay and an on/off switch: the host socket is straight UDP, a
// relayed base stands for the TURN server and the connection to it (UDP, TCP or TLS).
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>

#include "core/ice/ice_agent.h"
#include "core/ice/relayed_candidate.h"
#include "support/ice_call.h"

namespace cellrtc {
namespace {

using ice::IceAgent;
using ice::IceConfig;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

const SocketAddress kDeviceUdp = addr("10.0.0.2:5000");
const SocketAddress kMapped = addr("203.0.113.2:5000");
const SocketAddress kRelayA = addr("192.0.2.20:50000");  // first TURN server
const SocketAddress kRelayB = addr("192.0.2.30:50000");  // second TURN server
const SocketAddress kServerUdp = addr("198.51.100.1:3478");

struct Path {
  Duration one_way = milliseconds(40);
  bool down = false;
  uint64_t sent = 0;  // device transmits from this base
};

struct RelayCall : test::IceCall {
  explicit RelayCall(ice::Nomination nomination = ice::Nomination::aggressive)
      : IceCall(IceConfig{}, nomination) {
    paths[kDeviceUdp] = Path{};
  }
  void add_relay(const SocketAddress& relayed, TransportProtocol to_server, uint16_t index,
                 Duration one_way) {
    relays.push_back(ice::make_relayed_candidate(relayed, kMapped, to_server, index));
    paths[relayed] = Path{one_way, false, 0};
  }
  // Offer/answer at time zero.
  void start() {
    EXPECT_TRUE(device.add_host_socket(now, kDeviceUdp).ok());
    for (const auto& c : relays)
      EXPECT_TRUE(device.add_local_candidate(now, c).ok());
    device.end_of_local_sockets(now);
    EXPECT_TRUE(server.add_host_socket(now, kServerUdp).ok());
    server.end_of_local_sockets(now);
    exchange_candidates();
  }

  // The device's base (its `from`, or the server's `to`) names the path.
  std::optional<Duration> route(const Transmit& t, bool from_device) override {
    auto it = paths.find(from_device ? t.from : t.to);
    EXPECT_NE(it, paths.end()) << "no path for " << (from_device ? t.from : t.to).to_string();
    if (it == paths.end()) return std::nullopt;
    if (from_device) ++it->second.sent;
    if (it->second.down) return std::nullopt;
    return it->second.one_way;
  }
  void deliver(const Flight& f) override {
    IceAgent& to = f.to_server ? server : device;
    if (!to.handle_packet(now, f.t.to, f.t.from, f.t.data) && f.to_server) ++server_data;
  }
  void on_selected(const ice::event::SelectedPairChanged& e) override {
    selections.push_back(e.pair.base);
    selected_times.push_back(now);
  }
  // Both sides use the pair whose device base is `base`.
  bool selected(const SocketAddress& base) const {
    return device.selected_pair() && device.selected_pair()->base == base &&
           server.selected_pair() && server.selected_pair()->remote.address == base;
  }

  std::vector<ice::Candidate> relays;
  std::map<SocketAddress, Path> paths;
  uint64_t server_data = 0;
  std::vector<SocketAddress> selections;
  std::vector<Instant> selected_times;
};

// --- Path choice: a relayed candidate reached over TURN-TCP or TURN-TLS is a TCP path

TEST(IceRelayPathChoice, TurnTlsCarriesTheDataOnlyOnceUdpHadItsGrace) {
  RelayCall call;
  call.add_relay(kRelayA, TransportProtocol::tls, 0, milliseconds(30));
  call.paths[kDeviceUdp].down = true;  // UDP silently dropped
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayA); }, seconds(5)));
  // Valid after one round trip through the relay, but held for the 2 s grace like ICE-TCP.
  ASSERT_EQ(call.selections.size(), 1u);
  EXPECT_GE(call.selected_times[0] - Instant(), seconds(2));
  EXPECT_LE(call.selected_times[0] - Instant(), seconds(2) + milliseconds(100));
}

TEST(IceRelayPathChoice, UdpAnsweredLaterStillWinsOverTurnTcp) {
  RelayCall call;
  call.add_relay(kRelayA, TransportProtocol::tcp, 0, milliseconds(20));
  call.paths[kDeviceUdp].one_way = milliseconds(200);  // the relay answers long before UDP
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kDeviceUdp); }, seconds(5)));
  // The TURN-TCP pair was valid first but never selected.
  ASSERT_EQ(call.selections.size(), 1u);
  EXPECT_EQ(call.selections[0], kDeviceUdp);
  EXPECT_GT(call.paths[kRelayA].sent, 0u);
}

TEST(IceRelayPathChoice, TurnUdpIsAUdpPathAndIsNominatedAtOnce) {
  RelayCall call;
  call.add_relay(kRelayA, TransportProtocol::udp, 0, milliseconds(30));
  call.paths[kDeviceUdp].down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayA); }, seconds(5)));
  EXPECT_LT(call.selected_times[0] - Instant(), milliseconds(500));
}

TEST(IceRelayPathChoice, RegularNominationHoldsTurnTlsForTheGraceToo) {
  RelayCall call(ice::Nomination::regular);
  call.add_relay(kRelayA, TransportProtocol::tls, 0, milliseconds(30));
  call.paths[kDeviceUdp].down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayA); }, seconds(5)));
  EXPECT_GE(call.selected_times[0] - Instant(), seconds(2));
  EXPECT_LE(call.selected_times[0] - Instant(), seconds(2) + milliseconds(100));
}

// --- A relayed candidate whose allocation died is withdrawn

TEST(IceRelayWithdrawal, ThePathMovesToTheOtherRelayAndTheDeadOneFallsSilent) {
  RelayCall call;
  call.add_relay(kRelayA, TransportProtocol::udp, 0, milliseconds(30));
  call.add_relay(kRelayB, TransportProtocol::udp, 1, milliseconds(50));
  call.paths[kDeviceUdp].down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayA); }, seconds(5)));
  call.run([] { return false; }, seconds(20));  // consent checks on the relay in use
  ASSERT_TRUE(call.selected(kRelayA));

  // The first TURN server's allocation is gone (its refresh failed).
  call.paths[kRelayA].down = true;
  const Instant lost = call.now;
  ASSERT_TRUE(call.device.withdraw_local_candidate(call.now, kRelayA).ok());
  EXPECT_FALSE(call.device.selected_pair());
  EXPECT_EQ(call.device.state(), ice::IceState::disconnected);
  const uint64_t sent_on_a = call.paths[kRelayA].sent;
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayB); }, seconds(5)));
  // One nominating check's round trip through the second relay, no checking from scratch.
  EXPECT_LE(call.selected_times.back() - lost, milliseconds(150));
  EXPECT_EQ(call.device.state(), ice::IceState::connected);
  // Data flows on the new path; the dead relay never carries anything again.
  ASSERT_TRUE(call.device.send(Bytes{0x17, 0xfe, 0xfd}).ok());
  const uint64_t data_before = call.server_data;
  ASSERT_TRUE(call.run([&] { return call.server_data == data_before + 1; }, seconds(1)));
  call.run([] { return false; }, seconds(40));
  EXPECT_TRUE(call.selected(kRelayB));
  EXPECT_EQ(call.paths[kRelayA].sent, sent_on_a);
  EXPECT_NE(call.device.state(), ice::IceState::failed);
}

TEST(IceRelayWithdrawal, ARelayNotInUseIsNeverCheckedAgain) {
  RelayCall call(ice::Nomination::regular);
  call.add_relay(kRelayA, TransportProtocol::udp, 0, milliseconds(30));
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kDeviceUdp); }, seconds(5)));
  ASSERT_TRUE(call.device.withdraw_local_candidate(call.now, kRelayA).ok());
  const uint64_t sent_on_a = call.paths[kRelayA].sent;
  // An ICE restart pairs the remaining candidates again, not the withdrawn one.
  call.device.restart(call.now);
  while (auto e = call.device.poll_event()) {
    if (auto* c = std::get_if<ice::event::LocalCandidate>(&*e)) {
      EXPECT_NE(c->candidate.address, kRelayA);
    }
  }
  call.server.set_remote_credentials(call.now, call.device.local_credentials().ufrag,
                                     call.device.local_credentials().pwd);
  call.run([] { return false; }, seconds(30));
  EXPECT_TRUE(call.selected(kDeviceUdp));
  EXPECT_EQ(call.selections.size(), 1u);
  EXPECT_EQ(call.paths[kRelayA].sent, sent_on_a);
  // Only relayed candidates can be withdrawn.
  EXPECT_FALSE(call.device.withdraw_local_candidate(call.now, kDeviceUdp).ok());
}

TEST(IceRelayWithdrawal, WithoutAnotherPathTheAgentFailsAfterTheCheckingTimeout) {
  RelayCall call;
  call.add_relay(kRelayA, TransportProtocol::tls, 0, milliseconds(30));
  call.paths[kDeviceUdp].down = true;
  call.start();
  ASSERT_TRUE(call.run([&] { return call.selected(kRelayA); }, seconds(5)));
  call.run([] { return false; }, seconds(60));
  ASSERT_TRUE(call.selected(kRelayA));
  call.paths[kRelayA].down = true;
  const Instant lost = call.now;
  ASSERT_TRUE(call.device.withdraw_local_candidate(call.now, kRelayA).ok());
  // Not at once (the checks started more than 30 s ago), but 30 s after the loss.
  ASSERT_TRUE(call.run([&] { return call.device.state() == ice::IceState::failed; }, seconds(40)));
  EXPECT_GE(call.now - lost, seconds(30));
  EXPECT_FALSE(call.device.send(Bytes{0x17}).ok());
}

}  // namespace
}  // namespace cellrtc
