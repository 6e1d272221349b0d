#include "core/common/socket_address.h"

#include <cstdio>

namespace cellrtc {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted quad, exactly four decimal parts 0..255 without leading zeros (which some libcs
// read as octal).
std::optional<std::array<uint8_t, 4>> parse_v4(std::string_view s) {
  std::array<uint8_t, 4> out{};
  size_t part = 0;
  size_t i = 0;
  while (part < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    unsigned v = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      if (v > 255 || i - start >= 3) return std::nullopt;
      ++i;
    }
    if (i - start > 1 && s[start] == '0') return std::nullopt;
    out[part++] = static_cast<uint8_t>(v);
    if (part < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

// RFC 4291 section 2.2 text forms, including "::" and a trailing dotted quad.
std::optional<std::array<uint8_t, 16>> parse_v6(std::string_view s) {
  std::array<uint16_t, 8> groups{};
  int count = 0;
  int gap = -1;  // index in groups where "::" stands
  size_t i = 0;
  if (s.size() < 2) return std::nullopt;
  if (s[0] == ':') {
    if (s[1] != ':') return std::nullopt;
    gap = 0;
    i = 2;
    if (i == s.size()) return std::array<uint8_t, 16>{};
  }
  while (i < s.size()) {
    if (count >= 8) return std::nullopt;
    // A trailing IPv4 part occupies two groups.
    size_t end = s.find(':', i);
    std::string_view token = s.substr(i, end == std::string_view::npos ? s.size() - i : end - i);
    if (end == std::string_view::npos && token.find('.') != std::string_view::npos) {
      auto v4 = parse_v4(token);
      if (!v4 || count > 6) return std::nullopt;
      groups[count++] = static_cast<uint16_t>(((*v4)[0] << 8) | (*v4)[1]);
      groups[count++] = static_cast<uint16_t>(((*v4)[2] << 8) | (*v4)[3]);
      i = s.size();
      break;
    }
    if (token.empty() || token.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : token) {
      int d = hex_digit(c);
      if (d < 0) return std::nullopt;
      v = (v << 4) | static_cast<unsigned>(d);
    }
    groups[count++] = static_cast<uint16_t>(v);
    i += token.size();
    if (i == s.size()) break;
    ++i;                                     // ':'
    if (i == s.size()) return std::nullopt;  // trailing single ':'
    if (s[i] == ':') {
      if (gap >= 0) return std::nullopt;  // two "::"
      gap = count;
      ++i;
      if (i == s.size()) break;
    }
  }
  std::array<uint16_t, 8> full{};
  if (gap >= 0) {
    if (count >= 8) return std::nullopt;
    int tail = count - gap;
    for (int k = 0; k < gap; ++k)
      full[k] = groups[k];
    for (int k = 0; k < tail; ++k)
      full[8 - tail + k] = groups[gap + k];
  } else {
    if (count != 8) return std::nullopt;
    full = groups;
  }
  std::array<uint8_t, 16> out{};
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(full[k]);
  }
  return out;
}

}  // namespace

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::v4;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return v4((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d);
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = Family::v6;
  a.bytes_ = bytes;
  return a;
}

IpAddress IpAddress::loopback_v6() {
  std::array<uint8_t, 16> b{};
  b[15] = 1;
  return v6(b);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto b = parse_v6(text);
    if (!b) return std::nullopt;
    return v6(*b);
  }
  auto b = parse_v4(text);
  if (!b) return std::nullopt;
  return v4((*b)[0], (*b)[1], (*b)[2], (*b)[3]);
}

uint32_t IpAddress::v4_value() const {
  return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) |
         bytes_[3];
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes_[i] != 0) return false;
  return bytes_[15] == 1;
}

bool IpAddress::is_unspecified() const {
  for (size_t i = 0; i < size(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

bool IpAddress::is_link_local() const {
  if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
  return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool IpAddress::is_private() const {
  if (is_v6()) return (bytes_[0] & 0xfe) == 0xfc;
  uint8_t a = bytes_[0], b = bytes_[1];
  return a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
         (a == 100 && (b & 0xc0) == 64);
}

std::string IpAddress::to_string() const {
  char buf[48];
  if (is_v4()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    return buf;
  }
  // RFC 5952: lowercase, longest run of two or more zero groups compressed (the first on ties).
  uint16_t g[8];
  for (int k = 0; k < 8; ++k)
    g[k] = static_cast<uint16_t>((bytes_[2 * k] << 8) | bytes_[2 * k + 1]);
  int best = -1, best_len = 1;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    int start = k;
    while (k < 8 && g[k] == 0)
      ++k;
    if (k - start > best_len) {
      best = start;
      best_len = k - start;
    }
  }
  std::string out;
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[k]);
    out += buf;
  }
  return out;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p > 65535) return std::nullopt;
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  return SocketAddress(*ip, static_cast<uint16_t>(p));
}

std::string SocketAddress::to_string() const {
  std::string host = ip_.to_string();
  if (ip_.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(port_);
}

size_t hash_value(const SocketAddress& a) {
  // FNV-1a over family, address bytes and port.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  mix(static_cast<uint8_t>(a.family()));
  for (size_t i = 0; i < a.ip().size(); ++i)
    mix(a.ip().data()[i]);
  mix(static_cast<uint8_t>(a.port() >> 8));
  mix(static_cast<uint8_t>(a.port()));
  return static_cast<size_t>(h);
}

}  // namespace cellrtc
