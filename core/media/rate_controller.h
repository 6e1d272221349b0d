// Picks the bitrate, frame rate and JPEG quality a cellular uplink carries, from what the
// transport reports (SCTP delivery rate, smoothed RTT, bytes it holds) and, when the server
// sends them, receiver reports of capture-to-arrival latency. Sans-IO: time is passed in.
//
// Bitrate: additive-multiplicative increase while the path shows no queue; a multiplicative
// decrease toward the measured delivery rate (at most once per RTT) when the RTT rises above
// its recent minimum, the transport holds more than the latency budget, or frames arrive late.
// A frame just sent is not a queue: the transport's holding is judged by its minimum over the
// last round trip and frame interval (the standing queue), and the RTT threshold allows for
// one frame's serialization.
// Frames: the bits a bitrate allows are spent first on a frame rate up to `preferred_fps` at
// `min_quality`, then on frame rate and quality together up to `max_fps` (the camera's rate)
// at `good_quality`, then on quality up to `max_quality`; below `preferred_fps` the frame rate
// falls toward `min_fps` rather than the quality below `min_quality`. When even that cannot
// reach `min_fps`, the picture gets smaller (half the width and height per step, down to
// `min_pixels`); it grows back when the larger size would reach `resolution_up_fps`. The size
// a quality and resolution give is learned from the frames themselves (bytes per pixel).
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
  double preferred_fps = 4;
  // The source's frame rate: more is never offered.
  double max_fps = 15;
  int min_quality = 25;  // JPEG quality 1..100 (libjpeg scale)
  // Reached together with max_fps; above it only quality grows.
  int good_quality = 40;
  int max_quality = 85;
  // Resolution steps stop at this many pixels (160x120).
  uint32_t min_pixels = 160 * 120;
  // Step up when the larger size would give this frame rate at min_quality.
  double resolution_up_fps = 2.5;
  // At most one resolution change this often (and each waits for frames of the new size).
  Duration resolution_hold = seconds(5);
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
  // Largest picture wanted, 0x0 = the source's own size.
  uint16_t width = 0;
  uint16_t height = 0;
  // Send a new frame only while the transport holds at most this much.
  size_t max_buffered_bytes = 0;
};

struct RateControllerStats {
  uint32_t decreases = 0;
  // What caused them (one signal may be counted where several held at once).
  uint32_t decreases_rtt = 0;       // RTT above its floor
  uint32_t decreases_buffered = 0;  // the transport held more than the budget
  uint32_t decreases_late = 0;      // a receiver reported late arrival
  uint32_t increases = 0;
  std::optional<Duration> min_rtt;
  uint64_t capacity_estimate_bps = 0;
  uint32_t resolution_downs = 0;
  uint32_t resolution_ups = 0;
};

class RateController {
 public:
  explicit RateController(RateControllerConfig config = {});

  void on_link_sample(Instant now, const LinkSample& sample);
  // A frame of `bytes` encoded at `quality` left: teaches the size model. `width` and `height`
  // (0 unknown: the current target's) tell the size; the largest seen is the source's own.
  void on_frame_encoded(int quality, size_t bytes, uint16_t width = 0, uint16_t height = 0);
  // From the receiver: how long after capture a frame arrived.
  void on_receiver_report(Instant now, Duration capture_to_arrival);

  // Sending resumes after a pause in which no samples came (no viewer, docs/protocol.md
  // "demand"): the bitrate and the path's minimum RTT stay, the pause does not count as time
  // to increase in, and what the transport delivered or held before it is forgotten.
  void resume(Instant now);

  const RateTarget& target() const { return target_; }
  const RateControllerStats& stats() const { return stats_; }

 private:
  bool decrease(Instant now, uint64_t toward_bps);
  void retarget();
  void adapt_resolution(Instant now);
  // Bytes of a frame at `quality` at resolution step `step` (0: the source's size).
  double frame_bytes(int quality, int step) const;
  double frame_bytes(int quality) const { return frame_bytes(quality, step_); }
  uint32_t pixels(int step) const;

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
  uint64_t capacity_ = 0;               // its maximum
  struct BufferSample {
    Instant at;
    size_t bytes;
  };
  std::deque<BufferSample> buffer_window_;  // for the standing queue
  double bytes_per_pixel_q50_ = 0;          // learned size of a quality-50 frame per pixel
  uint16_t source_width_ = 640;             // assumed until frames tell
  uint16_t source_height_ = 480;
  int step_ = 0;  // resolution halvings
  std::optional<Instant> last_resolution_change_;
};

}  // namespace cellrtc::media
