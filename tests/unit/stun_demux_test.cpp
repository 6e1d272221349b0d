#include "core/stun/demux.h"

#include <gtest/gtest.h>

namespace cellrtc {
namespace {

PacketKind expected_kind(int b) {
  // RFC 7983 section 7 as updated by RFC 9443 section 4.
  if (b <= 3) return PacketKind::stun;
  if (b >= 16 && b <= 19) return PacketKind::zrtp;
  if (b >= 20 && b <= 63) return PacketKind::dtls;
  if (b >= 64 && b <= 79) return PacketKind::channel_data;
  if (b >= 128 && b <= 191) return PacketKind::rtp;
  return PacketKind::unknown;
}

TEST(Demux, EveryFirstByte) {
  for (int b = 0; b < 256; ++b) {
    const uint8_t datagram[] = {static_cast<uint8_t>(b), 0, 0, 0};
    EXPECT_EQ(classify_packet(datagram), expected_kind(b)) << b;
  }
}

TEST(Demux, RangeBoundaries) {
  struct Case {
    uint8_t first;
    PacketKind kind;
  } cases[] = {
      {0, PacketKind::stun},          {3, PacketKind::stun},          {4, PacketKind::unknown},
      {15, PacketKind::unknown},      {16, PacketKind::zrtp},         {19, PacketKind::zrtp},
      {20, PacketKind::dtls},         {22, PacketKind::dtls},         {63, PacketKind::dtls},
      {64, PacketKind::channel_data}, {79, PacketKind::channel_data}, {80, PacketKind::unknown},
      {127, PacketKind::unknown},     {128, PacketKind::rtp},         {191, PacketKind::rtp},
      {192, PacketKind::unknown},     {255, PacketKind::unknown},
  };
  for (const auto& c : cases) {
    const uint8_t datagram[] = {c.first};
    EXPECT_EQ(classify_packet(datagram), c.kind) << int{c.first};
  }
}

TEST(Demux, EmptyIsUnknown) {
  EXPECT_EQ(classify_packet({}), PacketKind::unknown);
}

}  // namespace
}  // namespace cellrtc
