#include "runtime/interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>

#include "runtime/sockaddr.h"

namespace cellrtc::runtime {

std::vector<NetworkInterface> filter_interfaces(std::vector<NetworkInterface> all,
                                                const InterfaceListOptions& options) {
  auto rejected = [&options](const NetworkInterface& i) {
    if (!options.include_down && !i.is_up) return true;
    if (!options.include_loopback && (i.is_loopback || i.address.is_loopback())) return true;
    if (!options.include_ipv4 && i.address.is_v4()) return true;
    if (!options.include_ipv6 && i.address.is_v6()) return true;
    if (!options.include_ipv6_link_local && i.address.is_v6() && i.address.is_link_local())
      return true;
    if (!options.allowed_names.empty() &&
        std::find(options.allowed_names.begin(), options.allowed_names.end(), i.name) ==
            options.allowed_names.end())
      return true;
    return false;
  };
  all.erase(std::remove_if(all.begin(), all.end(), rejected), all.end());
  return all;
}

OsResult<std::vector<NetworkInterface>> list_interfaces(const InterfaceListOptions& options) {
  ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) return OsError::from_errno("getifaddrs");
  std::vector<NetworkInterface> all;
  for (const ifaddrs* it = head; it != nullptr; it = it->ifa_next) {
    // Entries without an address, or of other families (AF_PACKET), carry no candidate.
    auto ip = ip_from_sockaddr(it->ifa_addr);
    if (!ip) continue;
    NetworkInterface entry;
    entry.name = it->ifa_name;
    entry.index = ::if_nametoindex(it->ifa_name);
    entry.address = *ip;
    entry.is_loopback = (it->ifa_flags & IFF_LOOPBACK) != 0;
    entry.is_up = (it->ifa_flags & IFF_UP) != 0 && (it->ifa_flags & IFF_RUNNING) != 0;
    all.push_back(std::move(entry));
  }
  ::freeifaddrs(head);
  return filter_interfaces(std::move(all), options);
}

}  // namespace cellrtc::runtime
