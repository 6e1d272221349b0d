// TURN for the device agent: which relays a session gathers from. The signaling server hands
// out time-limited TURN REST credentials with each WHIP answer (Link headers, RFC 9725 section
// 4.6); the device configuration holds no TURN secret, only optionally more turn:/turns: URLs,
// which get the credentials the server gave for its own (same realm and secret). Host names are
// resolved here (the core does not resolve), from a static list first (--resolve NAME=IP).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/turn/relay_gatherer.h"
#include "device/whip_client.h"

namespace cellrtc::device {

struct RelayConfig {
  // RTCIceTransportPolicy "relay": no host candidates at all, only relayed ones (for tests and
  // networks where only a TURN server is reachable).
  bool relay_only = false;
  // More turn:/turns: URLs to gather from, after the server's; no credentials of their own.
  std::vector<std::string> turn_urls;
  // PEM CAs for turns: certificate verification (the --ca-file of https).
  std::string ca_file;
  // Host names resolved without DNS: (name, address).
  std::vector<std::pair<std::string, IpAddress>> hosts;
  Duration allocation_timeout = seconds(10);
};

struct RelayPlan {
  turn::RelayGathererConfig gatherer;
  std::vector<std::string> notes;  // entries skipped and why, for the log
};

// The gatherer configuration for one session: the server's turn:/turns: entries in order, then
// the configured URLs (skipping duplicates). stun: entries and unusable ones go to notes.
// Without `udp_local` (the device sends no UDP at all) TURN over UDP is skipped. Fails when
// nothing is left to gather from, or turns: is wanted and the CA file is unreadable.
Result<RelayPlan, std::string> plan_relays(const std::vector<IceServer>& offered,
                                           const RelayConfig& config,
                                           const std::optional<SocketAddress>& udp_local);

// "NAME=IP" (the --resolve option).
std::optional<std::pair<std::string, IpAddress>> parse_host_mapping(std::string_view text);

}  // namespace cellrtc::device
