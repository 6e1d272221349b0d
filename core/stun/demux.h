// Telling apart the protocols that share one UDP 5-tuple by their first byte
// (RFC 7983 section 7, as updated by RFC 9443 for TURN channels).
#pragma once

#include "core/common/bytes.h"

namespace cellrtc {

enum class PacketKind : uint8_t {
  stun,          // 0..3
  zrtp,          // 16..19
  dtls,          // 20..63
  channel_data,  // 64..79 (TURN ChannelData)
  rtp,           // 128..191 (RTP and RTCP)
  unknown,       // anything else, and the empty datagram
};

PacketKind classify_packet(ByteView datagram);

}  // namespace cellrtc
