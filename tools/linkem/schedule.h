// A profile's scheduled changes as steps on the emulator's clock: outages become a begin and
// an end step, so overlapping outages nest (sim::LinkModel counts them).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/common/time.h"
#include "sim/link_model.h"
#include "tools/linkem/profile.h"

namespace cellrtc::linkem {

class ScheduleRunner {
 public:
  // `start`: the instant the profile's times count from.
  ScheduleRunner(const std::vector<ScheduledChange>& changes, Instant start);

  std::optional<Instant> next_at() const;
  // Applies every step due at or before `now`, in time order; returns one line describing
  // each ("12.000 s: outage begins (both)").
  std::vector<std::string> apply_due(Instant now, sim::LinkModel& up, sim::LinkModel& down);

 private:
  enum class Kind : uint8_t { begin_outage, end_outage, rate, config };
  struct Step {
    Instant at;
    Kind kind;
    const ScheduledChange* change;
  };
  std::vector<Step> steps_;
  size_t next_ = 0;
  Instant start_;
};

}  // namespace cellrtc::linkem
