#include "support/mbedtls_wall_clock.h"

#include <cassert>
#include <ctime>
#include <utility>

namespace cellrtc::testing {
namespace {

// time() has no context argument, so the clock it answers from is found here; one may be
// active at a time.
const MbedtlsWallClock*& active_clock() {
  static const MbedtlsWallClock* clock = nullptr;
  return clock;
}

}  // namespace

MbedtlsWallClock::MbedtlsWallClock(std::function<Instant()> now, Instant origin,
                                   int64_t epoch_seconds)
    : now_(std::move(now)), origin_(origin), epoch_seconds_(epoch_seconds) {
  assert(active_clock() == nullptr);
  active_clock() = this;
}

MbedtlsWallClock::~MbedtlsWallClock() {
  active_clock() = nullptr;
}

const MbedtlsWallClock* MbedtlsWallClock::active() {
  return active_clock();
}

int64_t MbedtlsWallClock::unix_seconds() const {
  return epoch_seconds_ + (now_() - origin_).count() / 1'000'000;
}

}  // namespace cellrtc::testing

// Interposes the C library's time() for the whole binary: mbedTLS's calls (through the PLT of
// libmbedtls.so and libmbedx509.so) bind to this definition. Real time when no clock is active.
extern "C" time_t time(time_t* out) noexcept {
  time_t t = 0;
  if (const auto* clock = cellrtc::testing::MbedtlsWallClock::active()) {
    t = static_cast<time_t>(clock->unix_seconds());
  } else {
    timespec ts{};
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return static_cast<time_t>(-1);
    t = ts.tv_sec;
  }
  if (out) *out = t;
  return t;
}
