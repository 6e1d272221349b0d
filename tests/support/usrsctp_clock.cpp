#include "support/usrsctp_clock.h"

#include <sys/time.h>
#include <time.h>
#include <usrsctp.h>

#include <cassert>

namespace cellrtc::testing {
namespace {

// gettimeofday() has no context argument, so the clock it answers from is found here. usrsctp
// itself is process-wide state; only one UsrsctpClock may be active at a time.
const UsrsctpClock*& active_clock() {
  static const UsrsctpClock* clock = nullptr;
  return clock;
}

}  // namespace

UsrsctpClock::UsrsctpClock(Instant origin, int64_t epoch_seconds)
    : origin_(origin), epoch_seconds_(epoch_seconds), now_(origin), ticked_(origin) {
  assert(active_clock() == nullptr);
  active_clock() = this;
}

UsrsctpClock::~UsrsctpClock() {
  active_clock() = nullptr;
}

const UsrsctpClock* UsrsctpClock::active() {
  return active_clock();
}

void UsrsctpClock::advance_to(Instant now) {
  if (now <= now_) return;
  now_ = now;
  auto elapsed_ms = std::chrono::duration_cast<milliseconds>(now_ - ticked_).count();
  if (elapsed_ms <= 0) return;
  ticked_ += milliseconds(elapsed_ms);
  // Timer callbacks run inside and may send: gettimeofday() already shows the new time.
  usrsctp_handle_timers(static_cast<uint32_t>(elapsed_ms));
}

int64_t UsrsctpClock::wall_microseconds() const {
  return epoch_seconds_ * 1'000'000 + (now_ - origin_).count();
}

}  // namespace cellrtc::testing

// Interposes the C library's gettimeofday() for the whole binary: usrsctp's calls (through the
// PLT of libusrsctp.so) bind to this definition. Real time when no UsrsctpClock is active.
extern "C" int gettimeofday(struct timeval* __restrict tv, void* __restrict /*tz*/) noexcept {
  if (const auto* clock = cellrtc::testing::UsrsctpClock::active()) {
    int64_t us = clock->wall_microseconds();
    tv->tv_sec = static_cast<time_t>(us / 1'000'000);
    tv->tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    return 0;
  }
  timespec ts{};
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = static_cast<suseconds_t>(ts.tv_nsec / 1000);
  return 0;
}
