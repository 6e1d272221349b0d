#include "core/media/jpeg_info.h"

#include <optional>

namespace cellrtc::media {
namespace {

constexpr uint8_t kSoi = 0xD8;
constexpr uint8_t kEoi = 0xD9;
constexpr uint8_t kSos = 0xDA;

bool is_sof(uint8_t m) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): T.81 table B.1.
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}
bool standalone(uint8_t m) {
  return m == 0x01 || (m >= 0xD0 && m <= 0xD7);
}

// Offset just past EOI in the entropy-coded data starting at `pos`, skipping stuffed 0xFF00
// and restart markers; nullopt when the data ends first.
std::optional<size_t> find_eoi(ByteView d, size_t pos) {
  for (size_t i = pos; i + 1 < d.size(); ++i) {
    if (d[i] != 0xFF) continue;
    uint8_t m = d[i + 1];
    if (m == kEoi) return i + 2;
  }
  return std::nullopt;
}

}  // namespace

Result<JpegInfo> inspect_jpeg(ByteView d) {
  if (d.size() < 4 || d[0] != 0xFF || d[1] != kSoi) return Error{Errc::malformed, "no JPEG SOI"};
  JpegInfo info;
  bool have_sof = false;
  size_t pos = 2;
  while (true) {
    // Markers may be preceded by fill bytes 0xFF (T.81 B.1.1.2).
    while (pos + 1 < d.size() && d[pos] == 0xFF && d[pos + 1] == 0xFF)
      ++pos;
    if (pos + 2 > d.size()) return Error{Errc::truncated, "JPEG ends inside its headers"};
    if (d[pos] != 0xFF) return Error{Errc::malformed, "JPEG marker expected"};
    uint8_t marker = d[pos + 1];
    pos += 2;
    if (standalone(marker)) continue;
    if (marker == kEoi) return Error{Errc::malformed, "JPEG EOI before any image data"};
    if (pos + 2 > d.size()) return Error{Errc::truncated, "JPEG segment length missing"};
    uint16_t length = load_be16(&d[pos]);
    if (length < 2 || pos + length > d.size())
      return Error{Errc::truncated, "JPEG segment runs past the end"};
    if (is_sof(marker)) {
      if (length < 8) return Error{Errc::malformed, "JPEG SOF segment too short"};
      info.height = load_be16(&d[pos + 3]);
      info.width = load_be16(&d[pos + 5]);
      info.components = d[pos + 7];
      info.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE;
      if (info.width == 0 || info.height == 0)
        return Error{Errc::malformed, "JPEG width or height is zero"};
      have_sof = true;
    }
    pos += length;
    if (marker == kSos) {
      if (!have_sof) return Error{Errc::malformed, "JPEG scan before its frame header"};
      auto end = find_eoi(d, pos);
      if (!end) return Error{Errc::truncated, "JPEG without EOI"};
      info.size = *end;
      return info;
    }
  }
}

Result<std::optional<size_t>> next_jpeg_length(ByteView d) {
  if (d.size() < 2) return std::optional<size_t>();
  if (d[0] != 0xFF || d[1] != kSoi) return Error{Errc::malformed, "stream does not start with SOI"};
  // Segments before SOS carry lengths; the entropy-coded data after it ends at EOI.
  size_t pos = 2;
  while (true) {
    while (pos + 1 < d.size() && d[pos] == 0xFF && d[pos + 1] == 0xFF)
      ++pos;
    if (pos + 4 > d.size()) return std::optional<size_t>();
    if (d[pos] != 0xFF) return Error{Errc::malformed, "JPEG marker expected"};
    uint8_t marker = d[pos + 1];
    pos += 2;
    if (standalone(marker)) continue;
    if (marker == kEoi) return std::optional<size_t>(pos);
    uint16_t length = load_be16(&d[pos]);
    if (length < 2) return Error{Errc::malformed, "JPEG segment length below 2"};
    if (pos + length > d.size()) return std::optional<size_t>();
    pos += length;
    if (marker == kSos) return find_eoi(d, pos);
  }
}

}  // namespace cellrtc::media
