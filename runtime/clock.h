// The runtime's one clock. The core never reads time; the runtime reads CLOCK_MONOTONIC (which
// does not jump when NTP or the user sets the wall clock) and hands the core an Instant.
#pragma once

#include <ctime>

#include "core/common/time.h"

namespace cellrtc::runtime {

// Instants count from the moment the clock was constructed, so they stay small and readable in
// logs. Instants from two different clocks are not comparable: an event loop owns one clock and
// everything it drives reads that one.
class MonotonicClock {
 public:
  MonotonicClock();
  Instant now() const;
  // The same instant as a CLOCK_MONOTONIC timespec (for timerfd, condition variables, logs
  // correlated with other processes).
  timespec to_timespec(Instant t) const;

 private:
  int64_t origin_us_;
};

}  // namespace cellrtc::runtime
