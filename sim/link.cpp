#include "sim/link.h"

#include "sim/network.h"

namespace cellrtc::sim {

Link::Link(Network& net, uint64_t seed, const LinkConfig& config, NodeId node, Direction direction)
    : net_(net), model_(seed, config), node_(node), direction_(direction) {}

void Link::schedule_outage(Instant at, Duration length) {
  net_.at(at, [this] { model_.begin_outage(); });
  net_.at(at + length, [this] { model_.end_outage(); });
}

void Link::schedule_rate(Instant at, uint64_t rate_bps) {
  net_.at(at, [this, rate_bps] { model_.set_rate(rate_bps); });
}

void Link::schedule_config(Instant at, const LinkConfig& config) {
  net_.at(at, [this, config] { model_.set_config(config); });
}

}  // namespace cellrtc::sim
