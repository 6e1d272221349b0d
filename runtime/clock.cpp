#include "runtime/clock.h"

namespace cellrtc::runtime {
namespace {

int64_t monotonic_us() {
  timespec ts{};
  // CLOCK_MONOTONIC cannot fail with a valid clock id and pointer.
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

}  // namespace

MonotonicClock::MonotonicClock() : origin_us_(monotonic_us()) {}

Instant MonotonicClock::now() const {
  return Instant::from_us(monotonic_us() - origin_us_);
}

timespec MonotonicClock::to_timespec(Instant t) const {
  int64_t us = origin_us_ + t.us();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  ts.tv_nsec = static_cast<long>((us % 1'000'000) * 1'000);
  return ts;
}

}  // namespace cellrtc::runtime
