#include "sim/nat.h"

namespace cellrtc::sim {

NatTable::Key NatTable::key_for(const SocketAddress& internal, const SocketAddress& remote) const {
  switch (config_.mapping) {
    case NatMapping::endpoint_independent:
      return {internal, SocketAddress()};
    case NatMapping::address_dependent:
      return {internal, SocketAddress(remote.ip(), 0)};
    case NatMapping::address_and_port_dependent:
      return {internal, remote};
  }
  return {internal, remote};
}

std::optional<uint16_t> NatTable::allocate_port() {
  uint32_t first = config_.first_port;
  uint32_t span = uint32_t{config_.last_port} - first + 1;
  if (config_.last_port < config_.first_port || by_port_.size() >= span) return std::nullopt;
  // Random ports, as carrier NATs use: a peer cannot predict the next mapping. A few tries,
  // then a scan, so a nearly full table still finds the free port.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto port = static_cast<uint16_t>(first + rng_.uniform(span));
    if (!by_port_.contains(port)) return port;
  }
  for (uint32_t p = first; p < first + span; ++p) {
    if (!by_port_.contains(static_cast<uint16_t>(p))) return static_cast<uint16_t>(p);
  }
  return std::nullopt;
}

std::optional<NatTable::Outbound> NatTable::outbound(Instant now, const SocketAddress& internal,
                                                     const SocketAddress& remote) {
  Key key = key_for(internal, remote);
  Outbound result;
  auto it = by_key_.find(key);
  if (it != by_key_.end() && expired(by_port_.at(it->second), now)) {
    // The caller expires mappings before using the table; this keeps the table right even if
    // it did not.
    by_port_.erase(it->second);
    by_key_.erase(it);
    it = by_key_.end();
  }
  if (it == by_key_.end()) {
    auto port = allocate_port();
    if (!port) return std::nullopt;
    NatBinding b;
    b.internal = internal;
    b.external_port = *port;
    b.remote_key = key.second;
    by_port_.emplace(*port, std::move(b));
    it = by_key_.emplace(key, *port).first;
    result.created = true;
  }
  NatBinding& b = by_port_.at(it->second);
  b.last_used = now;
  b.contacted.insert(remote);
  result.external_port = b.external_port;
  return result;
}

std::optional<SocketAddress> NatTable::inbound(Instant now, uint16_t external_port,
                                               const SocketAddress& remote) {
  auto it = by_port_.find(external_port);
  if (it == by_port_.end() || expired(it->second, now)) return std::nullopt;
  NatBinding& b = it->second;
  bool admitted = false;
  switch (config_.filtering) {
    case NatFiltering::endpoint_independent:
      admitted = true;
      break;
    case NatFiltering::address_dependent: {
      // Any port of a contacted IP: the set is ordered by IP first, so look from (ip, 0).
      auto c = b.contacted.lower_bound(SocketAddress(remote.ip(), 0));
      admitted = c != b.contacted.end() && c->ip() == remote.ip();
      break;
    }
    case NatFiltering::address_and_port_dependent:
      admitted = b.contacted.contains(remote);
      break;
  }
  if (!admitted) return std::nullopt;
  if (config_.inbound_refreshes) b.last_used = now;
  return b.internal;
}

std::vector<NatBinding> NatTable::expire(Instant now) {
  std::vector<NatBinding> gone;
  for (auto it = by_port_.begin(); it != by_port_.end();) {
    if (expired(it->second, now)) {
      by_key_.erase(key_for(it->second.internal, it->second.remote_key));
      gone.push_back(std::move(it->second));
      it = by_port_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

std::optional<Instant> NatTable::next_expiry() const {
  std::optional<Instant> next;
  for (const auto& [port, b] : by_port_)
    next = earliest(next, std::optional<Instant>(b.last_used + config_.mapping_timeout));
  return next;
}

std::vector<NatBinding> NatTable::bindings() const {
  std::vector<NatBinding> out;
  for (const auto& [port, b] : by_port_)
    out.push_back(b);
  return out;
}

std::optional<uint16_t> NatTable::lookup(Instant now, const SocketAddress& internal,
                                         const SocketAddress& remote) const {
  auto it = by_key_.find(key_for(internal, remote));
  if (it == by_key_.end() || expired(by_port_.at(it->second), now)) return std::nullopt;
  return it->second;
}

}  // namespace cellrtc::sim
