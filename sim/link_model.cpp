#include "sim/link_model.h"

#include <algorithm>

namespace cellrtc::sim {

uint64_t LinkCounters::dropped_total() const {
  uint64_t total = 0;
  for (uint64_t n : dropped_by_reason)
    total += n;
  return total;
}

size_t LinkModel::backlog_bytes(Instant now) {
  while (!queue_.empty() && queue_.front().done <= now) {
    queue_bytes_ -= queue_.front().bytes;
    queue_.pop_front();
  }
  return queue_bytes_;
}

LinkModel::Admission LinkModel::admit(Instant now, size_t payload_bytes) {
  Admission result;
  ++counters_.packets_sent;
  counters_.bytes_sent += payload_bytes;
  if (is_down()) {
    count_drop(DropReason::outage);
    result.drop = DropReason::outage;
    return result;
  }

  // The transmitter: a packet waits for those before it, then takes size/rate to send.
  Instant sent_at = now;
  if (config_.rate_bps > 0) {
    size_t wire = payload_bytes + config_.overhead_bytes;
    if (config_.queue_limit_bytes > 0 && backlog_bytes(now) + wire > config_.queue_limit_bytes) {
      count_drop(DropReason::queue);
      result.drop = DropReason::queue;
      return result;
    }
    // Rounded up so a long run never sends faster than the configured rate.
    int64_t serialize_us = static_cast<int64_t>(
        (uint64_t{wire} * 8 * 1'000'000 + config_.rate_bps - 1) / config_.rate_bps);
    Instant start = std::max(now, busy_until_);
    busy_until_ = start + Duration(serialize_us);
    sent_at = busy_until_;
    queue_.push_back({busy_until_, wire});
    queue_bytes_ += wire;
  }

  // Loss happens on the wire, after the packet has used its share of the transmitter, as on
  // a radio link where a corrupted frame still took its airtime.
  bool lost = chance(config_.loss);
  const GilbertElliott& ge = config_.burst_loss;
  if (ge.p_good_to_bad > 0) {
    ge_bad_ = ge_bad_ ? !chance(ge.p_bad_to_good) : chance(ge.p_good_to_bad);
    if (chance(ge_bad_ ? ge.loss_in_bad : ge.loss_in_good)) lost = true;
  }
  if (lost) {
    count_drop(DropReason::loss);
    result.drop = DropReason::loss;
    return result;
  }

  Instant arrival = sent_at + config_.delay;
  if (config_.jitter.count() > 0) {
    arrival +=
        Duration(static_cast<int64_t>(draw() * static_cast<double>(config_.jitter.count() + 1)));
  }
  if (chance(config_.reorder)) {
    // Held back and exempt from FIFO order, so packets behind it may overtake it.
    arrival += config_.reorder_delay;
    ++counters_.reordered;
  } else {
    // Jitter alone never reorders: a packet does not leave before the one ahead of it.
    arrival = std::max(arrival, last_arrival_);
    last_arrival_ = arrival;
  }
  result.arrival = arrival;
  if (chance(config_.duplicate)) {
    ++counters_.duplicated;
    result.duplicate_arrival = arrival;
  }
  return result;
}

bool LinkModel::leave(size_t payload_bytes) {
  if (is_down()) {
    count_drop(DropReason::outage);
    return false;
  }
  ++counters_.packets_delivered;
  counters_.bytes_delivered += payload_bytes;
  return true;
}

}  // namespace cellrtc::sim
