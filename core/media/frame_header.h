// The header in front of every video frame on the data channel (docs/protocol.md): one JPEG
// image per message, so the receiver needs no reassembly and a lost message costs one frame.
//
//   offset size field
//   0      1    version (1)
//   1      1    flags (bit 0 snapshot: a full-quality frame asked for by a viewer;
//                      bit 1 test pattern; others 0, ignored on receipt)
//   2      2    header length in bytes (24 for version 1; receivers skip what they do not know)
//   4      4    sequence number (per stream, +1 per captured frame, dropped ones included)
//   8      8    capture time, microseconds on the device's monotonic clock
//   16     2    width in pixels
//   18     2    height in pixels
//   20     1    JPEG quality the encoder used (1..100, 0 unknown)
//   21     3    reserved, 0
//   24     ..   the JPEG image (SOI ... EOI)
// All fields big-endian (network order).
#pragma once

#include <cstdint>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::media {

constexpr uint8_t kFrameVersion = 1;
constexpr size_t kFrameHeaderSize = 24;

namespace frame_flags {
constexpr uint8_t kSnapshot = 1 << 0;
constexpr uint8_t kTestPattern = 1 << 1;
}  // namespace frame_flags

struct FrameHeader {
  uint8_t flags = 0;
  uint32_t sequence = 0;
  uint64_t capture_time_us = 0;
  uint16_t width = 0;
  uint16_t height = 0;
  uint8_t quality = 0;
  bool operator==(const FrameHeader&) const = default;
};

// Writes the header into the first kFrameHeaderSize bytes of `out` (which must hold them).
void write_frame_header(const FrameHeader& header, uint8_t* out);
// Header followed by the image, in one buffer.
Bytes encode_frame(const FrameHeader& header, ByteView jpeg);

struct ParsedFrame {
  FrameHeader header;
  ByteView jpeg;  // points into the message
};
// Parses a frame message. Errors: truncated header, unknown version, a header length shorter
// than version 1's or past the end, an empty image.
Result<ParsedFrame> parse_frame(ByteView message);

}  // namespace cellrtc::media
