// Picks the bitrate, frame rate and JPEG quality a cellular uplink carries, from what the
// transport reports (SCTP delivery rate, smoothed RTT, bytes it holds) and, when the server
// sends them, receiver reports of capture-to-arrival latency. Sans-IO: time is passed in.
//
// Bitrate: additive-multiplicative increase while the path shows no queue; a multiplicative
// decrease toward the measured delivery rate (at most once per RTT) when the RTT rises above
// its recent minimum, the transport holds more than the latency budget, or frames arrive late.
// Frames: the bits per frame a bitrate allows are spent first on a frame rate up to
// `preferred_fps` at `min_quality` or better, then on quality up to `max_quality`, then on
// frame rate up to `max_fps`; below that the frame rate falls toward `min_fps` rather than the
// quality below `min_quality`. The size a quality gives is learned from the frames themselves.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "core/common/time.h"

namespace cellrtc::media {

struct RateControllerConfig {
  uint64_t initial_bitrate_bps = 150'000;
  uint64_t min_bitrate_bps = 16'000;
  uint64_t max_bitrate_bps = 8'000'000;
  double min_fps = 1;
  double preferred_fps = 10;
  double max_fps = 25;
  int min_quality = 25;  // JPEG quality 1..100 (libjpeg scale)
  int max_quality = 85;
  // Capture-to-send queueing we accept: frames wait in the transport at most about this long.
  Duration latency_budget = milliseconds(150);
  // An RTT this far above the recent minimum (or half the minimum, if larger) means a queue.
  Duration rtt_excess_threshold = milliseconds(80);
  // Capture-to-arrival latency reported by the receiver above which we back off.
  Duration max_arrival_latency = milliseconds(800);
  // After a report of late arrival, no increase for this long (receivers report about once a
  // second): probing further while frames already arrive late only deepens the queue.
  Duration late_report_hold = milliseconds(1200);
};

struct LinkSample {
  uint64_t delivery_rate_bps = 0;  // acknowledged bytes per second, recent
  std::optional<Duration> srtt;
  size_t buffered_bytes = 0;  // queued plus unacknowledged in the transport
};

struct RateTarget {
  uint64_t bitrate_bps = 0;
  double fps = 0;
  int quality = 0;
  // Send a new frame only while the transport holds at most this much.
  size_t max_buffered_bytes = 0;
};

struct RateControllerStats {
  uint32_t decreases = 0;
  uint32_t increases = 0;
  std::optional<Duration> min_rtt;
  uint64_t capacity_estimate_bps = 0;
};

class RateController {
 public:
  explicit RateController(RateControllerConfig config = {});

  void on_link_sample(Instant now, const LinkSample& sample);
  // A frame of `bytes` encoded at `quality` left: teaches the size model.
  void on_frame_encoded(int quality, size_t bytes);
  // From the receiver: how long after capture a frame arrived.
  void on_receiver_report(Instant now, Duration capture_to_arrival);

  const RateTarget& target() const { return target_; }
  const RateControllerStats& stats() const { return stats_; }

 private:
  void decrease(Instant now, uint64_t toward_bps);
  void retarget();
  double frame_bytes(int quality) const;

  RateControllerConfig config_;
  RateTarget target_;
  RateControllerStats stats_;
  double bitrate_;
  std::optional<Instant> last_update_;
  std::optional<Instant> last_decrease_;
  std::optional<Instant> hold_increase_until_;  // after a late receiver report
  std::optional<Duration> srtt_;
  struct RttSample {
    Instant at;
    Duration rtt;
  };
  std::deque<RttSample> rtt_window_;  // for the windowed minimum
  struct RateSample {
    Instant at;
    uint64_t bps;
  };
  std::deque<RateSample> rate_window_;  // for the windowed maximum
  double size_at_q50_ = 0;              // learned bytes of a quality-50 frame
  size_t last_frame_bytes_ = 0;         // the newest frame's size
};

}  // namespace cellrtc::media
