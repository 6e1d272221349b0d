// IP addresses and transport addresses as plain values, parsed and printed without the OS
// (the embedded build has no inet_pton).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cellrtc {

class IpAddress {
 public:
  enum class Family : uint8_t { v4, v6 };

  constexpr IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint32_t host_order);
  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  static IpAddress loopback_v4() { return v4(127, 0, 0, 1); }
  static IpAddress loopback_v6();
  // "192.0.2.1" or "2001:db8::1" (no brackets, no zone).
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::v4; }
  bool is_v6() const { return family_ == Family::v6; }
  uint32_t v4_value() const;  // host order; only for v4
  // 4 bytes for v4, 16 for v6, network order.
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return is_v4() ? 4 : 16; }

  bool is_loopback() const;
  bool is_unspecified() const;
  bool is_link_local() const;  // 169.254/16, fe80::/10
  bool is_private() const;     // RFC 1918, RFC 6598 shared (CGNAT), fc00::/7

  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::v4;
  std::array<uint8_t, 16> bytes_{};
};

class SocketAddress {
 public:
  constexpr SocketAddress() = default;
  SocketAddress(IpAddress ip, uint16_t port) : ip_(ip), port_(port) {}
  // "192.0.2.1:3478" or "[2001:db8::1]:3478".
  static std::optional<SocketAddress> parse(std::string_view text);

  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  IpAddress::Family family() const { return ip_.family(); }
  std::string to_string() const;
  auto operator<=>(const SocketAddress&) const = default;

 private:
  IpAddress ip_;
  uint16_t port_ = 0;
};

size_t hash_value(const SocketAddress& a);

}  // namespace cellrtc

template <>
struct std::hash<cellrtc::SocketAddress> {
  size_t operator()(const cellrtc::SocketAddress& a) const { return cellrtc::hash_value(a); }
};
