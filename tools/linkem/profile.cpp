#include "tools/linkem/profile.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

namespace cellrtc::linkem {
namespace {

std::string where(std::string_view source, const toml::source_region& region) {
  return std::string(source) + ":" + std::to_string(region.begin.line);
}

ProfileError error_at(std::string_view source, const toml::key& key, std::string_view name,
                      std::string_view reason) {
  return ProfileError{where(source, key.source()) + ": " + std::string(name) + ": " +
                      std::string(reason)};
}

std::optional<double> number_of(const toml::node& node) {
  if (auto i = node.value_exact<int64_t>()) return static_cast<double>(*i);
  if (auto f = node.value_exact<double>()) return *f;
  return std::nullopt;
}

// A number in [lo, hi], or the reason it is not one.
Result<double, std::string> number_in(const toml::node& node, double lo, double hi) {
  auto v = number_of(node);
  if (!v) return std::string("expected a number");
  if (!std::isfinite(*v) || *v < lo || *v > hi) {
    std::ostringstream s;
    s << std::setprecision(12) << "must be between " << lo << " and " << hi;
    return s.str();
  }
  return *v;
}

Duration from_ms(double ms) {
  return Duration(static_cast<int64_t>(std::llround(ms * 1000)));
}
Duration from_s(double s) {
  return Duration(static_cast<int64_t>(std::llround(s * 1'000'000)));
}

Result<void, ProfileError> apply_gilbert_elliott(const toml::table& table, std::string_view source,
                                                 std::string_view prefix, sim::GilbertElliott& ge) {
  for (const auto& [key, node] : table) {
    std::string name = std::string(prefix) + "." + std::string(key.str());
    double* field = nullptr;
    if (key.str() == "p_good_to_bad") field = &ge.p_good_to_bad;
    if (key.str() == "p_bad_to_good") field = &ge.p_bad_to_good;
    if (key.str() == "loss_in_bad") field = &ge.loss_in_bad;
    if (key.str() == "loss_in_good") field = &ge.loss_in_good;
    if (!field) return error_at(source, key, name, "unknown key");
    auto v = number_in(node, 0, 1);
    if (!v) return error_at(source, key, name, v.error());
    *field = *v;
  }
  if (ge.p_good_to_bad > 0 && ge.p_bad_to_good <= 0) {
    return ProfileError{std::string(source) + ": " + std::string(prefix) +
                        ": p_bad_to_good must be above 0 when p_good_to_bad is (the bad state "
                        "would never end)"};
  }
  return {};
}

// Applies the keys of a direction's table (a section, or a scheduled change's values) to `link`.
Result<void, ProfileError> apply_link_table(const toml::table& table, std::string_view source,
                                            std::string_view prefix, sim::LinkConfig& link) {
  for (const auto& [key, node] : table) {
    std::string_view k = key.str();
    std::string name = std::string(prefix) + "." + std::string(k);
    if (k == "gilbert_elliott") {
      const auto* ge = node.as_table();
      if (!ge) return error_at(source, key, name, "expected a table");
      if (auto r = apply_gilbert_elliott(*ge, source, name, link.burst_loss); !r) return r;
      continue;
    }
    Result<double, std::string> v = std::string("unknown key");
    if (k == "rate_kbps") {
      v = number_in(node, 0, kMaxRateKbps);
      if (v) link.rate_bps = static_cast<uint64_t>(std::llround(*v * 1000));
    } else if (k == "delay_ms") {
      v = number_in(node, 0, kMaxDelayMs);
      if (v) link.delay = from_ms(*v);
    } else if (k == "jitter_ms") {
      v = number_in(node, 0, kMaxDelayMs);
      if (v) link.jitter = from_ms(*v);
    } else if (k == "loss") {
      v = number_in(node, 0, 1);
      if (v) link.loss = *v;
    } else if (k == "queue_bytes") {
      if (!node.is_integer()) {
        v = std::string("expected an integer");
      } else {
        v = number_in(node, 0, static_cast<double>(kMaxQueueBytes));
        if (v) link.queue_limit_bytes = static_cast<size_t>(*v);
      }
    } else if (k == "reorder") {
      v = number_in(node, 0, 1);
      if (v) link.reorder = *v;
    } else if (k == "reorder_delay_ms") {
      v = number_in(node, 0, kMaxDelayMs);
      if (v) link.reorder_delay = from_ms(*v);
    } else if (k == "duplicate") {
      v = number_in(node, 0, 1);
      if (v) link.duplicate = *v;
    } else if (k == "overhead_bytes") {
      if (!node.is_integer()) {
        v = std::string("expected an integer");
      } else {
        v = number_in(node, 0, 1000);
        if (v) link.overhead_bytes = static_cast<size_t>(*v);
      }
    }
    if (!v) return error_at(source, key, name, v.error());
  }
  return {};
}

Result<ScheduledChange, ProfileError> parse_change(const toml::table& table,
                                                   std::string_view source, size_t index,
                                                   const Profile& profile) {
  std::string prefix = "schedule[" + std::to_string(index) + "]";
  std::string entry_where = where(source, table.source());
  ScheduledChange change;
  change.up = profile.up;
  change.down = profile.down;
  // First the keys every change has, so the others can be checked against the action.
  const auto* action = table.get("action");
  if (!action) return ProfileError{entry_where + ": " + prefix + ": action is missing"};
  auto action_name = action->value<std::string>();
  if (action_name == "outage") {
    change.action = ScheduleAction::outage;
  } else if (action_name == "rate") {
    change.action = ScheduleAction::rate;
  } else if (action_name == "config") {
    change.action = ScheduleAction::config;
  } else {
    return ProfileError{where(source, action->source()) + ": " + prefix +
                        ".action: expected \"outage\", \"rate\" or \"config\""};
  }
  bool have_at = false, have_duration = false, have_rate = false, have_values = false;
  const toml::table* values = nullptr;
  std::string values_name;
  for (const auto& [key, node] : table) {
    std::string_view k = key.str();
    std::string name = prefix + "." + std::string(k);
    if (k == "action") continue;
    if (k == "at_s") {
      auto v = number_in(node, 0, kMaxScheduleSeconds);
      if (!v) return error_at(source, key, name, v.error());
      change.at = from_s(*v);
      have_at = true;
    } else if (k == "direction") {
      auto d = node.value<std::string>();
      if (d == "up") {
        change.direction = Directions::up;
      } else if (d == "down") {
        change.direction = Directions::down;
      } else if (d == "both") {
        change.direction = Directions::both;
      } else {
        return error_at(source, key, name, "expected \"up\", \"down\" or \"both\"");
      }
    } else if (k == "duration_s" && change.action == ScheduleAction::outage) {
      auto v = number_in(node, 0, kMaxScheduleSeconds);
      if (!v) return error_at(source, key, name, v.error());
      if (*v <= 0) return error_at(source, key, name, "must be above 0");
      change.duration = from_s(*v);
      have_duration = true;
    } else if (k == "rate_kbps" && change.action == ScheduleAction::rate) {
      auto v = number_in(node, 0, kMaxRateKbps);
      if (!v) return error_at(source, key, name, v.error());
      change.rate_bps = static_cast<uint64_t>(std::llround(*v * 1000));
      have_rate = true;
    } else if (k == "values" && change.action == ScheduleAction::config) {
      values = node.as_table();
      if (!values) return error_at(source, key, name, "expected a table");
      values_name = name;
      have_values = true;
    } else if (k == "duration_s" || k == "rate_kbps" || k == "values") {
      return error_at(source, key, name,
                      std::string("not used by action \"") + to_string(change.action) + "\"");
    } else {
      return error_at(source, key, name, "unknown key");
    }
  }
  if (!have_at) return ProfileError{entry_where + ": " + prefix + ": at_s is missing"};
  if (change.action == ScheduleAction::outage && !have_duration)
    return ProfileError{entry_where + ": " + prefix + ": duration_s is missing"};
  if (change.action == ScheduleAction::rate && !have_rate)
    return ProfileError{entry_where + ": " + prefix + ": rate_kbps is missing"};
  if (change.action == ScheduleAction::config) {
    if (!have_values) return ProfileError{entry_where + ": " + prefix + ": values is missing"};
    if (auto r = apply_link_table(*values, source, values_name, change.up); !r) return r.error();
    if (auto r = apply_link_table(*values, source, values_name, change.down); !r) return r.error();
  }
  return change;
}

}  // namespace

const char* to_string(Directions d) {
  switch (d) {
    case Directions::up:
      return "up";
    case Directions::down:
      return "down";
    case Directions::both:
      return "both";
  }
  return "?";
}

const char* to_string(ScheduleAction a) {
  switch (a) {
    case ScheduleAction::outage:
      return "outage";
    case ScheduleAction::rate:
      return "rate";
    case ScheduleAction::config:
      return "config";
  }
  return "?";
}

sim::LinkConfig default_link_config() {
  sim::LinkConfig c;
  c.overhead_bytes = 0;
  return c;
}

Result<Profile, ProfileError> parse_profile(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return ProfileError{std::string(source) + ":" + std::to_string(e.source().begin.line) + ":" +
                        std::to_string(e.source().begin.column) + ": " +
                        std::string(e.description())};
  }
  Profile profile;
  profile.up = default_link_config();
  profile.down = default_link_config();
  // The directions first: scheduled config changes start from them, wherever they stand.
  for (const char* direction : {"up", "down"}) {
    const auto* node = root.get(direction);
    if (!node) return ProfileError{std::string(source) + ": [" + direction + "] is missing"};
    const auto* table = node->as_table();
    if (!table) {
      return ProfileError{where(source, node->source()) + ": " + direction + ": expected a table"};
    }
    auto& link = std::string_view(direction) == "up" ? profile.up : profile.down;
    if (auto r = apply_link_table(*table, source, direction, link); !r) return r.error();
  }
  for (const auto& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "up" || k == "down") continue;
    if (k == "name" || k == "description") {
      auto s = node.value<std::string>();
      if (!s) return error_at(source, key, k, "expected a string");
      (k == "name" ? profile.name : profile.description) = *s;
    } else if (k == "schedule") {
      const auto* array = node.as_array();
      if (!array) return error_at(source, key, k, "expected [[schedule]] tables");
      if (array->size() > kMaxScheduleEntries) {
        return error_at(source, key, k,
                        "more than " + std::to_string(kMaxScheduleEntries) + " entries");
      }
      for (size_t i = 0; i < array->size(); ++i) {
        const auto* table = (*array)[i].as_table();
        if (!table) {
          return ProfileError{where(source, (*array)[i].source()) +
                              ": schedule: expected [[schedule]] tables"};
        }
        auto change = parse_change(*table, source, i, profile);
        if (!change) return change.error();
        profile.schedule.push_back(std::move(*change));
      }
    } else {
      return error_at(source, key, k, "unknown key");
    }
  }
  std::stable_sort(profile.schedule.begin(), profile.schedule.end(),
                   [](const ScheduledChange& a, const ScheduledChange& b) { return a.at < b.at; });
  return profile;
}

Result<Profile, ProfileError> load_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ProfileError{path + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ProfileError{path + ": read error"};
  // Profiles are a few kilobytes; a huge file is a mistake (a wrong path).
  if (text.str().size() > 1024 * 1024) return ProfileError{path + ": larger than 1 MiB"};
  return parse_profile(text.str(), path);
}

}  // namespace cellrtc::linkem
