#include "core/stun/channel_data.h"

namespace cellrtc::stun {
namespace {

constexpr size_t kChannelDataHeaderSize = 4;
constexpr size_t kStunHeaderSize = 20;

constexpr size_t padded(size_t n) {
  return (n + 3) & ~size_t{3};
}

}  // namespace

Result<ChannelData> parse_channel_data(ByteView bytes) {
  // RFC 8656 section 12.4: channel number (16 bits), length of the application data (16 bits),
  // then the data.
  ByteReader r(bytes);
  const uint16_t channel = r.u16();
  const uint16_t length = r.u16();
  if (!r.ok()) return Error{Errc::truncated, "ChannelData header truncated"};
  // RFC 8656 section 12: channel numbers are 0x4000 through 0x4FFF.
  if (channel < kMinChannel || channel > kMaxChannel)
    return Error{Errc::malformed, "ChannelData channel number out of range"};
  ByteView data = r.take(length);
  if (!r.ok()) return Error{Errc::truncated, "ChannelData shorter than its length field"};
  // RFC 8656 section 12.5: over UDP the data may be followed by padding up to a multiple of 4
  // bytes; anything beyond that is not ChannelData.
  if (r.remaining() > padded(length) - length)
    return Error{Errc::malformed, "ChannelData followed by more than padding"};
  return ChannelData{channel, data};
}

Bytes encode_channel_data(uint16_t channel, ByteView data, bool pad) {
  // The length field is 16 bits; callers stay far below (frames are sent in pieces).
  if (data.size() > 0xFFFF) data = data.first(0xFFFF);
  Bytes out;
  out.reserve(kChannelDataHeaderSize + padded(data.size()));
  ByteWriter w(out);
  w.u16(channel);
  w.u16(static_cast<uint16_t>(data.size()));
  w.bytes(data);
  if (pad) w.zeros(padded(data.size()) - data.size());
  return out;
}

Result<std::optional<size_t>> stream_frame_length(ByteView prefix) {
  // RFC 8656 section 12.5 and RFC 7983 section 7: over a stream, STUN messages start with the
  // two bits 00 and ChannelData with a channel number (first byte 0x40..0x4F).
  if (!prefix.empty()) {
    const uint8_t first = prefix[0];
    const bool stun = (first & 0xC0) == 0;
    const bool channel = first >= (kMinChannel >> 8) && first <= (kMaxChannel >> 8);
    if (!stun && !channel)
      return Error{Errc::malformed, "stream frame is neither STUN nor ChannelData"};
  }
  if (prefix.size() < kChannelDataHeaderSize) return std::optional<size_t>{};
  const size_t length = load_be16(prefix.data() + 2);
  if ((prefix[0] & 0xC0) == 0) {
    // RFC 8489 section 5: the STUN length is a multiple of 4 and excludes the 20-byte header.
    if (length % 4 != 0) return Error{Errc::malformed, "STUN length not a multiple of 4"};
    return std::optional<size_t>{kStunHeaderSize + length};
  }
  // RFC 8656 section 12.5: over TCP/TLS ChannelData is padded to a multiple of 4 bytes.
  return std::optional<size_t>{kChannelDataHeaderSize + padded(length)};
}

}  // namespace cellrtc::stun
