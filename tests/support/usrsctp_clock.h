// Virtual time for usrsctp (Debian libusrsctp 0.9.5) run in-process without its threads
// (usrsctp_init_nothreads). usrsctp keeps two clocks: its timers run on a tick counter that
// usrsctp_handle_timers(elapsed_ms) advances, but it stamps sent chunks and measures RTT with
// gettimeofday(). Under virtual time the two disagree: T3-rtx fires after RTO ticks, then
// sctp_mark_all_for_resend() (netinet/sctp_timer.c) only marks chunks sent at least RTO ago by
// the wall clock, and microseconds of real time have passed, so nothing is retransmitted and
// its RTT estimate is the simulator's speed rather than the link's. UsrsctpClock drives both
// from one virtual time: it advances the ticks, and while it is active gettimeofday() (defined
// in usrsctp_clock.cpp, which the binary that uses usrsctp links, so the library's calls bind
// to it) answers from it.
#pragma once

#include <optional>

#include "core/common/time.h"

namespace cellrtc::testing {

class UsrsctpClock {
 public:
  // `origin` is the virtual instant shown as the wall-clock time `epoch_seconds`.
  explicit UsrsctpClock(Instant origin, int64_t epoch_seconds = 1'700'000'000);
  ~UsrsctpClock();
  UsrsctpClock(const UsrsctpClock&) = delete;
  UsrsctpClock& operator=(const UsrsctpClock&) = delete;

  // Moves usrsctp's ticks and wall clock to `now` (whole milliseconds; never backwards).
  void advance_to(Instant now);
  // The next instant at which a tick is due (usrsctp does not say when its next timer is).
  Instant next_tick() const { return ticked_ + tick_; }
  Instant now() const { return now_; }
  // Microseconds since the Unix epoch, as gettimeofday() reports them while this clock is active.
  int64_t wall_microseconds() const;

  static const UsrsctpClock* active();

 private:
  Instant origin_;
  int64_t epoch_seconds_;
  Instant now_;
  Instant ticked_;  // virtual time usrsctp's ticks have reached (whole milliseconds)
  Duration tick_ = milliseconds(5);
};

}  // namespace cellrtc::testing
