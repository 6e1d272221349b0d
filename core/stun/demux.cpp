#include "core/stun/demux.h"

namespace cellrtc {

PacketKind classify_packet(ByteView datagram) {
  // RFC 7983 section 7, as updated by RFC 9443 section 4 (TURN channels narrowed to 64..79).
  if (datagram.empty()) return PacketKind::unknown;
  const uint8_t b = datagram[0];
  if (b <= 3) return PacketKind::stun;
  if (b >= 16 && b <= 19) return PacketKind::zrtp;
  if (b >= 20 && b <= 63) return PacketKind::dtls;
  if (b >= 64 && b <= 79) return PacketKind::channel_data;
  if (b >= 128 && b <= 191) return PacketKind::rtp;
  return PacketKind::unknown;
}

}  // namespace cellrtc
