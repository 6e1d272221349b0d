// PeerStats::round_trips under virtual time: a whole call, device (full ICE, offerer) to a lite
// server, over a clean link and over a lossy one.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/peer_scenario.h"

namespace cellrtc {
namespace {

using peer::SetupRoundTrips;
using testing::PeerScenario;

bool operator==(const SetupRoundTrips& a, const SetupRoundTrips& b) {
  return a.ice == b.ice && a.dtls == b.dtls && a.sctp == b.sctp && a.channel == b.channel;
}

void print(const char* who, const SetupRoundTrips& r) {
  std::printf("[ round trips ] %s: ICE %u, DTLS %u, SCTP %u, channel %u\n", who, r.ice, r.dtls,
              r.sctp, r.channel);
}

struct Outcome {
  bool opened = false;
  SetupRoundTrips device, server;
};

Outcome call(uint64_t seed, const sim::Attachment& link) {
  PeerScenario s(seed, link);
  Outcome o;
  if (!s.start(milliseconds(200), {.label = "video"})) return o;
  // Open at both ends, and the device's OPEN acknowledged (its count ends there).
  o.opened = s.run_until_open(seconds(60)) && s.net.run_until(
                                                  [&] {
                                                    const auto* c =
                                                        s.device->pc.channels().find(s.channel_id);
                                                    return c && c->acked;
                                                  },
                                                  s.net.now() + seconds(60));
  o.device = s.device->pc.stats().round_trips;
  o.server = s.server->pc.stats().round_trips;
  return o;
}

TEST(PeerRoundTrips, CleanLinkTakesTheProtocolMinimum) {
  Outcome o = call(1, testing::fixed_link(milliseconds(50)));
  ASSERT_TRUE(o.opened);
  print("device, clean", o.device);
  print("server, clean", o.server);
  // ICE: the controlling device nominates aggressively toward a lite server (RFC 8445
  // section 8.1.1, the peer is lite): one check; the lite server sends none and answers it.
  EXPECT_EQ(o.device.ice, 1u);
  EXPECT_EQ(o.server.ice, 1u);
  // DTLS 1.2 full handshake without HelloVerifyRequest: two flights each way (RFC 6347
  // section 4.2.4, figure 1, without the cookie exchange).
  EXPECT_EQ(o.device.dtls, 2u);
  EXPECT_EQ(o.server.dtls, 2u);
  // SCTP: both ends send INIT at once (RFC 8841 section 10) and the INITs cross: each end
  // answers the other's with an INIT ACK, sends a COOKIE ECHO and answers the other's with a
  // COOKIE ACK (RFC 9260 section 5.2.4): four packets each.
  EXPECT_EQ(o.device.sctp, 4u);
  EXPECT_EQ(o.server.sctp, 4u);
  // DCEP: the device's OPEN, once; the server's channel opens on it (0).
  EXPECT_EQ(o.device.channel, 1u);
  EXPECT_EQ(o.server.channel, 0u);
}

TEST(PeerRoundTrips, LossCostsRetransmittedRoundTrips) {
  const Outcome clean = call(1, testing::fixed_link(milliseconds(50)));
  ASSERT_TRUE(clean.opened);
  sim::LinkConfig lossy;
  lossy.delay = milliseconds(50);
  lossy.loss = 0.25;
  const auto link = sim::Attachment::symmetric(lossy);
  SetupRoundTrips extra{};
  int opened = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Outcome o = call(seed, link);
    if (!o.opened) continue;
    ++opened;
    // Loss never saves a round trip...
    EXPECT_GE(o.device.ice, clean.device.ice) << seed;
    EXPECT_GE(o.device.dtls, clean.device.dtls) << seed;
    EXPECT_GE(o.device.channel, clean.device.channel) << seed;
    EXPECT_GE(o.server.dtls, clean.server.dtls) << seed;
    // ...the counts are the stack's own, so a seed repeats them exactly...
    Outcome again = call(seed, link);
    EXPECT_TRUE(again.device == o.device && again.server == o.server) << seed;
    extra.ice += o.device.ice - clean.device.ice;
    extra.dtls += o.device.dtls - clean.device.dtls + o.server.dtls - clean.server.dtls;
    // A lost INIT turns the crossing into a plain four-way handshake (two packets each), so
    // SCTP's count can also fall below the clean one; what loss adds is retransmissions.
    if (o.device.sctp > clean.device.sctp || o.server.sctp > clean.server.sctp) ++extra.sctp;
    extra.channel += o.device.channel - clean.device.channel;
  }
  std::printf(
      "[ round trips ] 25 %% loss each way, %d of 20 calls opened; retransmitted round "
      "trips over all: ICE %u, DTLS %u, channel %u; calls with SCTP setup retransmissions %u\n",
      opened, extra.ice, extra.dtls, extra.channel, extra.sctp);
  EXPECT_GE(opened, 15);
  // ...and at 25 % loss each phase loses a packet in some of the calls.
  EXPECT_GT(extra.ice, 0u);
  EXPECT_GT(extra.dtls, 0u);
  EXPECT_GT(extra.sctp, 0u);
  EXPECT_GT(extra.channel, 0u);
}

}  // namespace
}  // namespace cellrtc
