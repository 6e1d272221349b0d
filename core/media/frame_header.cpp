#include "core/media/frame_header.h"

namespace cellrtc::media {

void write_frame_header(const FrameHeader& h, uint8_t* out) {
  out[0] = kFrameVersion;
  out[1] = h.flags;
  store_be16(out + 2, static_cast<uint16_t>(kFrameHeaderSize));
  store_be32(out + 4, h.sequence);
  store_be32(out + 8, static_cast<uint32_t>(h.capture_time_us >> 32));
  store_be32(out + 12, static_cast<uint32_t>(h.capture_time_us));
  store_be16(out + 16, h.width);
  store_be16(out + 18, h.height);
  out[20] = h.quality;
  out[21] = out[22] = out[23] = 0;
}

Bytes encode_frame(const FrameHeader& header, ByteView jpeg) {
  Bytes out(kFrameHeaderSize + jpeg.size());
  write_frame_header(header, out.data());
  if (!jpeg.empty()) std::memcpy(out.data() + kFrameHeaderSize, jpeg.data(), jpeg.size());
  return out;
}

Result<ParsedFrame> parse_frame(ByteView message) {
  ByteReader r(message);
  uint8_t version = r.u8();
  uint8_t flags = r.u8();
  uint16_t header_length = r.u16();
  uint32_t sequence = r.u32();
  uint64_t capture = r.u64();
  uint16_t width = r.u16();
  uint16_t height = r.u16();
  uint8_t quality = r.u8();
  if (!r.ok() || message.size() < kFrameHeaderSize)
    return Error{Errc::truncated, "frame shorter than its header"};
  if (version != kFrameVersion) return Error{Errc::unsupported, "unknown frame version"};
  if (header_length < kFrameHeaderSize)
    return Error{Errc::malformed, "frame header length below 24"};
  if (header_length >= message.size()) return Error{Errc::malformed, "frame without an image"};
  ParsedFrame f;
  f.header = FrameHeader{flags, sequence, capture, width, height, quality};
  f.jpeg = message.subspan(header_length);
  return f;
}

}  // namespace cellrtc::media
