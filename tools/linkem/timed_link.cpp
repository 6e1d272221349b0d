#include "tools/linkem/timed_link.h"

#include <algorithm>

namespace cellrtc::linkem {

bool TimedLink::has_room(size_t copies, size_t bytes) const {
  return held_.size() + copies <= limits_.max_packets &&
         held_bytes_ + copies * bytes <= limits_.max_bytes;
}

void TimedLink::hold(Instant due, ByteView packet) {
  held_.push(Held{due, next_order_++, Bytes(packet.begin(), packet.end())});
  held_bytes_ += packet.size();
  counters_.held_packets_max = std::max(counters_.held_packets_max, held_.size());
  counters_.held_bytes_max = std::max(counters_.held_bytes_max, held_bytes_);
}

void TimedLink::offer(Instant now, ByteView packet) {
  // Checked before the model sees the packet, so a packet the emulator cannot hold does not
  // take the transmitter's time either.
  if (!has_room(1, packet.size())) {
    ++counters_.dropped_held_limit;
    return;
  }
  sim::LinkModel::Admission a = model_.admit(now, packet.size());
  if (a.drop) return;
  hold(a.arrival, packet);
  if (a.duplicate_arrival) {
    if (has_room(1, packet.size())) {
      hold(*a.duplicate_arrival, packet);
    } else {
      ++counters_.dropped_held_limit;
    }
  }
}

std::optional<Instant> TimedLink::next_due() const {
  if (held_.empty()) return std::nullopt;
  return held_.top().due;
}

void TimedLink::release_due(Instant now, const std::function<bool(ByteView)>& write) {
  while (!held_.empty() && held_.top().due <= now) {
    // priority_queue::top is const; the element is popped right after, so moving is safe.
    Bytes data = std::move(const_cast<Held&>(held_.top()).data);
    held_.pop();
    held_bytes_ -= data.size();
    if (!model_.leave(data.size())) continue;
    if (!write(data)) {
      ++counters_.write_failed;
      counters_.write_failed_bytes += data.size();
    }
  }
}

}  // namespace cellrtc::linkem
