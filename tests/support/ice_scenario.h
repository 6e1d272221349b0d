// ICE calls in the virtual-time simulator: two agents, the topologies of the tests and
// benchmarks (public hosts, NATs of every RFC 4787 kind, cellular-like links), signaling
// carried with a delay, and the figures a scenario reports (round trips to connect).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "sim/network.h"
#include "support/ice_endpoint.h"
#include "support/wire.h"

namespace cellrtc::testing {

inline IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

struct IceScenario {
  explicit IceScenario(uint64_t seed) : net(seed), rng_a(seed * 31 + 1), rng_b(seed * 31 + 2) {}

  // Creates the two endpoints and wires their signaling through the simulator with `delay`.
  void make_agents(ice::IceConfig a_config, ice::IceConfig b_config, Duration delay) {
    a = std::make_unique<IceEndpoint>(std::move(a_config), rng_a);
    b = std::make_unique<IceEndpoint>(std::move(b_config), rng_b);
    auto channel = [this, delay](IceEndpoint& peer, IceEndpoint::Signal s) {
      net.at(net.now() + delay, [this, &peer, s] {
        s(net.now(), peer);
        peer.drain(net.now());
        net.wake(peer);
      });
    };
    a->signal_to(*b, channel);
    b->signal_to(*a, channel);
  }

  // Binds one socket per agent and starts both; credentials travel as signaling.
  void start(sim::NodeId a_host, sim::NodeId b_host, uint16_t a_port = 5000,
             uint16_t b_port = 6000) {
    a_addr = net.bind(a_host, a_port, *a).value();
    b_addr = net.bind(b_host, b_port, *b).value();
    started = net.now();
    a->send_credentials();
    b->send_credentials();
    for (auto [e, addr] : {std::pair{a.get(), a_addr}, std::pair{b.get(), b_addr}}) {
      (void)e->agent.add_host_socket(net.now(), addr);
      e->agent.end_of_local_sockets(net.now());
      e->drain(net.now());
      net.wake(*e);
    }
  }

  bool run_until_connected(Duration limit) {
    return net.run_until([&] { return a->connected() && b->connected(); }, net.now() + limit);
  }

  // Round trips from the start of checks to the first selected pair on the controlling side.
  double round_trips(Duration rtt) const {
    const auto& s = a->agent.stats();
    if (!s.nominated || !s.started) return -1;
    return static_cast<double>((*s.nominated - *s.started).count()) /
           static_cast<double>(rtt.count());
  }

  sim::Network net;
  SeededRandom rng_a, rng_b;
  std::unique_ptr<IceEndpoint> a, b;
  SocketAddress a_addr, b_addr;
  Instant started;
};

// A 3G (UMTS) uplink/downlink pair as a device sees it: 150 ms one way (300 ms RTT), jitter,
// 2 % random loss, 384 kbit/s up, 1 Mbit/s down, 64 KB queues.
inline sim::Attachment umts_link() {
  sim::LinkConfig up;
  up.rate_bps = 384'000;
  up.delay = milliseconds(140);
  up.jitter = milliseconds(20);
  up.loss = 0.02;
  up.queue_limit_bytes = 64 * 1024;
  sim::LinkConfig down = up;
  down.rate_bps = 1'000'000;
  return {up, down};
}

inline sim::Attachment fixed_link(Duration one_way) {
  sim::LinkConfig c;
  c.delay = one_way;
  return sim::Attachment::symmetric(c);
}

}  // namespace cellrtc::testing
