// Relayed candidates for TURN allocations (RFC 8445 sections 5.1.1.2, 5.1.2).
#include "core/ice/relayed_candidate.h"

#include <gtest/gtest.h>

namespace cellrtc::ice {
namespace {

const SocketAddress kRelayed(IpAddress::v4(198, 51, 100, 7), 50000);
const SocketAddress kMapped(IpAddress::v4(203, 0, 113, 5), 41000);

TEST(RelayedCandidate, IsAUdpRelayCandidateWithTheMappedAddressAsRelated) {
  auto c = make_relayed_candidate(kRelayed, kMapped, TransportProtocol::tls, 0);
  EXPECT_EQ(c.type, CandidateType::relayed);
  EXPECT_EQ(c.transport, TransportProtocol::udp);
  EXPECT_EQ(c.address, kRelayed);
  EXPECT_EQ(c.related, kMapped);
  EXPECT_EQ(c.component, 1);
  EXPECT_EQ(c.relay_protocol, TransportProtocol::tls);
  // The SDP form parses back to the same candidate, but for the transport to the TURN server,
  // which only the agent that allocated knows.
  auto parsed = parse_candidate(format_candidate(c));
  ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
  EXPECT_FALSE(parsed->relay_protocol);
  parsed->relay_protocol = c.relay_protocol;
  EXPECT_EQ(*parsed, c);
  EXPECT_NE(format_candidate(c).find("typ relay raddr 203.0.113.5 rport 41000"), std::string::npos)
      << format_candidate(c);
}

TEST(RelayedCandidate, PrefersUdpThenTcpThenTlsThenTheFirstServer) {
  auto prio = [](TransportProtocol t, uint16_t i) {
    return make_relayed_candidate(kRelayed, kMapped, t, i).priority;
  };
  EXPECT_GT(prio(TransportProtocol::udp, 0), prio(TransportProtocol::udp, 1));
  EXPECT_GT(prio(TransportProtocol::udp, 5), prio(TransportProtocol::tcp, 0));
  EXPECT_GT(prio(TransportProtocol::tcp, 5), prio(TransportProtocol::tls, 0));
  EXPECT_GT(prio(TransportProtocol::tls, 0), prio(TransportProtocol::tls, 1));
  // Every (transport, server) has its own local preference (RFC 8445 section 5.1.2.1).
  EXPECT_NE(relayed_local_preference(TransportProtocol::udp, 0),
            relayed_local_preference(TransportProtocol::tcp, 0));
  EXPECT_LE(relayed_local_preference(TransportProtocol::udp, 0), 65535u);
  // Relayed is below every other type (type preference 0), TCP host candidates included.
  const uint32_t lowest_other = compute_priority(
      type_preference(CandidateType::server_reflexive, TransportProtocol::tcp), 0, 1);
  EXPECT_LT(prio(TransportProtocol::udp, 0), lowest_other);
}

TEST(RelayedCandidate, FoundationsFollowServerAndTransport) {
  auto a = make_relayed_candidate(kRelayed, kMapped, TransportProtocol::udp, 0);
  auto b = make_relayed_candidate(SocketAddress(kRelayed.ip(), 50002), kMapped,
                                  TransportProtocol::udp, 0);
  auto c = make_relayed_candidate(kRelayed, kMapped, TransportProtocol::tcp, 0);
  auto d = make_relayed_candidate(kRelayed, kMapped, TransportProtocol::udp, 1);
  EXPECT_EQ(a.foundation, b.foundation);
  EXPECT_NE(a.foundation, c.foundation);
  EXPECT_NE(a.foundation, d.foundation);
  EXPECT_LE(a.foundation.size(), 32u);
}

}  // namespace
}  // namespace cellrtc::ice
