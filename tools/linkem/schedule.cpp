#include "tools/linkem/schedule.h"

#include <algorithm>
#include <cstdio>

namespace cellrtc::linkem {

ScheduleRunner::ScheduleRunner(const std::vector<ScheduledChange>& changes, Instant start)
    : start_(start) {
  for (const ScheduledChange& c : changes) {
    switch (c.action) {
      case ScheduleAction::outage:
        steps_.push_back({start + c.at, Kind::begin_outage, &c});
        steps_.push_back({start + c.at + c.duration, Kind::end_outage, &c});
        break;
      case ScheduleAction::rate:
        steps_.push_back({start + c.at, Kind::rate, &c});
        break;
      case ScheduleAction::config:
        steps_.push_back({start + c.at, Kind::config, &c});
        break;
    }
  }
  std::stable_sort(steps_.begin(), steps_.end(),
                   [](const Step& a, const Step& b) { return a.at < b.at; });
}

std::optional<Instant> ScheduleRunner::next_at() const {
  if (next_ >= steps_.size()) return std::nullopt;
  return steps_[next_].at;
}

std::vector<std::string> ScheduleRunner::apply_due(Instant now, sim::LinkModel& up,
                                                   sim::LinkModel& down) {
  std::vector<std::string> applied;
  for (; next_ < steps_.size() && steps_[next_].at <= now; ++next_) {
    const Step& s = steps_[next_];
    const ScheduledChange& c = *s.change;
    char line[160];
    double t = static_cast<double>((s.at - start_).count()) / 1e6;
    for (Directions d : {Directions::up, Directions::down}) {
      if (!c.applies_to(d)) continue;
      sim::LinkModel& m = d == Directions::up ? up : down;
      switch (s.kind) {
        case Kind::begin_outage:
          m.begin_outage();
          break;
        case Kind::end_outage:
          m.end_outage();
          break;
        case Kind::rate:
          m.set_rate(c.rate_bps);
          break;
        case Kind::config:
          m.set_config(d == Directions::up ? c.up : c.down);
          break;
      }
    }
    switch (s.kind) {
      case Kind::begin_outage:
        std::snprintf(line, sizeof line, "%.3f s: outage begins (%s, %.3f s)", t,
                      to_string(c.direction), static_cast<double>(c.duration.count()) / 1e6);
        break;
      case Kind::end_outage:
        std::snprintf(line, sizeof line, "%.3f s: outage ends (%s)", t, to_string(c.direction));
        break;
      case Kind::rate:
        std::snprintf(line, sizeof line, "%.3f s: rate %.1f kbit/s (%s)", t,
                      static_cast<double>(c.rate_bps) / 1000, to_string(c.direction));
        break;
      case Kind::config:
        std::snprintf(line, sizeof line, "%.3f s: new configuration (%s)", t,
                      to_string(c.direction));
        break;
    }
    applied.emplace_back(line);
  }
  return applied;
}

}  // namespace cellrtc::linkem
