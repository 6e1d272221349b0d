// The per-packet decisions of one direction of a link, without any clock or event queue of its
// own: a rate-limited transmitter with a drop-tail queue, followed by a wire with delay, jitter,
// loss, reordering and duplication. The caller feeds `now` and the packet's size and holds the
// packet until the arrival time it is told. sim::Link drives it under virtual time; the
// cellrtc-linkem tool drives it with the real monotonic clock between two TUN devices.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "core/common/random.h"
#include "core/common/time.h"
#include "sim/trace.h"

namespace cellrtc::sim {

// Two-state Markov loss (Gilbert-Elliott), stepped once per packet: bursts of loss like a
// radio link in a fade. With loss_in_bad = 1 the mean burst length is 1 / p_bad_to_good
// packets and the long-run share of time in the bad state p_gb / (p_gb + p_bg).
struct GilbertElliott {
  double p_good_to_bad = 0;  // 0 turns the model off
  double p_bad_to_good = 1;
  double loss_in_bad = 1;
  double loss_in_good = 0;
  bool operator==(const GilbertElliott&) const = default;
};

struct LinkConfig {
  uint64_t rate_bps = 0;  // 0 = unlimited (no serialization delay, no queue)
  Duration delay{0};      // one-way propagation delay, the minimum a packet takes
  Duration jitter{0};     // extra delay, uniform in [0, jitter]; FIFO order is kept
  double loss = 0;        // independent random loss probability per packet
  GilbertElliott burst_loss;
  double reorder =
      0;  // probability a packet is held back by reorder_delay, letting later ones pass
  Duration reorder_delay = std::chrono::milliseconds(10);
  double duplicate = 0;          // probability a packet arrives twice
  size_t queue_limit_bytes = 0;  // 0 = unlimited; counts packets waiting or being serialized
  // Bytes a datagram costs on the wire beyond its payload (IPv4 20 + UDP 8); counted against
  // the rate and the queue limit, because that is what a cellular uplink carries.
  size_t overhead_bytes = 28;
  bool operator==(const LinkConfig&) const = default;
};

struct LinkCounters {
  uint64_t packets_sent = 0;       // offered to the link
  uint64_t bytes_sent = 0;         // payload bytes offered
  uint64_t packets_delivered = 0;  // left the far end (duplicates included)
  uint64_t bytes_delivered = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  std::array<uint64_t, kDropReasonCount> dropped_by_reason{};

  uint64_t dropped(DropReason r) const { return dropped_by_reason[static_cast<size_t>(r)]; }
  uint64_t dropped_total() const;
};

class LinkModel {
 public:
  LinkModel(uint64_t seed, const LinkConfig& config) : rng_(seed), config_(config) {}

  const LinkConfig& config() const { return config_; }
  // Takes effect for packets that enter the link from now on.
  void set_config(const LinkConfig& config) { config_ = config; }
  void set_rate(uint64_t rate_bps) { config_.rate_bps = rate_bps; }

  // Outages nest: the link is down while more outages have begun than ended. Down, every packet
  // entering, and every packet due to leave, is dropped (reason outage).
  void begin_outage() { ++down_count_; }
  void end_outage() {
    if (down_count_ > 0) --down_count_;
  }
  bool is_down() const { return down_count_ > 0; }

  const LinkCounters& counters() const { return counters_; }
  // Bytes (with overhead) waiting for or under serialization at `now`.
  size_t backlog_bytes(Instant now);

  // What the link does with one packet offered at `now`: dropped (with the reason), or the
  // instant it reaches the far end and, when duplicated, the instant of its copy.
  struct Admission {
    std::optional<DropReason> drop;
    Instant arrival;
    std::optional<Instant> duplicate_arrival;
  };
  Admission admit(Instant now, size_t payload_bytes);
  // A packet reaches the far end; false if the link is down now (counted as an outage drop).
  bool leave(size_t payload_bytes);
  // A packet the caller could not hand on after all (counted under `reason`).
  void count_drop(DropReason r) { ++counters_.dropped_by_reason[static_cast<size_t>(r)]; }

 private:
  double draw() { return static_cast<double>(rng_.next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return p > 0 && (p >= 1 || draw() < p); }

  SeededRandom rng_;
  LinkConfig config_;
  LinkCounters counters_;
  int down_count_ = 0;
  bool ge_bad_ = false;
  Instant busy_until_;
  Instant last_arrival_;  // of packets that keep FIFO order
  struct InFlight {
    Instant done;  // serialization ends
    size_t bytes;
  };
  std::deque<InFlight> queue_;
  size_t queue_bytes_ = 0;
};

}  // namespace cellrtc::sim
