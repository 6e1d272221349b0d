// Which TURN relays a device's session gathers from (the Linux agent and the firmware alike).
// The signaling server hands out time-limited TURN REST credentials with each WHIP answer
// (Link headers, RFC 9725 section 4.6); the device configuration holds no TURN secret, only
// optionally more turn:/turns: URLs, which get the credentials the server gave for its own
// (same realm and secret). The core does not resolve names: the platform's resolver is asked
// for host names not in the static list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/turn/relay_gatherer.h"
#include "core/whip/whip_messages.h"

namespace cellrtc::streamer {

struct RelayPlanConfig {
  // More turn:/turns: URLs to gather from, after the server's; no credentials of their own.
  std::vector<std::string> turn_urls;
  // PEM CAs for turns: certificate verification. Empty: turns: entries are skipped with a note
  // (a TLS connection that cannot be verified is not opened).
  std::string ca_pem;
  // How the notes name the setting that holds the CA ("--ca-file" on the agent).
  std::string ca_setting = "a TURN CA";
  // Host names resolved without asking the resolver: (name, address).
  std::vector<std::pair<std::string, IpAddress>> hosts;
  Duration allocation_timeout = seconds(10);
  // Unix time for certificate validity dates, when the device knows it (tls_client.h).
  std::optional<int64_t> now_unix_s;
};

// The platform's name lookup: an address for `host`, or why not.
using HostResolver = std::function<Result<IpAddress, std::string>(const std::string& host)>;

struct RelayPlan {
  turn::RelayGathererConfig gatherer;  // no servers: nothing to gather from
  std::vector<std::string> notes;      // entries skipped and why, for the log
};

// The gatherer configuration for one session: the server's turn:/turns: entries in order, then
// the configured URLs (skipping duplicates), at most gatherer.max_servers. stun: entries are
// left out (the server is ICE-lite: a reflexive candidate adds nothing); unusable entries go to
// notes: unparsable, TURN over UDP without `udp_local` (the device sends no UDP at all), no
// credentials, no address for the host, turns: without a CA.
RelayPlan plan_relays(const std::vector<whip::IceServer>& offered, const RelayPlanConfig& config,
                      const std::optional<SocketAddress>& udp_local, const HostResolver& resolve);

}  // namespace cellrtc::streamer
