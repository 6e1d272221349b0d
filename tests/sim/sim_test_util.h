// Shared pieces of the simulator tests: address literals and a two-host topology.
#pragma once

#include <gtest/gtest.h>

#include "sim/network.h"
#include "sim/probe.h"

namespace cellrtc::sim::testing {

inline IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}
inline SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}
inline double seconds_of(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}
inline Instant at_s(double s) {
  return Instant::from_us(static_cast<int64_t>(s * 1e6));
}

// Two public hosts; `a`'s uplink is the link under test, everything else is ideal.
struct TwoHosts {
  explicit TwoHosts(const LinkConfig& link, uint64_t seed = 1) : net(seed) {
    Attachment a_links;
    a_links.up = link;
    a_node = net.add_host("a", ip("198.51.100.10"), net.internet(), a_links).value();
    b_node = net.add_host("b", ip("198.51.100.20"), net.internet()).value();
    a_addr = net.bind(a_node, 1000, a).value();
    b_addr = net.bind(b_node, 2000, b).value();
  }
  Link& link() { return net.uplink(a_node); }
  // One-way delays of everything b received, in seconds.
  std::vector<double> delays() const {
    std::vector<double> out;
    for (const Received& r : b.received())
      out.push_back(seconds_of(r.at - *r.sent_at()));
    return out;
  }

  Network net;
  NodeId a_node = 0;
  NodeId b_node = 0;
  Probe a;
  Probe b;
  SocketAddress a_addr;
  SocketAddress b_addr;
};

}  // namespace cellrtc::sim::testing
