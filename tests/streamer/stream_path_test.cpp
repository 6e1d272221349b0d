// The stream path names of the publisher's and the agent's log lines: the same words as the
// viewer page's (docs/protocol.md, "Direct mode"), a relay named by its transport to the TURN
// server rather than by the relayed address's UDP.
#include "core/streamer/stream_path.h"

#include <gtest/gtest.h>

#include "core/ice/relayed_candidate.h"

namespace cellrtc::streamer {
namespace {

ice::Candidate relayed(TransportProtocol to_server) {
  return ice::make_relayed_candidate(SocketAddress::parse("203.0.113.20:50000").value(),
                                     SocketAddress::parse("100.64.0.2:40000").value(), to_server,
                                     0);
}

TEST(StreamPath, RelaysAreNamedByTheirTransportToTheTurnServer) {
  EXPECT_STREQ(stream_path(relayed(TransportProtocol::udp)), "turn-udp");
  EXPECT_STREQ(stream_path(relayed(TransportProtocol::tcp)), "turn-tcp");
  EXPECT_STREQ(stream_path(relayed(TransportProtocol::tls)), "turn-tls");
  // The relayed address itself is UDP whichever way the server is reached.
  EXPECT_EQ(relayed(TransportProtocol::tls).transport, TransportProtocol::udp);
}

TEST(StreamPath, HostAndIceTcpCandidatesAreNamedByTheirOwnTransport) {
  ice::Candidate host;
  host.address = SocketAddress::parse("100.64.0.2:40000").value();
  EXPECT_STREQ(stream_path(host), "udp");
  host.type = ice::CandidateType::server_reflexive;
  EXPECT_STREQ(stream_path(host), "udp");
  ice::Candidate active = host;
  active.type = ice::CandidateType::host;
  active.transport = TransportProtocol::tcp;
  active.tcp_type = ice::TcpType::active;
  EXPECT_STREQ(stream_path(active), "tcp");
}

}  // namespace
}  // namespace cellrtc::streamer
