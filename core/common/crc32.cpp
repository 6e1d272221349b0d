#include "core/common/crc32.h"

#include <array>

namespace cellrtc {
namespace {

constexpr std::array<uint32_t, 256> make_table(uint32_t poly) {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (poly ^ (c >> 1)) : (c >> 1);
    t[i] = c;
  }
  return t;
}

constexpr auto kTable = make_table(0xEDB88320u);  // reflected 0x04C11DB7

}  // namespace

uint32_t crc32(ByteView data, uint32_t crc) {
  crc = ~crc;
  for (uint8_t b : data)
    crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace cellrtc
