#include "core/streamer/relay_plan.h"

#include <algorithm>

#include "core/turn/ice_server_uri.h"

namespace cellrtc::streamer {

RelayPlan plan_relays(const std::vector<whip::IceServer>& offered, const RelayPlanConfig& config,
                      const std::optional<SocketAddress>& udp_local, const HostResolver& resolve) {
  RelayPlan plan;
  plan.gatherer.udp_local = udp_local;
  plan.gatherer.allocation_timeout = config.allocation_timeout;
  plan.gatherer.now_unix_s = config.now_unix_s;
  // Configured URLs carry no secret: they use the credentials the server gave with its first
  // TURN entry (TURN REST credentials are valid on every server sharing the secret).
  std::optional<turn::TurnCredentials> server_credentials;
  std::vector<std::pair<std::string, turn::TurnCredentials>> entries;
  for (const auto& s : offered) {
    if (s.username.empty() && s.credential.empty()) {
      entries.emplace_back(s.url, turn::TurnCredentials{});
      continue;
    }
    entries.emplace_back(s.url, turn::TurnCredentials{s.username, s.credential});
    if (!server_credentials) server_credentials = entries.back().second;
  }
  for (const auto& url : config.turn_urls)
    entries.emplace_back(url, server_credentials.value_or(turn::TurnCredentials{}));

  std::vector<std::string> seen;
  for (const auto& [url, credentials] : entries) {
    auto uri = turn::parse_ice_server_uri(url);
    if (!uri) {
      plan.notes.push_back(url + ": " + uri.error().reason);
      continue;
    }
    if (!uri->is_turn()) continue;  // STUN: the server is ICE-lite, reflexive adds nothing
    const std::string canonical = uri->to_string();
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
    seen.push_back(canonical);
    if (uri->transport == turn::TurnTransport::udp && !udp_local) {
      plan.notes.push_back(canonical + ": TURN over UDP, and this device sends no UDP");
      continue;
    }
    if (credentials.username.empty()) {
      plan.notes.push_back(canonical + ": no credentials (the server offered no TURN server)");
      continue;
    }
    // RFC 8656 section 3.8 with RFC 7065: turns: is TLS; its certificate is checked against
    // the configured CAs, and without any it cannot be.
    if (uri->transport == turn::TurnTransport::tls && config.ca_pem.empty()) {
      plan.notes.push_back(canonical + ": cannot be verified without " + config.ca_setting);
      continue;
    }
    std::optional<IpAddress> ip = uri->ip;
    if (!ip) {
      auto found = std::find_if(config.hosts.begin(), config.hosts.end(),
                                [&](const auto& h) { return h.first == uri->host; });
      if (found != config.hosts.end()) ip = found->second;
    }
    if (!ip) {
      if (!resolve) {
        plan.notes.push_back(canonical + ": cannot resolve " + uri->host + " (no resolver)");
        continue;
      }
      auto resolved = resolve(uri->host);
      if (!resolved) {
        plan.notes.push_back(canonical + ": " + resolved.error());
        continue;
      }
      ip = *resolved;
    }
    plan.gatherer.servers.push_back(
        turn::RelayServer{*uri, SocketAddress(*ip, uri->port), credentials, {}});
    if (plan.gatherer.servers.size() == plan.gatherer.max_servers) break;
  }
  if (std::any_of(
          plan.gatherer.servers.begin(), plan.gatherer.servers.end(),
          [](const turn::RelayServer& s) { return s.uri.transport == turn::TurnTransport::tls; }))
    plan.gatherer.ca_pem = config.ca_pem;
  return plan;
}

}  // namespace cellrtc::streamer
