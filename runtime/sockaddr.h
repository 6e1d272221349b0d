// Conversions between the core's SocketAddress and the BSD socket API's sockaddr.
#pragma once

#include <sys/socket.h>

#include <optional>

#include "core/common/socket_address.h"

namespace cellrtc::runtime {

// A sockaddr big enough for either family, with the length the kernel expects for it.
struct SockaddrStorage {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

SockaddrStorage to_sockaddr(const SocketAddress& address);

// nullopt for families other than AF_INET/AF_INET6 or a length too short for the family.
// IPv6 scope ids (the zone of a link-local address) are dropped: SocketAddress has no zone,
// and host candidates exclude link-local IPv6 by default.
std::optional<SocketAddress> from_sockaddr(const sockaddr* address, socklen_t length);
std::optional<IpAddress> ip_from_sockaddr(const sockaddr* address);

int address_family(IpAddress::Family family);

}  // namespace cellrtc::runtime
