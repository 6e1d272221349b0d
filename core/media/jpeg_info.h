// What a JPEG's markers say about it (ITU T.81 annex B), without decoding: image size and
// whether it is whole. For sources that read JPEG files or streams from elsewhere (a camera,
// a directory, stdin), so a broken image gets a clear error instead of reaching viewers.
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::media {

struct JpegInfo {
  uint16_t width = 0;
  uint16_t height = 0;
  uint8_t components = 0;
  bool progressive = false;
  size_t size = 0;  // bytes up to and including EOI
};

// Walks the markers from SOI to the first SOF (frame header), then scans the entropy-coded
// data for EOI. Errors: no SOI, a marker segment running past the end, no SOF before SOS,
// zero width or height, no EOI. Never reads out of bounds.
Result<JpegInfo> inspect_jpeg(ByteView data);

// In a byte stream of concatenated JPEGs (MJPEG over stdin or HTTP), the length of the first
// complete image at the start of `data`, or nullopt when more bytes are needed. Errors when
// `data` does not start with SOI.
Result<std::optional<size_t>> next_jpeg_length(ByteView data);

}  // namespace cellrtc::media
