// Time as a value. The core never reads a clock: every entry point takes `Instant now`.
#pragma once

#include <chrono>
#include <cstdint>

namespace cellrtc {

using Duration = std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A point on a monotonic timeline whose origin is chosen by the runtime (process start on
// POSIX, zero in simulations). Only differences between instants carry meaning.
class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant from_us(int64_t us) { return Instant(Duration(us)); }
  constexpr int64_t us() const { return since_origin_.count(); }
  constexpr Duration since_origin() const { return since_origin_; }

  constexpr Instant operator+(Duration d) const { return Instant(since_origin_ + d); }
  constexpr Instant operator-(Duration d) const { return Instant(since_origin_ - d); }
  constexpr Duration operator-(Instant o) const { return since_origin_ - o.since_origin_; }
  constexpr Instant& operator+=(Duration d) {
    since_origin_ += d;
    return *this;
  }
  constexpr auto operator<=>(const Instant&) const = default;

 private:
  constexpr explicit Instant(Duration d) : since_origin_(d) {}
  Duration since_origin_{0};
};

// The earlier of two optional deadlines; an absent deadline means "never".
template <class Opt>
constexpr Opt earliest(const Opt& a, const Opt& b) {
  if (!a) return b;
  if (!b) return a;
  return *a < *b ? a : b;
}

}  // namespace cellrtc
