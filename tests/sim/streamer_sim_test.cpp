// The adaptive newest-frame-wins streamer against a sender that behaves like the original
// design, through the simulator: latency stays bounded where the original's grows with the
// backlog, also when capacity halves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "support/streaming_scenario.h"

namespace cellrtc {
namespace {

using testing::PeerScenario;
using testing::StreamerKind;

// A cellular link with 1 % loss and about 2 s of uplink buffer (16 KB at least), as cellular
// uplinks have.
sim::Attachment cellular(uint64_t rate, Duration rtt) {
  sim::LinkConfig up;
  up.rate_bps = rate;
  up.delay = rtt / 2 - milliseconds(10);
  up.loss = 0.01;
  up.queue_limit_bytes = std::max<size_t>(16'384, rate / 4);
  sim::LinkConfig down = up;
  down.rate_bps = rate * 4;
  return {up, down};
}

sim::Attachment umts(uint64_t rate = 384'000) {
  return cellular(rate, milliseconds(200));
}

void print(const char* what, const testing::StreamingResult& r) {
  std::printf(
      "[ %s ] %.1f fps, %.0f kbit/s, latency p50 %.0f p95 %.0f p99 %.0f ms, quality %.1f, "
      "%.0f pixels\n",
      what, r.fps, r.goodput_bps / 1000, r.percentile(0.5), r.percentile(0.95), r.percentile(0.99),
      r.mean_quality, r.mean_pixels);
}

TEST(StreamerSim, AdaptiveKeepsLatencyBoundedOnUmtsWhereTheOriginalQueues) {
  PeerScenario a(42, umts());
  auto adaptive = testing::run_streaming(a, StreamerKind::adaptive, seconds(60));
  PeerScenario o(42, umts());
  auto original = testing::run_streaming(o, StreamerKind::original, seconds(60));
  print("adaptive", adaptive);
  print("original", original);
  ASSERT_GT(adaptive.frames_received, 60u);
  // Capture to arrival stays near a round trip plus serialization of one frame.
  EXPECT_LT(adaptive.percentile(0.95), 1000);
  // The original fills the link with frames that are seconds old; every frame it delivers
  // late is worth less than the adaptive streamer's fresher, fewer ones.
  EXPECT_GT(original.percentile(0.5), 10 * adaptive.percentile(0.95));
  EXPECT_GE(adaptive.fps, 2.0);
}

TEST(StreamerSim, AdaptiveRidesOutCapacityHalving) {
  PeerScenario s(7, umts(1'000'000));
  Instant at = s.net.now() + seconds(30);
  s.net.uplink(s.device_host).schedule_rate(at, 500'000);
  s.net.uplink(s.device_host).schedule_rate(at + seconds(30), 1'000'000);
  auto r = testing::run_streaming(s, StreamerKind::adaptive, seconds(90));
  print("adaptive, 1 Mbit/s halving for 30 s", r);
  ASSERT_GT(r.frames_received, 200u);
  EXPECT_LT(r.percentile(0.99), 1500);
}

// 2 Mbit/s, 100 ms (HSPA): the link carries the camera's 15 fps at a fair quality, and the
// streamer uses it (it settled near 6 fps when it spent bits on quality first) without
// letting frames queue.
TEST(StreamerSim, AdaptiveUsesAFastLinkForFrameRate) {
  PeerScenario s(42, cellular(2'000'000, milliseconds(100)));
  auto r = testing::run_streaming(s, StreamerKind::adaptive, seconds(40));
  print("adaptive, 2 Mbit/s 100 ms", r);
  ASSERT_GT(r.frames_received, 200u);
  EXPECT_GE(r.fps, 9.0);
  EXPECT_GE(r.mean_quality, 30);
  EXPECT_LT(r.percentile(0.95), 800);
}

// 40 kbit/s, 1 s RTT (GPRS): a quality-25 640x480 frame alone takes 1.5 s to send, so the
// picture gets smaller and frames arrive more often than one every two seconds, with latency
// bounded by the link rather than by a queue.
TEST(StreamerSim, AdaptiveStepsResolutionDownOnGprs) {
  PeerScenario s(42, cellular(40'000, milliseconds(1000)));
  auto r = testing::run_streaming(s, StreamerKind::adaptive, seconds(90));
  print("adaptive, 40 kbit/s 1 s", r);
  EXPECT_GE(r.resolution_downs, 1u);
  EXPECT_LT(r.mean_pixels, 0.5 * 640 * 480);
  EXPECT_GE(r.fps, 1.0);
  EXPECT_LT(r.percentile(0.95), 4000);
}

}  // namespace
}  // namespace cellrtc
