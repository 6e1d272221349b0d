// Whole calls, device to server, through the simulator: setup time in round trips over a 3G
// link, and frames on an unordered, partially reliable channel through loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "support/peer_scenario.h"

namespace cellrtc {
namespace {

using testing::PeerScenario;

TEST(PeerSim, DeviceToLiteServerOverUmtsOpensInFewRoundTrips) {
  // 300 ms RTT, 2 % loss: offer to open channel, signaling included (one round trip).
  std::vector<double> rtts;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    PeerScenario s(seed, testing::umts_link());
    ASSERT_TRUE(s.start(milliseconds(320), {.label = "video", .ordered = false}));
    ASSERT_TRUE(s.run_until_open(seconds(30)))
        << "seed " << seed << ": " << (s.device->failure ? *s.device->failure : "")
        << (s.server->failure ? *s.server->failure : "");
    rtts.push_back(s.setup_round_trips(milliseconds(320)));
  }
  std::sort(rtts.begin(), rtts.end());
  double median = (rtts[4] + rtts[5]) / 2;
  std::printf("[ setup ] UMTS, offer to open channel at the server: median %.2f RTT, worst %.2f\n",
              median, rtts.back());
  ::testing::Test::RecordProperty("setup_round_trips_median", std::to_string(median));
  // Signaling 1, ICE 1, DTLS 2, SCTP 2 (+1 for the OPEN): about 6-7 without loss.
  EXPECT_LE(median, 8.0);
}

TEST(PeerSim, FramesFlowThroughLossOnAPartiallyReliableChannel) {
  sim::LinkConfig up;
  up.rate_bps = 1'000'000;
  up.delay = milliseconds(75);
  up.loss = 0.02;
  up.queue_limit_bytes = 64 * 1024;
  PeerScenario s(3, {up, up});
  ASSERT_TRUE(
      s.start(milliseconds(170), {.label = "video", .ordered = false, .max_retransmits = 0}));
  ASSERT_TRUE(s.run_until_open(seconds(30)));
  // 10 frames a second of 8 KB for 20 s, each sent only if the channel has room.
  int sent = 0;
  for (int i = 0; i < 200; ++i) {
    s.net.at(s.net.now() + milliseconds(100) * i, [&s, &sent] {
      if (s.device->pc.buffered_amount(s.channel_id) > 64 * 1024) return;  // newest frame wins
      if (s.device->pc.send(s.net.now(), s.channel_id, Bytes(8000, 7), true).ok()) ++sent;
      s.device->drain(s.net.now());
      s.net.wake(*s.device);
    });
  }
  ASSERT_TRUE(s.net.run_for(seconds(21)).ok());
  size_t received = s.server->messages.size();
  std::printf("[ frames ] sent %d, received %zu (2%% packet loss, no retransmission)\n", sent,
              received);
  // A frame of 7 packets survives 2 % loss with probability 0.98^7 = 87 %.
  EXPECT_GT(received, static_cast<size_t>(sent * 0.75));
  EXPECT_LE(received, static_cast<size_t>(sent));
  for (const auto& m : s.server->messages)
    EXPECT_EQ(m.data.size(), 8000u);
}

}  // namespace
}  // namespace cellrtc
