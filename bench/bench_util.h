// What the benchmarks share: the cellular link profiles of the ICE and call-setup benchmarks,
// percentiles, and writing the JSON result.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/common/time.h"
#include "sim/network.h"

namespace cellrtc::bench {

// A device's cellular link, each direction: RTT from 60 ms (LTE) to over a second (GPRS), loss
// rising as the link gets worse (the ranges in the design notes).
struct CellularProfile {
  const char* name;
  Duration one_way;
  Duration jitter;
  double loss;
  uint64_t up_bps;
  uint64_t down_bps;
};

inline constexpr CellularProfile kCellularProfiles[] = {
    {"lte", milliseconds(30), milliseconds(10), 0.005, 5'000'000, 10'000'000},
    {"umts", milliseconds(140), milliseconds(20), 0.02, 384'000, 1'000'000},
    {"edge", milliseconds(280), milliseconds(60), 0.03, 200'000, 240'000},
    {"gprs", milliseconds(480), milliseconds(150), 0.05, 40'000, 80'000},
};

// The profile as a simulator attachment, with 64 KB queues; the mean one-way delay is
// `one_way` (jitter spreads around it).
inline sim::Attachment attachment(const CellularProfile& p) {
  sim::LinkConfig up;
  up.delay = p.one_way - p.jitter / 2;
  up.jitter = p.jitter;
  up.loss = p.loss;
  up.rate_bps = p.up_bps;
  up.queue_limit_bytes = 64 * 1024;
  sim::LinkConfig down = up;
  down.rate_bps = p.down_bps;
  return {up, down};
}

// The q-quantile (0..1) by nearest rank; -1 for no samples.
inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Writes `json` to `path` (nothing when path is null); false, with the reason on stderr, when
// the file cannot be written.
inline bool write_json(const char* path, const std::string& json) {
  if (!path) return true;
  FILE* f = std::fopen(path, "w");
  if (!f) {
    std::perror(path);
    return false;
  }
  bool ok = std::fputs(json.c_str(), f) >= 0;
  return std::fclose(f) == 0 && ok;
}

}  // namespace cellrtc::bench
