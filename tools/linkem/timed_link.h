// One direction of the emulator: the link model (sim/link_model.h) fed with the real clock, and
// the packets it has accepted, held until the arrival time the model gave each of them.
// Memory is bounded twice: the model's queue limit (bytes waiting for the transmitter) and a
// hard cap on everything held, which also covers packets already "on the wire" (delay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/time.h"
#include "sim/link_model.h"

namespace cellrtc::linkem {

struct HeldLimits {
  size_t max_packets = 16384;
  size_t max_bytes = 32 * 1024 * 1024;
};

// What the emulator adds to the model's counters.
struct TimedLinkCounters {
  uint64_t dropped_held_limit = 0;  // the hard cap on held packets or bytes was reached
  uint64_t write_failed = 0;        // the far device refused the packet (down, or full)
  uint64_t write_failed_bytes = 0;
  size_t held_packets_max = 0;  // high-water marks
  size_t held_bytes_max = 0;
};

class TimedLink {
 public:
  TimedLink(uint64_t seed, const sim::LinkConfig& config, HeldLimits limits = {})
      : model_(seed, config), limits_(limits) {}

  sim::LinkModel& model() { return model_; }
  const sim::LinkModel& model() const { return model_; }
  const TimedLinkCounters& counters() const { return counters_; }

  // A packet enters the link at `now`: dropped, or held until its arrival (twice if duplicated).
  void offer(Instant now, ByteView packet);

  // When the next held packet is due; nothing when none is held.
  std::optional<Instant> next_due() const;

  // Hands every packet due at or before `now` to `write`, in arrival order (ties in the order
  // they were offered). `write` returns false when the packet could not be written. A packet
  // due while the link is down is dropped (an outage drop, as in the model).
  void release_due(Instant now, const std::function<bool(ByteView)>& write);

  size_t held_packets() const { return held_.size(); }
  size_t held_bytes() const { return held_bytes_; }

 private:
  struct Held {
    Instant due;
    uint64_t order;
    Bytes data;
  };
  struct Later {
    bool operator()(const Held& a, const Held& b) const {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };
  bool has_room(size_t copies, size_t bytes) const;
  void hold(Instant due, ByteView packet);

  sim::LinkModel model_;
  HeldLimits limits_;
  TimedLinkCounters counters_;
  std::priority_queue<Held, std::vector<Held>, Later> held_;
  size_t held_bytes_ = 0;
  uint64_t next_order_ = 0;
};

}  // namespace cellrtc::linkem
