#include "device/relay_setup.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include "runtime/sockaddr.h"

namespace cellrtc::device {

namespace {

std::optional<IpAddress> resolve(const std::string& host, const RelayConfig& config,
                                 std::string* error) {
  for (const auto& [name, ip] : config.hosts)
    if (name == host) return ip;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    *error = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return std::nullopt;
  }
  std::optional<IpAddress> v4, v6;
  for (addrinfo* a = found; a; a = a->ai_next) {
    auto address = runtime::from_sockaddr(a->ai_addr, a->ai_addrlen);
    if (!address) continue;
    if (address->ip().is_v4() && !v4) v4 = address->ip();
    if (address->ip().is_v6() && !v6) v6 = address->ip();
  }
  ::freeaddrinfo(found);
  if (v4) return v4;  // the device's paths are IPv4 (carrier NAT); v6 when that is all there is
  if (v6) return v6;
  *error = "no address for " + host;
  return std::nullopt;
}

}  // namespace

std::optional<std::pair<std::string, IpAddress>> parse_host_mapping(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  auto ip = IpAddress::parse(text.substr(eq + 1));
  if (!ip) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, eq)), *ip);
}

Result<RelayPlan, std::string> plan_relays(const std::vector<IceServer>& offered,
                                           const RelayConfig& config,
                                           const std::optional<SocketAddress>& udp_local) {
  RelayPlan plan;
  plan.gatherer.udp_local = udp_local;
  plan.gatherer.allocation_timeout = config.allocation_timeout;
  // A Linux device has a clock: certificate validity dates are checked against it.
  plan.gatherer.now_unix_s = static_cast<int64_t>(std::time(nullptr));
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

  bool needs_ca = false;
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
    std::string error;
    std::optional<IpAddress> ip = uri->ip ? uri->ip : resolve(uri->host, config, &error);
    if (!ip) {
      plan.notes.push_back(canonical + ": " + error);
      continue;
    }
    needs_ca |= uri->transport == turn::TurnTransport::tls;
    plan.gatherer.servers.push_back(
        turn::RelayServer{*uri, SocketAddress(*ip, uri->port), credentials, {}});
    if (plan.gatherer.servers.size() == plan.gatherer.max_servers) break;
  }
  if (plan.gatherer.servers.empty()) return std::string("no usable TURN server");
  if (needs_ca) {
    if (config.ca_file.empty()) {
      plan.notes.push_back("turns: servers cannot be verified without --ca-file");
    } else {
      std::ifstream in(config.ca_file);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in) return "cannot read the CA file " + config.ca_file;
      plan.gatherer.ca_pem = pem.str();
    }
  }
  return plan;
}

}  // namespace cellrtc::device
