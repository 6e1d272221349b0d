// The adaptive newest-frame-wins streamer against a sender that behaves like the original
// design, through the simulator: latency stays bounded where the original's grows with the
// backlog, also when capacity halves.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/streaming_scenario.h"

namespace cellrtc {
namespace {

using testing::PeerScenario;
using testing::StreamerKind;

sim::Attachment umts(uint64_t rate = 384'000) {
  sim::LinkConfig up;
  up.rate_bps = rate;
  up.delay = milliseconds(90);
  up.loss = 0.01;
  up.queue_limit_bytes = rate / 4;  // about 2 s of buffer, as cellular uplinks have
  sim::LinkConfig down = up;
  down.rate_bps = rate * 4;
  return {up, down};
}

void print(const char* what, const testing::StreamingResult& r) {
  std::printf("[ %s ] %.1f fps, %.0f kbit/s, latency p50 %.0f p95 %.0f p99 %.0f ms\n", what, r.fps,
              r.goodput_bps / 1000, r.percentile(0.5), r.percentile(0.95), r.percentile(0.99));
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

}  // namespace
}  // namespace cellrtc
