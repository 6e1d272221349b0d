// Exponential backoff with jitter for retrying a connection: each failure doubles the wait from
// `initial` up to `max`; each wait is spread uniformly over +-jitter of its nominal length, so
// many devices that lost the same server do not come back in step.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/common/random.h"
#include "core/common/time.h"

namespace cellrtc {

struct BackoffConfig {
  Duration initial = seconds(1);
  Duration max = seconds(60);
  double jitter = 0.3;  // 0..1
};

class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(BackoffConfig config = {}) : config_(config) {}

  // The wait before the next attempt; `rng` null gives the nominal length.
  Duration next(Random* rng) {
    Duration d = config_.initial;
    for (uint32_t i = 0; i < attempts_ && d < config_.max; ++i)
      d *= 2;
    d = std::min(d, config_.max);
    ++attempts_;
    double j = std::clamp(config_.jitter, 0.0, 1.0);
    if (rng && j > 0) {
      double factor = 1.0 - j + 2.0 * j * rng->unit();
      d = Duration(static_cast<int64_t>(static_cast<double>(d.count()) * factor));
    }
    return d;
  }
  void reset() { attempts_ = 0; }
  uint32_t attempts() const { return attempts_; }
  const BackoffConfig& config() const { return config_; }

 private:
  BackoffConfig config_;
  uint32_t attempts_ = 0;
};

}  // namespace cellrtc
