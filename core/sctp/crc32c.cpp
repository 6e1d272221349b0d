#include "core/sctp/crc32c.h"

#include <array>

namespace cellrtc::sctp {
namespace {

// RFC 9260 appendix B: the reflected Castagnoli polynomial 0x1EDC6F41.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c(ByteView data, uint32_t crc) {
  crc = ~crc;
  for (uint8_t b : data)
    crc = kTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t sctp_checksum(ByteView packet) {
  if (packet.size() < 12) return 0;
  static constexpr uint8_t kZero[4] = {0, 0, 0, 0};
  uint32_t crc = crc32c(packet.first(8));
  crc = crc32c(ByteView(kZero, 4), crc);
  return crc32c(packet.subspan(12), crc);
}

void write_sctp_checksum(Bytes& packet) {
  if (packet.size() < 12) return;
  uint32_t crc = sctp_checksum(packet);
  for (int i = 0; i < 4; ++i)
    packet[8 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

bool verify_sctp_checksum(ByteView packet) {
  if (packet.size() < 12) return false;
  uint32_t stored = uint32_t{packet[8]} | (uint32_t{packet[9]} << 8) |
                    (uint32_t{packet[10]} << 16) | (uint32_t{packet[11]} << 24);
  return stored == sctp_checksum(packet);
}

}  // namespace cellrtc::sctp
