// The whole chain of a relayed path's loss and return, PeerConnection to PeerConnection, in
// virtual time: a device whose only path is through a TURN server (relay policy: no host
// candidate) streams to an ICE-lite server. The TURN server crashes and comes back without
// its allocations; the device's refresh meets 437 (RFC 8656 section 7.4: no allocation for this
// 5-tuple), the relayed candidate is withdrawn from ICE, a new allocation is made, its relayed
// address joins ICE as a new candidate, the lite server learns it from the checks (RFC 8445
// section 7.3.1.3, peer-reflexive), and the data sent meanwhile arrives, in order. Closing then
// releases the new allocation even when the first deallocation is lost.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/peer_endpoint.h"
#include "support/peer_scenario.h"
#include "support/sim_turn_server.h"

namespace cellrtc {
namespace {

using testing::fixed_link;
using testing::ip;

// Relays handed over by a closed PeerConnection, on its socket.
class RelaysEndpoint final : public DatagramEndpoint {
 public:
  explicit RelaysEndpoint(turn::RelayGatherer& relays) : relays_(relays) {}
  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    relays_.handle_datagram(now, local, from, data);
  }
  void handle_timeout(Instant now) override { relays_.handle_timeout(now); }
  std::optional<Transmit> poll_transmit() override { return relays_.poll_transmit(); }
  std::optional<Instant> next_timeout() const override { return relays_.next_timeout(); }

 private:
  turn::RelayGatherer& relays_;
};

std::string text(const datachannel::event::ChannelMessage& m) {
  return std::string(m.data.begin(), m.data.end());
}

TEST(PeerRelayChainSim, ALostAllocationIsReplacedAndTheDataFlowsAgainOnTheNewCandidate) {
  sim::Network net(7);
  SeededRandom rng_device(71), rng_server(72), rng_turn(73);
  auto cert_device = dtls::Certificate::generate(rng_device, "device").value();
  auto cert_server = dtls::Certificate::generate(rng_server, "server").value();
  auto cgnat =
      net.add_nat("cgnat", ip("100.64.0.1"), {}, net.internet(), fixed_link(milliseconds(20)))
          .value();
  auto device_host = net.add_host("device", ip("10.0.0.2"), cgnat, fixed_link(milliseconds(0)));
  auto server_host =
      net.add_host("server", ip("198.51.100.1"), net.internet(), fixed_link(milliseconds(10)));
  auto turn_host =
      net.add_host("turn", ip("203.0.113.20"), net.internet(), fixed_link(milliseconds(5)));
  ASSERT_TRUE(device_host && server_host && turn_host);
  // A 60 s lifetime: refreshed at 45 s (3/4).
  testing::SimTurnServer turn(net, *turn_host, "1700000600:cam", "secret", 4, 60);

  peer::PeerConfig dc, sc;
  dc.certificate = &cert_device;
  sc.certificate = &cert_server;
  sc.ice.lite = true;
  testing::PeerEndpoint device(dc, rng_device);
  testing::PeerEndpoint server(sc, rng_server);
  const SocketAddress turn_socket = net.bind(*device_host, 5000, device).value();
  const SocketAddress server_addr = net.bind(*server_host, 3478, server).value();
  ASSERT_TRUE(server.pc.add_host_socket(net.now(), server_addr).ok());
  server.pc.end_of_local_sockets(net.now());

  // The device: no host candidate, one TURN server over UDP from its one socket.
  turn::RelayGathererConfig relays;
  relays.servers = {turn::RelayServer{*turn::parse_ice_server_uri("turn:203.0.113.20"),
                                      turn.address(),
                                      {"1700000600:cam", "secret"},
                                      {}}};
  relays.udp_local = turn_socket;
  ASSERT_TRUE(device.pc.start_relays(net.now(), relays).ok());
  device.pc.end_of_local_sockets(net.now());
  auto channel = device.pc.create_data_channel(net.now(), {.label = "video"});
  ASSERT_TRUE(channel);
  net.wake(device);
  ASSERT_TRUE(net.run_until([&] { return device.end_of_candidates; }, net.now() + seconds(5)));
  ASSERT_EQ(device.relay_events.size(), 2u);
  auto* first = std::get_if<turn::event::RelayedCandidate>(&device.relay_events[0]);
  ASSERT_NE(first, nullptr);
  const SocketAddress relayed_1 = first->candidate.address;
  EXPECT_EQ(relayed_1.ip(), ip("203.0.113.20"));

  // Signaling, without delay: the offer carries the relayed candidate only.
  auto offer = device.pc.create_offer(net.now());
  ASSERT_TRUE(offer);
  ASSERT_TRUE(server.pc.set_remote_description(net.now(), *offer).ok());
  auto answer = server.pc.create_answer(net.now());
  ASSERT_TRUE(answer);
  ASSERT_TRUE(device.pc.set_remote_description(net.now(), *answer).ok());
  net.wake(server);
  net.wake(device);
  ASSERT_TRUE(net.run_until([&] { return device.first_open && !server.open.empty(); },
                            net.now() + seconds(10)));
  ASSERT_TRUE(device.pc.ice().selected_pair());
  EXPECT_EQ(device.pc.ice().selected_pair()->base, relayed_1);

  auto send = [&](const std::string& message) {
    ASSERT_TRUE(device.pc.send(net.now(), *channel, as_bytes(message)).ok());
    device.drain(net.now());
    net.wake(device);
  };
  send("before");
  ASSERT_TRUE(net.run_until([&] { return server.messages.size() == 1; }, net.now() + seconds(2)));

  // The TURN server crashes 30 s into the allocation and is back 12 s later without it. Data
  // sent in between waits in SCTP.
  const Instant allocated_at = net.now();
  ASSERT_TRUE(net.run_for(seconds(30)).ok());
  turn.answering = false;
  turn.restart();
  send("during");
  ASSERT_TRUE(net.run_for(seconds(12)).ok());
  turn.answering = true;
  EXPECT_EQ(device.relay_events.size(), 2u);  // nothing noticed yet: no request was refused
  EXPECT_EQ(server.messages.size(), 1u);

  // The refresh (at 45 s) meets 437: the candidate is withdrawn, a new allocation follows.
  ASSERT_TRUE(
      net.run_until([&] { return device.relay_events.size() >= 4; }, allocated_at + seconds(60)));
  auto* lost = std::get_if<turn::event::ServerFailed>(&device.relay_events[2]);
  ASSERT_NE(lost, nullptr);
  ASSERT_TRUE(lost->relayed);
  EXPECT_EQ(*lost->relayed, relayed_1);
  auto* second = std::get_if<turn::event::RelayedCandidate>(&device.relay_events[3]);
  ASSERT_NE(second, nullptr);
  const SocketAddress relayed_2 = second->candidate.address;
  EXPECT_NE(relayed_2, relayed_1);
  EXPECT_EQ(turn.allocations_made, 2u);
  // Nothing got through while the path was gone.
  EXPECT_EQ(server.messages.size(), 1u);

  // The path comes back through the new candidate: what was sent meanwhile arrives first.
  ASSERT_TRUE(net.run_until([&] { return server.messages.size() == 2; }, net.now() + seconds(10)));
  send("after");
  ASSERT_TRUE(net.run_until([&] { return server.messages.size() == 3; }, net.now() + seconds(5)));
  EXPECT_EQ(text(server.messages[0]), "before");
  EXPECT_EQ(text(server.messages[1]), "during");
  EXPECT_EQ(text(server.messages[2]), "after");
  ASSERT_TRUE(device.pc.ice().selected_pair());
  EXPECT_EQ(device.pc.ice().selected_pair()->base, relayed_2);
  EXPECT_EQ(device.relay_events.size(), 4u);
  EXPECT_FALSE(device.failure);
  EXPECT_FALSE(server.failure);

  // Closing deallocates (RFC 8656 section 7.2). The first Refresh with LIFETIME 0 is lost; the
  // connection hands its relays over (take_relays) and whoever holds the socket now drives them:
  // the same request again after 500 ms (RFC 8489 section 6.2.1), answered, done.
  // The server ends the call first: its close_notify closes the device's connection, and the
  // device's close() afterwards still releases the allocation.
  turn.lose_deallocations = 1;
  server.pc.close(net.now());
  net.wake(server);
  ASSERT_TRUE(net.run_until([&] { return device.pc.state() == peer::PeerState::closed; },
                            net.now() + seconds(2)));
  EXPECT_TRUE(turn.deallocations.empty());
  device.pc.close(net.now());
  net.wake(device);
  ASSERT_TRUE(net.run_for(milliseconds(100)).ok());
  ASSERT_EQ(turn.deallocations.size(), 1u);
  auto handed = device.pc.take_relays();
  ASSERT_TRUE(handed);
  EXPECT_FALSE(device.pc.relays());
  ASSERT_TRUE(net.unbind(*device_host, turn_socket.port()).ok());
  RelaysEndpoint closing(*handed);
  ASSERT_TRUE(net.bind(*device_host, turn_socket.port(), closing).ok());
  ASSERT_TRUE(net.run_until([&] { return handed->closed(); }, net.now() + seconds(3)));
  ASSERT_EQ(turn.deallocations.size(), 2u);
  EXPECT_EQ(turn.deallocations[0], turn.deallocations[1]);
  EXPECT_EQ(turn.allocations(), 0u);
}

}  // namespace
}  // namespace cellrtc
