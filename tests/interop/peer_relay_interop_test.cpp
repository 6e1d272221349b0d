// PeerConnection with TURN relays against a real coturn on loopback, driven by the runtime's
// EndpointDriver (UDP sockets and plain streams): peer A has no host candidate at all (relay
// policy) and gathers from two servers in parallel, the first of them dead; its relayed
// candidate over UDP, TCP or TLS connects to peer B, a data channel opens and carries messages.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "core/dtls/certificate.h"
#include "core/turn/ice_server_uri.h"
#include "interop/coturn.h"
#include "interop/turn_driver.h"
#include "runtime/endpoint_driver.h"
#include "support/peer_endpoint.h"

namespace cellrtc::interop {
namespace {

using testing::PeerEndpoint;
using turn::TurnTransport;

class PeerRelayInterop : public ::testing::TestWithParam<TurnTransport> {};

TEST_P(PeerRelayInterop, RelayOnlyPeerConnectsThroughCoturn) {
  CoturnOptions options;
  options.allow_loopback_peers = true;
  auto identity = make_test_tls_identity("turn.cellrtc.test");
  ASSERT_TRUE(identity);
  if (GetParam() == TurnTransport::tls) {
    options.tls_cert_pem = identity->cert_pem;
    options.tls_key_pem = identity->key_pem;
  }
  std::string error;
  auto coturn = CoturnServer::start(options, &error);
  ASSERT_TRUE(coturn) << error;
  auto dead_port = pick_free_loopback_port();
  ASSERT_TRUE(dead_port);

  auto loop = runtime::EventLoop::create();
  ASSERT_TRUE(loop);
  SeededRandom rng_a(21), rng_b(22);
  auto cert_a = dtls::Certificate::generate(rng_a, "a");
  auto cert_b = dtls::Certificate::generate(rng_b, "b");
  ASSERT_TRUE(cert_a && cert_b);
  peer::PeerConfig config_a;
  config_a.certificate = &*cert_a;
  peer::PeerConfig config_b;
  config_b.certificate = &*cert_b;
  PeerEndpoint a(config_a, rng_a), b(config_b, rng_b);
  runtime::EndpointDriver driver_a(**loop, a), driver_b(**loop, b);
  const Instant t0 = (*loop)->now();

  // B: an ordinary peer with a host candidate. A: only the socket TURN over UDP goes out of.
  auto host_b = driver_b.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(host_b);
  ASSERT_TRUE(b.pc.add_host_socket(t0, *host_b).ok());
  auto turn_socket = driver_a.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(turn_socket);
  a.pc.end_of_local_sockets(t0);
  ASSERT_TRUE(a.pc.create_data_channel(t0, {.label = "video"}).ok());
  auto offer = a.pc.create_offer(t0);
  ASSERT_TRUE(offer.ok());
  ASSERT_TRUE(b.pc.set_remote_description(t0, *offer).ok());
  auto answer = b.pc.create_answer(t0);
  ASSERT_TRUE(answer.ok());
  ASSERT_TRUE(a.pc.set_remote_description(t0, *answer).ok());

  // Two servers: the first listed is dead (nothing listens), the second is coturn.
  const char* scheme = GetParam() == TurnTransport::tls ? "turns" : "turn";
  const char* transport = GetParam() == TurnTransport::udp ? "udp" : "tcp";
  const uint16_t port =
      GetParam() == TurnTransport::tls ? coturn->tls_address().port() : coturn->port();
  auto [username, password] = coturn->rest_credentials("device-relay");
  turn::RelayGathererConfig relays;
  relays.udp_local = *turn_socket;
  relays.ca_pem = identity->cert_pem;
  for (uint16_t p : {*dead_port, port}) {
    auto uri = turn::parse_ice_server_uri(std::string(scheme) + ":127.0.0.1:" + std::to_string(p) +
                                          "?transport=" + transport);
    ASSERT_TRUE(uri.ok());
    relays.servers.push_back(turn::RelayServer{*uri,
                                               SocketAddress(IpAddress::loopback_v4(), p),
                                               {username, password},
                                               "turn.cellrtc.test"});
  }
  relays.allocation_timeout = seconds(20);
  ASSERT_TRUE(a.pc.start_relays(t0, relays).ok());
  a.drain(t0);
  driver_a.wake();
  driver_b.wake();

  // Trickle A's candidates to B as they come (the relayed one; A has no other).
  size_t trickled = 0;
  auto trickle = [&] {
    for (; trickled < a.candidates.size(); ++trickled) {
      ASSERT_NE(a.candidates[trickled].find("typ relay"), std::string::npos);
      ASSERT_TRUE(b.pc.add_remote_candidate((*loop)->now(), a.candidates[trickled]).ok());
      b.drain((*loop)->now());
      driver_b.wake();
    }
  };
  const bool opened = (*loop)->run_until(
      [&] {
        trickle();
        return !a.open.empty() && !b.open.empty();
      },
      t0 + seconds(15));
  ASSERT_TRUE(opened) << "A failure: " << a.failure.value_or("-") << "\n" << coturn->log_tail();
  const Duration to_open = (*loop)->now() - t0;

  // The relayed candidate came from coturn (server 1) without waiting for the dead server 0.
  std::optional<Duration> took;
  for (const auto& e : a.relay_events)
    if (auto* c = std::get_if<turn::event::RelayedCandidate>(&e)) {
      EXPECT_EQ(c->server, 1u);
      took = c->took;
    }
  ASSERT_TRUE(took);
  EXPECT_LT(*took, seconds(5));
  std::printf("[ measure ] TURN-%s allocation %.1f ms, channel open %.1f ms\n",
              GetParam() == TurnTransport::udp   ? "UDP"
              : GetParam() == TurnTransport::tcp ? "TCP"
                                                 : "TLS",
              took->count() / 1000.0, to_open.count() / 1000.0);
  ASSERT_TRUE(a.pc.ice().selected_pair());
  EXPECT_EQ(a.pc.ice().selected_pair()->local.type, ice::CandidateType::relayed);

  // Messages both ways through the relay.
  const uint16_t id_a = a.open.begin()->first;
  const uint16_t id_b = b.open.begin()->first;
  ASSERT_TRUE(a.pc.send((*loop)->now(), id_a, Bytes{'f', 'r', 'a', 'm', 'e'}).ok());
  ASSERT_TRUE(b.pc.send((*loop)->now(), id_b, Bytes{'a', 'c', 'k'}).ok());
  driver_a.wake();
  driver_b.wake();
  ASSERT_TRUE((*loop)->run_until([&] { return !a.messages.empty() && !b.messages.empty(); },
                                 (*loop)->now() + seconds(5)));
  EXPECT_EQ(b.messages[0].data, (Bytes{'f', 'r', 'a', 'm', 'e'}));
  EXPECT_EQ(a.messages[0].data, (Bytes{'a', 'c', 'k'}));

  // Closing deallocates (Refresh with LIFETIME 0) and closes the streams.
  a.pc.close((*loop)->now());
  driver_a.wake();
  ASSERT_TRUE(
      (*loop)->run_until([&] { return a.pc.relays()->closed(); }, (*loop)->now() + seconds(5)));
  EXPECT_EQ(a.pc.relays()->server_state(1), turn::RelayServerState::closed);
}

// TURN REST credentials whose time has passed (what a device would hold after sleeping past
// their lifetime) are refused by coturn, and the failure says why.
TEST(PeerRelayInteropCredentials, ExpiredCredentialsAreRefusedWithAClearReason) {
  std::string error;
  auto coturn = CoturnServer::start({}, &error);
  ASSERT_TRUE(coturn) << error;
  auto loop = runtime::EventLoop::create();
  ASSERT_TRUE(loop);
  SeededRandom rng(31);
  auto cert = dtls::Certificate::generate(rng, "a");
  ASSERT_TRUE(cert);
  peer::PeerConfig config;
  config.certificate = &*cert;
  PeerEndpoint a(config, rng);
  runtime::EndpointDriver driver(**loop, a);
  auto socket = driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(socket);
  auto [username, password] = coturn->rest_credentials("device-expired", std::chrono::seconds(-60));
  auto uri = turn::parse_ice_server_uri("turn:127.0.0.1:" + std::to_string(coturn->port()));
  ASSERT_TRUE(uri.ok());
  turn::RelayGathererConfig relays;
  relays.udp_local = *socket;
  relays.servers.push_back(turn::RelayServer{*uri, coturn->address(), {username, password}, {}});
  ASSERT_TRUE(a.pc.start_relays((*loop)->now(), relays).ok());
  a.drain((*loop)->now());
  driver.wake();
  const turn::event::ServerFailed* failed = nullptr;
  ASSERT_TRUE((*loop)->run_until(
      [&] {
        for (const auto& e : a.relay_events)
          if (auto* f = std::get_if<turn::event::ServerFailed>(&e)) failed = f;
        return failed != nullptr;
      },
      (*loop)->now() + seconds(10)));
  EXPECT_NE(failed->reason.find("unauthorized (401)"), std::string::npos) << failed->reason;
  EXPECT_NE(failed->reason.find("expired"), std::string::npos) << failed->reason;
  EXPECT_EQ(a.pc.relays()->server_state(0), turn::RelayServerState::failed);
}

INSTANTIATE_TEST_SUITE_P(Transports, PeerRelayInterop,
                         ::testing::Values(TurnTransport::udp, TurnTransport::tcp,
                                           TurnTransport::tls),
                         [](const auto& p) { return std::string(turn::to_string(p.param)); });

}  // namespace
}  // namespace cellrtc::interop
