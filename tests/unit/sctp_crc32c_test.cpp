#include <gtest/gtest.h>

#include <vector>

#include "core/sctp/crc32c.h"

namespace cellrtc::sctp {
namespace {

uint32_t crc_of(const std::vector<uint8_t>& v) {
  return crc32c(v);
}

// RFC 3720 section B.4: the CRC bytes listed there are the result least significant first.
TEST(SctpCrc32c, Rfc3720Vectors) {
  EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0xFF)), 0x62A8AB43u);
  std::vector<uint8_t> inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc_of(inc), 0x46DD794Eu);
  EXPECT_EQ(crc_of(dec), 0x113FDB5Cu);
  // An iSCSI SCSI Read (10) command PDU.
  std::vector<uint8_t> pdu = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                              0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc_of(pdu), 0xD9963A56u);
}

TEST(SctpCrc32c, CheckValueAndIncremental) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
  uint32_t part = crc32c(as_bytes("1234"));
  EXPECT_EQ(crc32c(as_bytes("56789"), part), 0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
}

TEST(SctpCrc32c, PacketChecksumIsStoredLeastSignificantByteFirst) {
  Bytes packet(16, 0);
  packet[0] = 0x13;
  packet[12] = 0x0b;  // a COOKIE ACK chunk
  packet[15] = 4;
  write_sctp_checksum(packet);
  EXPECT_TRUE(verify_sctp_checksum(packet));
  Bytes zeroed = packet;
  zeroed[8] = zeroed[9] = zeroed[10] = zeroed[11] = 0;
  uint32_t crc = crc32c(zeroed);
  EXPECT_EQ(packet[8], crc & 0xFF);
  EXPECT_EQ(packet[11], crc >> 24);
  packet[13] ^= 1;
  EXPECT_FALSE(verify_sctp_checksum(packet));
  EXPECT_FALSE(verify_sctp_checksum(Bytes(11, 0)));
}

}  // namespace
}  // namespace cellrtc::sctp
