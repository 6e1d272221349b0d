#include "core/media/rate_controller.h"

#include <algorithm>
#include <cmath>

namespace cellrtc::media {
namespace {

// The RTT floor is remembered this long: a queue that stands for seconds (a cellular uplink
// buffers that much) must not become the floor.
constexpr Duration kRttWindow = seconds(30);
constexpr Duration kRateWindow = seconds(2);
constexpr Duration kMaxBufferWindow = seconds(2);
constexpr double kDecrease = 0.85;
// How far above the delivery rate the path has shown the bitrate may probe. Frames sized for
// a rate the path does not carry wait in the transport or are dropped there.
constexpr double kProbeHeadroom = 1.2;
constexpr double kAppLimitedHeadroom = 1.5;

// How a JPEG's size grows with its quality relative to quality 50 (libjpeg scale): roughly
// exponential over the useful range (measured on test-pattern and camera frames: about x0.4 at
// quality 20 and x3 at 90).
double quality_factor(int q) {
  return std::exp(0.028 * (q - 50));
}

double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

RateController::RateController(RateControllerConfig config)
    : config_(config), bitrate_(static_cast<double>(config.initial_bitrate_bps)) {
  retarget();
}

uint32_t RateController::pixels(int step) const {
  return (static_cast<uint32_t>(source_width_) >> step) *
         (static_cast<uint32_t>(source_height_) >> step);
}

double RateController::frame_bytes(int quality, int step) const {
  // Until a frame teaches us, assume a 640x480 frame of about 15 KB at quality 50. A JPEG's
  // size is about proportional to its pixels at a given quality.
  double per_pixel = bytes_per_pixel_q50_ > 0 ? bytes_per_pixel_q50_ : 15'000.0 / (640 * 480);
  return per_pixel * pixels(step) * quality_factor(quality);
}

void RateController::on_frame_encoded(int quality, size_t bytes, uint16_t width, uint16_t height) {
  if (quality <= 0 || bytes == 0) return;
  double frame_pixels = static_cast<double>(pixels(step_));
  if (width > 0 && height > 0) {
    frame_pixels = static_cast<double>(width) * height;
    // The largest frame seen is the source's own size (frames come at it until told less).
    if (frame_pixels > static_cast<double>(pixels(0))) {
      source_width_ = width;
      source_height_ = height;
    }
  }
  if (frame_pixels <= 0) return;
  double observed = static_cast<double>(bytes) / quality_factor(quality) / frame_pixels;
  bytes_per_pixel_q50_ =
      bytes_per_pixel_q50_ > 0 ? 0.8 * bytes_per_pixel_q50_ + 0.2 * observed : observed;
  retarget();
}

bool RateController::decrease(Instant now, uint64_t toward_bps) {
  // At most once per RTT: the effect of the last decrease shows only a round trip later.
  Duration rtt = srtt_.value_or(milliseconds(300));
  if (last_decrease_ && now - *last_decrease_ < rtt) return false;
  double target = kDecrease * bitrate_;
  if (toward_bps > 0) target = std::min(target, kDecrease * static_cast<double>(toward_bps));
  bitrate_ = std::max(target, static_cast<double>(config_.min_bitrate_bps));
  last_decrease_ = now;
  ++stats_.decreases;
  return true;
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
  // The standing queue: what the transport held at least over the last round trip and frame
  // interval. Right after a frame is handed over the transport holds all of it; that is the
  // frame's own serialization, not a queue, and it drains before the next frame.
  Duration rtt = srtt_.value_or(milliseconds(200));
  Duration frame_interval = Duration(static_cast<int64_t>(1e6 / std::max(target_.fps, 0.5)));
  Duration buffer_window = std::min(rtt + frame_interval, kMaxBufferWindow);
  buffer_window_.push_back({now, s.buffered_bytes});
  while (!buffer_window_.empty() && now - buffer_window_.front().at > buffer_window)
    buffer_window_.pop_front();

  std::optional<Duration> min_rtt;
  for (const auto& r : rtt_window_)
    min_rtt = min_rtt ? std::min(*min_rtt, r.rtt) : r.rtt;
  stats_.min_rtt = min_rtt;
  // What the path carries: the mean delivery rate over the window (its peaks are bursts after
  // the congestion window opened, not a rate it sustains).
  double rate_sum = 0;
  for (const auto& r : rate_window_)
    rate_sum += static_cast<double>(r.bps);
  uint64_t capacity =
      rate_window_.empty() ? 0 : static_cast<uint64_t>(rate_sum / rate_window_.size());
  stats_.capacity_estimate_bps = capacity;
  size_t standing = s.buffered_bytes;
  for (const auto& b : buffer_window_)
    standing = std::min(standing, b.bytes);

  Duration dt = last_update_ ? now - *last_update_ : Duration(0);
  last_update_ = now;

  // Signals of a queue: the RTT above its floor by more than one frame's serialization, or
  // the transport holding more than the budget at the rate the path delivers all along.
  double drain_rate = std::max(
      {static_cast<double>(capacity), bitrate_ / 2, static_cast<double>(config_.min_bitrate_bps)});
  bool rtt_queue = false;
  if (srtt_ && min_rtt) {
    Duration serialization =
        Duration(static_cast<int64_t>(frame_bytes(target_.quality) * 8 / drain_rate * 1e6));
    Duration threshold =
        std::max({config_.rtt_excess_threshold, *min_rtt / 2, std::min(serialization, rtt)});
    rtt_queue = *srtt_ - *min_rtt > threshold;
  }
  // The path itself holds about a round trip of unacknowledged data, measured at its floor:
  // with the smoothed RTT the budget would grow with the very queue it is meant to bound.
  Duration base_rtt = min_rtt.value_or(rtt);
  double held_seconds = static_cast<double>(standing) * 8 / drain_rate;
  double budget = to_seconds(config_.latency_budget + base_rtt);
  bool buffer_queue = held_seconds > budget;

  if (rtt_queue || buffer_queue) {
    if (decrease(now, capacity)) {
      if (rtt_queue) ++stats_.decreases_rtt;
      if (buffer_queue) ++stats_.decreases_buffered;
    }
  } else if (dt.count() > 0 && !(hold_increase_until_ && now < *hold_increase_until_)) {
    // Increase: 8 % per RTT, and never far above what the path has shown it delivers (when
    // we send less than it could, the delivery rate is our own rate; allow headroom to probe).
    double rtt_s = to_seconds(rtt);
    double dt_s = to_seconds(dt);
    double next = bitrate_ * (1 + 0.08 * std::min(dt_s / rtt_s, 1.0)) + 2'000 * dt_s;
    // When the transport drained completely within the window, the sender (a frame-rate
    // limit, a small frame) and not the path set the delivery rate: probe further above it.
    bool app_limited = standing == 0;
    double headroom = app_limited ? kAppLimitedHeadroom : kProbeHeadroom;
    double step = app_limited ? 64'000 : 8'000;
    double ceiling = capacity > 0 ? std::max(headroom * static_cast<double>(capacity),
                                             static_cast<double>(capacity) + step)
                                  : next;
    if (next > bitrate_ && bitrate_ < ceiling) {
      bitrate_ = std::min(next, ceiling);
      ++stats_.increases;
    }
  }
  bitrate_ = std::clamp(bitrate_, static_cast<double>(config_.min_bitrate_bps),
                        static_cast<double>(config_.max_bitrate_bps));
  capacity_ = capacity;
  adapt_resolution(now);
  retarget();
}

void RateController::resume(Instant now) {
  last_update_ = now;
  rate_window_.clear();
  buffer_window_.clear();
  hold_increase_until_.reset();
}

void RateController::on_receiver_report(Instant now, Duration capture_to_arrival) {
  if (capture_to_arrival > config_.max_arrival_latency) {
    hold_increase_until_ = now + config_.late_report_hold;
    if (decrease(now, 0)) ++stats_.decreases_late;
    retarget();
  } else {
    hold_increase_until_.reset();
  }
}

void RateController::adapt_resolution(Instant now) {
  if (last_resolution_change_ && now - *last_resolution_change_ < config_.resolution_hold) return;
  // What the bitrate allows at the lowest useful quality, in frames per second, at a step.
  auto fps_at = [&](int step) { return bitrate_ / (frame_bytes(config_.min_quality, step) * 8); };
  if (fps_at(step_) < config_.min_fps && pixels(step_ + 1) >= config_.min_pixels) {
    ++step_;
    ++stats_.resolution_downs;
    last_resolution_change_ = now;
  } else if (step_ > 0 && fps_at(step_ - 1) >= config_.resolution_up_fps) {
    --step_;
    ++stats_.resolution_ups;
    last_resolution_change_ = now;
  }
}

void RateController::retarget() {
  double bits = bitrate_;
  auto frame_bits = [&](int q) { return frame_bytes(q) * 8; };
  RateTarget t;
  t.bitrate_bps = static_cast<uint64_t>(bits);
  double max_fps = std::max(config_.max_fps, config_.min_fps);
  double preferred = std::clamp(config_.preferred_fps, config_.min_fps, max_fps);
  int good = std::clamp(config_.good_quality, config_.min_quality, config_.max_quality);
  if (bits / frame_bits(config_.min_quality) < preferred) {
    // Below the preferred frame rate: fewer frames rather than worse ones.
    t.quality = config_.min_quality;
    t.fps = std::clamp(bits / frame_bits(t.quality), config_.min_fps, preferred);
  } else if (bits / frame_bits(good) < max_fps) {
    // Frame rate and quality rise together, from (preferred, min_quality) to (max_fps, good):
    // the highest frame rate whose quality on that line the bits pay for.
    auto quality_at = [&](double fps) {
      double share = max_fps > preferred ? (fps - preferred) / (max_fps - preferred) : 1.0;
      return config_.min_quality +
             static_cast<int>(std::floor(share * (good - config_.min_quality)));
    };
    double lo = preferred, hi = max_fps;
    for (int i = 0; i < 30; ++i) {
      double mid = (lo + hi) / 2;
      if (mid * frame_bits(quality_at(mid)) <= bits)
        lo = mid;
      else
        hi = mid;
    }
    t.fps = lo;
    t.quality = quality_at(lo);
  } else {
    // The camera's frame rate at good quality or better.
    t.fps = max_fps;
    int q = good;
    while (q + 1 <= config_.max_quality && max_fps * frame_bits(q + 1) <= bits)
      ++q;
    t.quality = q;
  }
  if (step_ > 0) {
    t.width = static_cast<uint16_t>(source_width_ >> step_);
    t.height = static_cast<uint16_t>(source_height_ >> step_);
  }
  // Newest frame wins: a frame goes out only while the transport holds less than a round trip
  // plus the latency budget at the target rate (and always room for one frame, or nothing would
  // ever leave).
  // What the transport holds includes a round trip of unacknowledged data, which is not queue.
  // The rate it drains at is what the path delivers, when that is known and less.
  double budget_s = to_seconds(config_.latency_budget +
                               stats_.min_rtt.value_or(srtt_.value_or(milliseconds(200))));
  double drain = capacity_ > 0 ? std::min(bits, static_cast<double>(capacity_)) : bits;
  t.max_buffered_bytes =
      static_cast<size_t>(std::max(drain * budget_s / 8, frame_bytes(t.quality) * 1.2));
  target_ = t;
}

}  // namespace cellrtc::media
