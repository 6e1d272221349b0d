// TURN ChannelData messages (RFC 8656 section 12.4) and framing of STUN and ChannelData on a
// byte stream (TURN over TCP/TLS, RFC 8656 section 12.5).
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::stun {

constexpr uint16_t kMinChannel = 0x4000;
constexpr uint16_t kMaxChannel = 0x4FFF;

struct ChannelData {
  uint16_t channel;
  ByteView data;  // points into the parsed buffer
};

// Parses a ChannelData message. Over UDP the datagram may carry padding after the data; over
// a stream the caller passes exactly one frame (see frame_length).
Result<ChannelData> parse_channel_data(ByteView bytes);
// Encodes a ChannelData message; `pad` rounds the length up to 4 bytes, which RFC 8656
// section 12.5 requires over TCP/TLS and allows over UDP.
Bytes encode_channel_data(uint16_t channel, ByteView data, bool pad);

// On a stream, how many bytes the frame that starts at `prefix` occupies: 20 + length for STUN,
// 4 + length rounded up to 4 for ChannelData. nullopt while fewer than 4 bytes are known;
// an error when the first byte is neither.
Result<std::optional<size_t>> stream_frame_length(ByteView prefix);

}  // namespace cellrtc::stun
