#include "runtime/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

namespace cellrtc::runtime {

int address_family(IpAddress::Family family) {
  return family == IpAddress::Family::v4 ? AF_INET : AF_INET6;
}

SockaddrStorage to_sockaddr(const SocketAddress& address) {
  SockaddrStorage out;
  if (address.ip().is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(address.port());
    std::memcpy(&sin.sin_addr, address.ip().data(), 4);
    std::memcpy(&out.storage, &sin, sizeof sin);
    out.length = sizeof sin;
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(address.port());
    std::memcpy(&sin6.sin6_addr, address.ip().data(), 16);
    std::memcpy(&out.storage, &sin6, sizeof sin6);
    out.length = sizeof sin6;
  }
  return out;
}

std::optional<IpAddress> ip_from_sockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, address, sizeof sin);
    return IpAddress::v4(ntohl(sin.sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address, sizeof sin6);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &sin6.sin6_addr, 16);
    return IpAddress::v6(bytes);
  }
  return std::nullopt;
}

std::optional<SocketAddress> from_sockaddr(const sockaddr* address, socklen_t length) {
  if (address == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t)))
    return std::nullopt;
  // memcpy rather than casts: the caller's buffer need not be aligned for the concrete type.
  if (address->sa_family == AF_INET) {
    if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) return std::nullopt;
    sockaddr_in sin;
    std::memcpy(&sin, address, sizeof sin);
    return SocketAddress(IpAddress::v4(ntohl(sin.sin_addr.s_addr)), ntohs(sin.sin_port));
  }
  if (address->sa_family == AF_INET6) {
    if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) return std::nullopt;
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address, sizeof sin6);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &sin6.sin6_addr, 16);
    return SocketAddress(IpAddress::v6(bytes), ntohs(sin6.sin6_port));
  }
  return std::nullopt;
}

}  // namespace cellrtc::runtime
