// The machine's interface addresses, the raw material for ICE host candidates (RFC 8445
// section 5.1.1.1).
#pragma once

#include <string>
#include <vector>

#include "core/common/socket_address.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

struct NetworkInterface {
  std::string name;  // "eth0", "lo", "wwan0"
  unsigned index = 0;
  IpAddress address;
  bool is_loopback = false;
  bool is_up = false;

  IpAddress::Family family() const { return address.family(); }
};

struct InterfaceListOptions {
  // Loopback is left out by default: RFC 8445 section 5.1.1.1 says host candidates must not
  // include it. Tests that stay on loopback turn it on (usually with allowed_names = {"lo"}).
  bool include_loopback = false;
  bool include_ipv4 = true;
  bool include_ipv6 = true;
  // fe80::/10 needs a zone to be usable, which SocketAddress does not carry, and RFC 8445 says
  // link-local IPv6 should not be gathered when other addresses exist.
  bool include_ipv6_link_local = false;
  bool include_down = false;
  // When not empty, only interfaces with one of these names.
  std::vector<std::string> allowed_names;
};

// Addresses in the order the kernel reports them, one entry per (interface, address).
OsResult<std::vector<NetworkInterface>> list_interfaces(const InterfaceListOptions& options = {});

// The filtering list_interfaces applies, separate so it can be checked against a fixed list.
std::vector<NetworkInterface> filter_interfaces(std::vector<NetworkInterface> all,
                                                const InterfaceListOptions& options);

}  // namespace cellrtc::runtime
