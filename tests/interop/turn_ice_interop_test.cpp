// ICE through a TURN relay: an IceAgent whose only local candidate is the relayed candidate of
// a TurnClient allocation on a real coturn (127.0.0.1, over UDP, TCP and TLS) checks and
// connects with a second agent on a plain UDP socket, and application data flows both ways
// through the relay. The test is the glue a runtime would be: the agent's transmits from the
// relayed address go to TurnClient::send_to, PeerData goes to IceAgent::handle_packet.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/ice/ice_agent.h"
#include "core/ice/relayed_candidate.h"
#include "core/turn/turn_client.h"
#include "interop/coturn.h"
#include "interop/turn_driver.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using turn::TurnTransport;

class TurnIceInterop : public ::testing::TestWithParam<TurnTransport> {};

TEST_P(TurnIceInterop, IceConnectsOverTheRelayedCandidate) {
  CoturnOptions options;
  options.allow_loopback_peers = true;
  TestTlsIdentity identity;
  if (GetParam() == TurnTransport::tls) {
    auto tls = make_test_tls_identity("localhost");
    ASSERT_TRUE(tls);
    identity = *tls;
    options.tls_cert_pem = identity.cert_pem;
    options.tls_key_pem = identity.key_pem;
  }
  std::string error;
  auto coturn = CoturnServer::start(options, &error);
  ASSERT_TRUE(coturn) << error;

  SeededRandom turn_rng(1), rng_a(2), rng_b(3);
  auto [username, password] = coturn->rest_credentials("ice-relay");
  turn::TurnClientConfig tc;
  tc.transport = GetParam();
  tc.credentials = {username, password};
  turn::TurnClient turn(tc, turn_rng);
  TurnDriverOptions o;
  o.transport = GetParam();
  o.server = GetParam() == TurnTransport::tls ? coturn->tls_address() : coturn->address();
  o.ca_pem = identity.cert_pem;
  o.server_name = "localhost";
  auto driver = TurnDriver::connect(o, turn, &error);
  ASSERT_TRUE(driver) << error;
  ASSERT_TRUE(turn.allocate(driver->now()).ok());
  auto allocated = driver->wait_for<turn::event::Allocated>(10s);
  ASSERT_TRUE(allocated) << driver->describe();

  // Agent A: relay only (the device behind a NAT that lets nothing else through).
  ice::IceConfig ca;
  ca.role = ice::Role::controlling;
  ice::IceAgent a(ca, rng_a);
  const ice::Candidate relayed = ice::make_relayed_candidate(
      allocated->relayed, allocated->mapped, turn::to_transport_protocol(GetParam()), 0);
  ASSERT_TRUE(a.add_local_candidate(driver->now(), relayed).ok());
  a.end_of_local_sockets(driver->now());

  // Agent B: one host candidate on a UDP socket.
  PeerSocket socket_b;
  ASSERT_TRUE(socket_b.open());
  ice::IceConfig cb;
  cb.role = ice::Role::controlled;
  ice::IceAgent b(cb, rng_b);
  ASSERT_TRUE(b.add_host_socket(driver->now(), socket_b.address()).ok());
  b.end_of_local_sockets(driver->now());

  a.set_remote_credentials(driver->now(), b.local_credentials().ufrag, b.local_credentials().pwd);
  b.set_remote_credentials(driver->now(), a.local_credentials().ufrag, a.local_credentials().pwd);
  for (const auto& c : b.local_candidates())
    ASSERT_TRUE(a.add_remote_candidate(driver->now(), c).ok());
  for (const auto& c : a.local_candidates())
    ASSERT_TRUE(b.add_remote_candidate(driver->now(), c).ok());

  std::vector<std::string> app_at_a, app_at_b;
  // One round of moving everything: A's transmits into the relay, the relay's data into A,
  // B's transmits onto its socket, the socket's datagrams into B, and both agents' timers.
  auto step = [&] {
    const Instant now = driver->now();
    while (auto t = a.poll_transmit()) {
      ASSERT_EQ(t->from, relayed.address) << "A has only its relayed candidate to send from";
      // Refused only while too much waits for a permission: like a lost packet, which ICE
      // retransmits.
      (void)turn.send_to(now, t->to, t->data);
    }
    driver->pump(5ms);
    for (auto& e : driver->take_events()) {
      if (auto* d = std::get_if<turn::event::PeerData>(&e)) {
        if (!a.handle_packet(driver->now(), relayed.address, d->peer, d->data))
          app_at_a.emplace_back(as_chars(d->data));
      } else if (auto* err = std::get_if<turn::event::TurnError>(&e)) {
        ADD_FAILURE() << "TURN error: " << err->reason;
      }
    }
    while (auto t = b.poll_transmit())
      ASSERT_TRUE(socket_b.send(t->to, std::string(as_chars(t->data))));
    for (int i = 0; i < 64; ++i) {
      auto got = socket_b.receive(0ms);
      if (!got) break;
      if (!b.handle_packet(driver->now(), socket_b.address(), got->first, as_bytes(got->second)))
        app_at_b.push_back(got->second);
    }
    for (ice::IceAgent* agent : {&a, &b}) {
      if (auto t = agent->next_timeout(); t && *t <= driver->now())
        agent->handle_timeout(driver->now());
    }
  };

  auto run_until = [&](auto done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < deadline; ++i) {
      step();
      if (::testing::Test::HasFatalFailure() || done()) break;
    }
    return done();
  };

  ASSERT_TRUE(run_until(
      [&] {
        return a.state() == ice::IceState::connected && b.state() == ice::IceState::connected &&
               a.selected_pair() && b.selected_pair();
      },
      15s))
      << "A " << ice::to_string(a.state()) << ", B " << ice::to_string(b.state()) << "\n"
      << driver->describe();
  EXPECT_EQ(a.selected_pair()->local.type, ice::CandidateType::relayed);
  EXPECT_EQ(a.selected_pair()->remote.address, socket_b.address());
  EXPECT_EQ(b.selected_pair()->remote.address, allocated->relayed);

  // Application data both ways over the selected pair, i.e. through the relay.
  ASSERT_TRUE(a.send(Bytes{'a', '-', 't', 'o', '-', 'b'}).ok());
  ASSERT_TRUE(b.send(Bytes{'b', '-', 't', 'o', '-', 'a'}).ok());
  EXPECT_TRUE(run_until([&] { return !app_at_a.empty() && !app_at_b.empty(); }, 10s))
      << driver->describe();
  ASSERT_FALSE(app_at_b.empty());
  ASSERT_FALSE(app_at_a.empty());
  EXPECT_EQ(app_at_b.front(), "a-to-b");
  EXPECT_EQ(app_at_a.front(), "b-to-a");

  turn.close(driver->now());
  EXPECT_TRUE(driver->wait_for<turn::event::Closed>(10s)) << driver->describe();
}

INSTANTIATE_TEST_SUITE_P(Transports, TurnIceInterop,
                         ::testing::Values(TurnTransport::udp, TurnTransport::tcp,
                                           TurnTransport::tls),
                         [](const auto& p) { return std::string(turn::to_string(p.param)); });

}  // namespace
}  // namespace cellrtc::interop
