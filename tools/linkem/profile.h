// A link profile for cellrtc-linkem: the configuration of each direction of an emulated
// cellular link ("up" = from the device, "down" = towards it) and changes on a schedule,
// read from a TOML file (format: docs/lab.md, "Link emulator"; shipped profiles in
// tools/linkem/profiles/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/common/time.h"
#include "sim/link_model.h"

namespace cellrtc::linkem {

enum class Directions : uint8_t { up, down, both };

enum class ScheduleAction : uint8_t {
  outage,  // the direction(s) drop everything for `duration`
  rate,    // the rate becomes `rate_bps` (0 = unlimited)
  config,  // the whole configuration becomes `up` / `down`
};

const char* to_string(Directions d);
const char* to_string(ScheduleAction a);

struct ScheduledChange {
  Duration at{0};  // from the moment the emulator is ready
  ScheduleAction action = ScheduleAction::outage;
  Directions direction = Directions::both;
  Duration duration{0};   // outage only
  uint64_t rate_bps = 0;  // rate only
  // config only: the new configuration of each direction the change names. Keys the change does
  // not list keep the values of that direction's section of the profile.
  sim::LinkConfig up;
  sim::LinkConfig down;

  bool applies_to(Directions d) const { return direction == Directions::both || direction == d; }
};

struct Profile {
  std::string name;
  std::string description;
  sim::LinkConfig up;
  sim::LinkConfig down;
  std::vector<ScheduledChange> schedule;  // in time order (equal times keep file order)
};

struct ProfileError {
  std::string message;  // "FILE:LINE: key: reason"
};

// Limits on what a profile may ask for, so a typo cannot make the emulator hold gigabytes.
inline constexpr size_t kMaxQueueBytes = 16 * 1024 * 1024;
inline constexpr double kMaxRateKbps = 10'000'000;  // 10 Gbit/s
inline constexpr double kMaxDelayMs = 60'000;
inline constexpr double kMaxScheduleSeconds = 7 * 24 * 3600;
inline constexpr size_t kMaxScheduleEntries = 1000;

// The configuration a direction starts from before its section's keys apply: an unlimited,
// lossless link. overhead_bytes is 0 because TUN packets are whole IP packets already.
sim::LinkConfig default_link_config();

// `source_name` names the text in error messages (the file's path).
Result<Profile, ProfileError> parse_profile(std::string_view text, std::string_view source_name);
Result<Profile, ProfileError> load_profile(const std::string& path);

}  // namespace cellrtc::linkem
