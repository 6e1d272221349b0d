// TURN for the device agent: which relays a session gathers from, planned by the portable
// streamer::plan_relays (core/streamer/relay_plan.h, the firmware's too) with what only Linux
// has: the CA read from --ca-file, host names resolved with getaddrinfo after the static list
// (--resolve NAME=IP), the system clock for certificate dates.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/streamer/relay_plan.h"
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

using streamer::RelayPlan;

// streamer::plan_relays with this configuration (turns: entries without --ca-file are skipped
// with a note). Fails when nothing is left to gather from, or turns: is wanted and the CA file
// is unreadable.
Result<RelayPlan, std::string> plan_relays(const std::vector<IceServer>& offered,
                                           const RelayConfig& config,
                                           const std::optional<SocketAddress>& udp_local);

// "NAME=IP" (the --resolve option).
std::optional<std::pair<std::string, IpAddress>> parse_host_mapping(std::string_view text);

}  // namespace cellrtc::device
