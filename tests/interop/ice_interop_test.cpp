// Our ICE agent against code no one here wrote, on loopback: coturn as a STUN server, aioice
// as the peer in both roles. Our agent runs on the POSIX runtime (real sockets, real clock).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "core/ice/candidate.h"
#include "interop/aioice_peer.h"
#include "interop/coturn.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/ice_endpoint.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using testing::IceEndpoint;

// Our agent on one 127.0.0.1 socket, driven by an event loop.
struct LoopbackAgent {
  explicit LoopbackAgent(ice::IceConfig config) : endpoint(std::move(config), rng) {
    loop = std::move(runtime::EventLoop::create().value());
    driver = std::make_unique<runtime::EndpointDriver>(*loop, endpoint);
    auto bound = driver->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
    EXPECT_TRUE(bound.ok());
    address = *bound;
    EXPECT_TRUE(endpoint.agent.add_host_socket(loop->now(), address).ok());
    endpoint.agent.end_of_local_sockets(loop->now());
    endpoint.drain(loop->now());
    driver->wake();
  }
  bool run_until(const std::function<bool()>& done, Duration limit) {
    return loop->run_until(done, loop->now() + limit);
  }

  runtime::OsRandom rng;
  IceEndpoint endpoint;
  std::unique_ptr<runtime::EventLoop> loop;
  std::unique_ptr<runtime::EndpointDriver> driver;
  SocketAddress address;
};

TEST(IceInterop, ServerReflexiveAddressFromCoturn) {
  std::string error;
  auto coturn = CoturnServer::start({}, &error);
  ASSERT_TRUE(coturn) << error;
  ice::IceConfig config;
  config.stun_servers = {coturn->address()};
  LoopbackAgent us(config);
  ASSERT_TRUE(us.run_until([&] { return us.endpoint.gathering_complete; }, seconds(10)));
  auto results = us.endpoint.agent.stun_server_results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].server, coturn->address());
  // No NAT on loopback: coturn sees us at our own address, which makes the reflexive
  // candidate redundant (RFC 8445 section 5.1.3): gathered, checked, not announced.
  ASSERT_TRUE(results[0].mapped.has_value()) << coturn->log_tail();
  EXPECT_EQ(*results[0].mapped, us.address);
  EXPECT_EQ(us.endpoint.local_candidates.size(), 1u);
}

// Runs a call between our agent (in `our_role`) and aioice (in the other role), then moves a
// datagram each way on the selected pair.
void call_aioice(ice::Role our_role) {
  std::string error;
  auto peer = AioicePeer::start({.controlling = our_role == ice::Role::controlled}, &error);
  ASSERT_TRUE(peer) << error;
  auto theirs = peer->local_description(10s);
  ASSERT_TRUE(theirs) << peer->log_tail();

  ice::IceConfig config;
  config.role = our_role;
  LoopbackAgent us(config);
  auto& agent = us.endpoint.agent;
  agent.set_remote_credentials(us.loop->now(), theirs->ufrag, theirs->pwd);
  for (const auto& line : theirs->candidates) {
    auto c = ice::parse_candidate(line);
    ASSERT_TRUE(c.ok()) << line << ": " << c.error().reason;
    ASSERT_TRUE(agent.add_remote_candidate(us.loop->now(), *c).ok()) << line;
  }
  agent.set_remote_end_of_candidates(us.loop->now());
  us.endpoint.drain(us.loop->now());
  ASSERT_EQ(us.endpoint.local_candidates.size(), 1u);
  ASSERT_TRUE(peer->set_remote({agent.local_credentials().ufrag,
                                agent.local_credentials().pwd,
                                {ice::format_candidate(us.endpoint.local_candidates[0])}}));
  us.driver->wake();

  // Our loop runs on its own thread until we are connected and have aioice's datagram; this
  // thread talks to aioice meanwhile.
  bool ours_done = false;
  std::thread runner([&] {
    ours_done = us.run_until(
        [&] { return us.endpoint.connected() && !us.endpoint.app_data.empty(); }, seconds(15));
  });
  auto result = peer->wait_for_result(10s);
  bool sent = result && result->connected && peer->send(as_bytes("from aioice"));
  runner.join();
  ASSERT_TRUE(result) << peer->log_tail();
  ASSERT_TRUE(result->connected) << result->error;
  ASSERT_TRUE(sent);
  ASSERT_TRUE(ours_done) << "our agent: " << ice::to_string(agent.state());
  EXPECT_EQ(us.endpoint.app_data[0],
            Bytes(as_bytes("from aioice").begin(), as_bytes("from aioice").end()));
  EXPECT_EQ(agent.role(), our_role);
  ASSERT_TRUE(agent.selected_pair());
  EXPECT_EQ(agent.selected_pair()->base, us.address);

  // And back: our agent sends on its selected pair, aioice receives it.
  ASSERT_TRUE(
      agent.send(Bytes(as_bytes("from cellrtc").begin(), as_bytes("from cellrtc").end())).ok());
  us.driver->wake();
  auto got = peer->receive(5s);
  ASSERT_TRUE(got) << peer->log_tail();
  EXPECT_EQ(as_chars(*got), "from cellrtc");
  const auto& stats = agent.stats();
  ASSERT_TRUE(stats.nominated && stats.started);
  std::printf("[ aioice ] we were %s: selected after %.1f ms, %u checks, %u retransmissions\n",
              our_role == ice::Role::controlling ? "controlling" : "controlled",
              static_cast<double>((*stats.nominated - *stats.started).count()) / 1000.0,
              stats.checks_sent, stats.retransmissions);
  EXPECT_TRUE(peer->close(5s));
}

TEST(IceInterop, AioiceControlledWeControl) {
  call_aioice(ice::Role::controlling);
}

TEST(IceInterop, AioiceControllingWeAreControlled) {
  call_aioice(ice::Role::controlled);
}

}  // namespace
}  // namespace cellrtc::interop
