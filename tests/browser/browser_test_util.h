// Checks shared by the browser tests: reading the viewer page's numbers and waiting for them.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "browser/viewer_driver.h"

namespace cellrtc::browser {

// Polls a viewer every 250 ms until `done(answer)` holds for its stats answer ({"stats",
// "overlay", "console"}); the last answer read either way (nullopt if none could be read).
inline std::optional<nlohmann::json> wait_viewer(
    ViewerDriver& driver, int viewer, std::chrono::milliseconds timeout,
    const std::function<bool(const nlohmann::json& answer)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<nlohmann::json> last;
  while (true) {
    auto answer = driver.stats(viewer);
    if (answer) {
      last = *answer;
      if (done(*answer)) return last;
    }
    if (std::chrono::steady_clock::now() >= deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// The same with `done` looking at window.cellrtcViewer.stats() alone.
inline std::optional<nlohmann::json> wait_stats(
    ViewerDriver& driver, int viewer, std::chrono::milliseconds timeout,
    const std::function<bool(const nlohmann::json& stats)>& done) {
  return wait_viewer(driver, viewer, timeout,
                     [&](const nlohmann::json& answer) { return done(answer["stats"]); });
}

inline std::vector<int64_t> int_list(const nlohmann::json& value) {
  std::vector<int64_t> out;
  if (!value.is_array()) return out;
  for (const auto& v : value) {
    if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  }
  return out;
}

// Empty if every value is greater than the one before; otherwise where it is not.
inline std::string strictly_increasing(const std::vector<int64_t>& seqs) {
  for (size_t i = 1; i < seqs.size(); ++i) {
    if (seqs[i] <= seqs[i - 1]) {
      return "seq " + std::to_string(seqs[i]) + " after " + std::to_string(seqs[i - 1]) +
             " at index " + std::to_string(i);
    }
  }
  return {};
}

// Whether the viewer's state history has `first` and, later, `then`.
inline bool states_went(const nlohmann::json& stats, const std::string& first,
                        const std::string& then, double after_ms = -1) {
  bool seen_first = false;
  for (const auto& s : stats.value("states", nlohmann::json::array())) {
    if (s.value("at", 0.0) < after_ms) continue;
    const std::string state = s.value("state", "");
    if (state == first)
      seen_first = true;
    else if (seen_first && state == then)
      return true;
  }
  return false;
}

}  // namespace cellrtc::browser
