// One direction of a simulated attachment: the link model (rate, queue, delay, jitter, loss,
// reordering, duplication; sim/link_model.h) placed in a simulated network, whose event queue
// runs its scheduled changes.
#pragma once

#include "core/common/time.h"
#include "sim/link_model.h"
#include "sim/trace.h"

namespace cellrtc::sim {

class Network;

class Link {
 public:
  Link(Network& net, uint64_t seed, const LinkConfig& config, NodeId node, Direction direction);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  const LinkConfig& config() const { return model_.config(); }
  // Takes effect for packets that enter the link from now on.
  void set_config(const LinkConfig& config) { model_.set_config(config); }
  void set_rate(uint64_t rate_bps) { model_.set_rate(rate_bps); }
  // Down: every packet entering, and every packet due to leave, is dropped (reason outage).
  bool is_down() const { return model_.is_down(); }

  // Changes on a schedule, run by the network at virtual time `at`. Outages may overlap.
  void schedule_outage(Instant at, Duration length);
  void schedule_rate(Instant at, uint64_t rate_bps);
  void schedule_config(Instant at, const LinkConfig& config);

  const LinkCounters& counters() const { return model_.counters(); }
  // Bytes (with overhead) waiting for or under serialization at `now`.
  size_t backlog_bytes(Instant now) { return model_.backlog_bytes(now); }

  NodeId node() const { return node_; }
  Direction direction() const { return direction_; }

  // What the link does with one packet offered at `now`; used by the network.
  using Admission = LinkModel::Admission;
  Admission admit(Instant now, size_t payload_bytes) { return model_.admit(now, payload_bytes); }
  // A packet reaches the far end; false if the link is down now (counted as an outage drop).
  bool leave(size_t payload_bytes) { return model_.leave(payload_bytes); }

 private:
  Network& net_;
  LinkModel model_;
  NodeId node_;
  Direction direction_;
};

}  // namespace cellrtc::sim
