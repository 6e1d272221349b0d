#include "core/media/rate_controller.h"

#include <algorithm>
#include <cmath>

namespace cellrtc::media {
namespace {

constexpr Duration kRttWindow = seconds(10);
constexpr Duration kRateWindow = seconds(2);
constexpr double kDecrease = 0.85;

// How a JPEG's size grows with its quality relative to quality 50 (libjpeg scale): roughly
// exponential over the useful range (measured on test-pattern and camera frames: about x0.4 at
// quality 20 and x3 at 90).
double quality_factor(int q) {
  return std::exp(0.028 * (q - 50));
}

}  // namespace

RateController::RateController(RateControllerConfig config)
    : config_(config), bitrate_(static_cast<double>(config.initial_bitrate_bps)) {
  retarget();
}

double RateController::frame_bytes(int quality) const {
  // Until a frame teaches us, assume a 640x480 frame of about 15 KB at quality 50.
  double base = size_at_q50_ > 0 ? size_at_q50_ : 15'000;
  return base * quality_factor(quality);
}

void RateController::on_frame_encoded(int quality, size_t bytes) {
  if (quality <= 0 || bytes == 0) return;
  double observed = static_cast<double>(bytes) / quality_factor(quality);
  size_at_q50_ = size_at_q50_ > 0 ? 0.8 * size_at_q50_ + 0.2 * observed : observed;
  last_frame_bytes_ = bytes;
  retarget();
}

void RateController::decrease(Instant now, uint64_t toward_bps) {
  // At most once per RTT: the effect of the last decrease shows only a round trip later.
  Duration rtt = srtt_.value_or(milliseconds(300));
  if (last_decrease_ && now - *last_decrease_ < rtt) return;
  double target = kDecrease * bitrate_;
  if (toward_bps > 0) target = std::min(target, kDecrease * static_cast<double>(toward_bps));
  bitrate_ = std::max(target, static_cast<double>(config_.min_bitrate_bps));
  last_decrease_ = now;
  ++stats_.decreases;
}

void RateController::on_link_sample(Instant now, const LinkSample& s) {
  if (s.srtt) {
    srtt_ = s.srtt;
    rtt_window_.push_back({now, *s.srtt});
  }
  while (!rtt_window_.empty() && now - rtt_window_.front().at > kRttWindow)
    rtt_window_.pop_front();
  rate_window_.push_back({now, s.delivery_rate_bps});
  while (!rate_window_.empty() && now - rate_window_.front().at > kRateWindow)
    rate_window_.pop_front();

  std::optional<Duration> min_rtt;
  for (const auto& r : rtt_window_)
    min_rtt = min_rtt ? std::min(*min_rtt, r.rtt) : r.rtt;
  stats_.min_rtt = min_rtt;
  uint64_t capacity = 0;
  for (const auto& r : rate_window_)
    capacity = std::max(capacity, r.bps);
  stats_.capacity_estimate_bps = capacity;

  Duration dt = last_update_ ? now - *last_update_ : Duration(0);
  last_update_ = now;

  // Signals of a queue: the RTT above its floor, or the transport holding more than the
  // budget at the rate the path delivers.
  bool rtt_queue = false;
  if (srtt_ && min_rtt) {
    Duration threshold = std::max(config_.rtt_excess_threshold, *min_rtt / 2);
    rtt_queue = *srtt_ - *min_rtt > threshold;
  }
  double drain_rate = std::max<double>(static_cast<double>(capacity), config_.min_bitrate_bps);
  // The frame being sent is not a queue: at a low frame rate the delivery rate is our own,
  // and one frame in flight is a whole frame interval of it.
  size_t queued = s.buffered_bytes > last_frame_bytes_ ? s.buffered_bytes - last_frame_bytes_ : 0;
  double held_seconds = static_cast<double>(queued) * 8 / drain_rate;
  double budget =
      std::chrono::duration<double>(config_.latency_budget + srtt_.value_or(milliseconds(200)))
          .count();
  bool buffer_queue = held_seconds > budget;

  if (rtt_queue || buffer_queue) {
    decrease(now, capacity);
  } else if (dt.count() > 0 && !(hold_increase_until_ && now < *hold_increase_until_)) {
    // Increase: 8 % per RTT, and never far above what the path has shown it delivers (when
    // we send less than it could, the delivery rate is our own rate; allow headroom to probe).
    double rtt_s = std::chrono::duration<double>(srtt_.value_or(milliseconds(200))).count();
    double dt_s = std::chrono::duration<double>(dt).count();
    double next = bitrate_ * (1 + 0.08 * std::min(dt_s / rtt_s, 1.0)) + 2'000 * dt_s;
    double ceiling = capacity > 0 ? std::max(1.5 * static_cast<double>(capacity),
                                             static_cast<double>(capacity) + 64'000)
                                  : next;
    if (next > bitrate_ && bitrate_ < ceiling) {
      bitrate_ = std::min(next, ceiling);
      ++stats_.increases;
    }
  }
  bitrate_ = std::clamp(bitrate_, static_cast<double>(config_.min_bitrate_bps),
                        static_cast<double>(config_.max_bitrate_bps));
  retarget();
}

void RateController::on_receiver_report(Instant now, Duration capture_to_arrival) {
  if (capture_to_arrival > config_.max_arrival_latency) {
    hold_increase_until_ = now + config_.late_report_hold;
    decrease(now, 0);
    retarget();
  } else {
    hold_increase_until_.reset();
  }
}

void RateController::retarget() {
  double bits = bitrate_;
  auto bits_per_frame = [](int q, const RateController& self) { return self.frame_bytes(q) * 8; };
  RateTarget t;
  t.bitrate_bps = static_cast<uint64_t>(bits);
  // Quality first up to the preferred frame rate...
  int q = config_.min_quality;
  if (bits / config_.preferred_fps < bits_per_frame(config_.min_quality, *this)) {
    // ...and below it, fewer frames rather than worse ones.
    t.quality = config_.min_quality;
    t.fps = std::clamp(bits / bits_per_frame(q, *this), config_.min_fps, config_.preferred_fps);
  } else {
    while (q + 1 <= config_.max_quality &&
           bits / config_.preferred_fps >= bits_per_frame(q + 1, *this))
      ++q;
    t.quality = q;
    t.fps = config_.preferred_fps;
    if (q == config_.max_quality)
      t.fps = std::clamp(bits / bits_per_frame(q, *this), config_.preferred_fps, config_.max_fps);
  }
  // Newest frame wins: a frame goes out only while the transport holds less than a round trip
  // plus the latency budget at the target rate (and always room for one frame, or nothing would
  // ever leave).
  // What the transport holds includes a round trip of unacknowledged data, which is not queue.
  double budget_s =
      std::chrono::duration<double>(config_.latency_budget + srtt_.value_or(milliseconds(200)))
          .count();
  t.max_buffered_bytes =
      static_cast<size_t>(std::max(bits * budget_s / 8, frame_bytes(t.quality) * 1.2));
  target_ = t;
}

}  // namespace cellrtc::media
