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

// The system resolver (the --resolve list was looked at first, by the plan).
std::optional<IpAddress> resolve(const std::string& host, std::string* error) {
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

bool wants_tls(const std::vector<IceServer>& offered, const RelayConfig& config) {
  auto tls = [](std::string_view url) {
    auto uri = turn::parse_ice_server_uri(url);
    return uri && uri->is_turn() && uri->transport == turn::TurnTransport::tls;
  };
  return std::any_of(offered.begin(), offered.end(),
                     [&](const IceServer& s) { return tls(s.url); }) ||
         std::any_of(config.turn_urls.begin(), config.turn_urls.end(), tls);
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
  streamer::RelayPlanConfig plan_config;
  plan_config.turn_urls = config.turn_urls;
  plan_config.ca_setting = "--ca-file";
  plan_config.hosts = config.hosts;
  plan_config.allocation_timeout = config.allocation_timeout;
  // A Linux device has a clock: certificate validity dates are checked against it.
  plan_config.now_unix_s = static_cast<int64_t>(std::time(nullptr));
  // The CA file is read only when a turns: entry wants it.
  if (!config.ca_file.empty() && wants_tls(offered, config)) {
    std::ifstream in(config.ca_file);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in) return "cannot read the CA file " + config.ca_file;
    plan_config.ca_pem = pem.str();
  }
  RelayPlan plan =
      streamer::plan_relays(offered, plan_config, udp_local,
                            [](const std::string& host) -> Result<IpAddress, std::string> {
                              std::string error;
                              if (auto ip = resolve(host, &error)) return *ip;
                              return error;
                            });
  if (plan.gatherer.servers.empty()) return std::string("no usable TURN server");
  return plan;
}

}  // namespace cellrtc::device
