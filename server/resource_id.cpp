#include "server/resource_id.h"

#include <array>
#include <cstdint>

namespace cellrtc::server {
namespace {

std::string random_hex(Random& rng, size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<uint8_t, 32> buf{};
  rng.fill(std::span<uint8_t>(buf.data(), bytes));
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out += kHex[buf[i] >> 4];
    out += kHex[buf[i] & 15];
  }
  return out;
}

}  // namespace

std::string make_resource_id(Random& rng) {
  return random_hex(rng, 16);
}

std::string make_etag(Random& rng) {
  return "\"" + random_hex(rng, 8) + "\"";
}

bool is_resource_id(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace cellrtc::server
