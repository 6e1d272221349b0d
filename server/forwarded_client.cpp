#include "server/forwarded_client.h"

#include <algorithm>

#include "core/common/socket_address.h"
#include "core/common/text.h"

namespace cellrtc::server {
namespace {

bool is_trusted(const IpAddress& ip, const std::vector<std::string>& trusted) {
  return std::any_of(trusted.begin(), trusted.end(), [&](const std::string& t) {
    auto parsed = IpAddress::parse(t);
    return parsed && *parsed == ip;
  });
}

}  // namespace

std::string forwarded_client(const std::string& peer, const std::string* forwarded_for,
                             const std::vector<std::string>& trusted_proxies) {
  auto peer_ip = IpAddress::parse(peer);
  if (!forwarded_for || !peer_ip || !is_trusted(*peer_ip, trusted_proxies)) return peer;
  std::string_view list = *forwarded_for;
  // Bounded work whatever the header's length: at most 16 hops are looked at.
  for (int hop = 0; hop < 16 && !list.empty(); ++hop) {
    auto comma = list.rfind(',');
    auto entry = text::trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
    auto ip = IpAddress::parse(entry);
    if (!ip) return peer;  // not an address we understand: trust nothing further
    if (!is_trusted(*ip, trusted_proxies)) return ip->to_string();
    if (comma == std::string_view::npos) break;
    list = list.substr(0, comma);
  }
  return peer;
}

}  // namespace cellrtc::server
