// A UDP NAT's translation table, in the terms of RFC 4787 (NAT behavioral requirements for
// unicast UDP): how mappings are keyed (section 4.1), which inbound packets are let through
// (section 5), and how long an idle mapping lives (section 4.3).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/common/random.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"

namespace cellrtc::sim {

// RFC 4787 section 4.1: which outbound packets share one external address and port.
enum class NatMapping : uint8_t {
  endpoint_independent,        // one mapping per internal address and port
  address_dependent,           // ... and per remote IP
  address_and_port_dependent,  // ... and per remote IP and port ("symmetric")
};

// RFC 4787 section 5: which remote endpoints may send in through a mapping.
enum class NatFiltering : uint8_t {
  endpoint_independent,        // anyone
  address_dependent,           // remote IPs the internal endpoint has sent to
  address_and_port_dependent,  // remote IP:ports the internal endpoint has sent to
};

struct NatConfig {
  NatMapping mapping = NatMapping::endpoint_independent;
  NatFiltering filtering = NatFiltering::endpoint_independent;
  // RFC 4787 REQ-5 asks for at least 2 minutes; carrier NATs forget idle UDP in about 30 s,
  // and that is what the device has to survive.
  Duration mapping_timeout = std::chrono::seconds(30);
  // RFC 4787 REQ-6: outbound packets refresh a mapping; inbound ones only if this is set.
  bool inbound_refreshes = false;
  // RFC 4787 REQ-9: an internal host may reach another through the NAT's public address.
  bool hairpinning = false;
  uint16_t first_port = 1024;
  uint16_t last_port = 65535;
};

// Everything about one mapping; external port unique per NAT.
struct NatBinding {
  SocketAddress internal;
  uint16_t external_port = 0;
  SocketAddress remote_key;  // the part of the remote endpoint the mapping is keyed on
  Instant last_used;
  std::set<SocketAddress> contacted;  // remote endpoints sent to through this mapping
};

class NatTable {
 public:
  NatTable(const NatConfig& config, uint64_t seed) : config_(config), rng_(seed) {}

  const NatConfig& config() const { return config_; }

  struct Outbound {
    uint16_t external_port = 0;
    bool created = false;
  };
  // Translates an outbound packet from `internal` to `remote`, creating a mapping if needed.
  // Empty when every external port is taken.
  std::optional<Outbound> outbound(Instant now, const SocketAddress& internal,
                                   const SocketAddress& remote);
  // The internal address an inbound packet from `remote` to `external_port` goes to, or empty
  // if no live mapping admits it.
  std::optional<SocketAddress> inbound(Instant now, uint16_t external_port,
                                       const SocketAddress& remote);

  // Removes and returns mappings idle for the timeout or longer.
  std::vector<NatBinding> expire(Instant now);
  std::optional<Instant> next_expiry() const;

  size_t size() const { return by_port_.size(); }
  // Mappings ordered by external port.
  std::vector<NatBinding> bindings() const;
  // The external port mapped for `internal` towards `remote`, if a live mapping exists at `now`.
  std::optional<uint16_t> lookup(Instant now, const SocketAddress& internal,
                                 const SocketAddress& remote) const;

 private:
  using Key = std::pair<SocketAddress, SocketAddress>;  // internal, remote_key
  Key key_for(const SocketAddress& internal, const SocketAddress& remote) const;
  bool expired(const NatBinding& b, Instant now) const {
    return now - b.last_used >= config_.mapping_timeout;
  }
  std::optional<uint16_t> allocate_port();

  NatConfig config_;
  SeededRandom rng_;
  std::map<uint16_t, NatBinding> by_port_;
  std::map<Key, uint16_t> by_key_;
};

}  // namespace cellrtc::sim
