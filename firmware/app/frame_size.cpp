#include "firmware/app/frame_size.h"

#include <array>

namespace cellrtc::firmware {
namespace {

// esp32-camera, driver/sensor.c (resolution[]), for the framesize_t values listed.
constexpr std::array<FrameSizeInfo, 12> kSizes{{
    {FrameSize::qqvga, "QQVGA", 160, 120},
    {FrameSize::qcif, "QCIF", 176, 144},
    {FrameSize::hqvga, "HQVGA", 240, 176},
    {FrameSize::qvga, "QVGA", 320, 240},
    {FrameSize::cif, "CIF", 400, 296},
    {FrameSize::hvga, "HVGA", 480, 320},
    {FrameSize::vga, "VGA", 640, 480},
    {FrameSize::svga, "SVGA", 800, 600},
    {FrameSize::xga, "XGA", 1024, 768},
    {FrameSize::hd, "HD", 1280, 720},
    {FrameSize::sxga, "SXGA", 1280, 1024},
    {FrameSize::uxga, "UXGA", 1600, 1200},
}};

}  // namespace

std::span<const FrameSizeInfo> frame_sizes() {
  return kSizes;
}

const FrameSizeInfo& frame_size_info(FrameSize size) {
  for (const auto& s : kSizes)
    if (s.size == size) return s;
  return kSizes[0];
}

std::optional<FrameSize> parse_frame_size(std::string_view name) {
  for (const auto& s : kSizes)
    if (name == s.name) return s.size;
  return std::nullopt;
}

FrameSize largest_frame_size_within(uint16_t width, uint16_t height, FrameSize cap) {
  const FrameSizeInfo& limit = frame_size_info(cap);
  FrameSize best = kSizes[0].size;
  for (const auto& s : kSizes) {
    if (s.width > limit.width || s.height > limit.height) continue;
    if (width != 0 && s.width > width) continue;
    if (height != 0 && s.height > height) continue;
    // Among sizes that fit, the one with the most pixels (HD and SXGA share a width).
    const auto& b = frame_size_info(best);
    if (uint32_t{s.width} * s.height >= uint32_t{b.width} * b.height) best = s.size;
  }
  return best;
}

int camera_jpeg_quality(int quality) {
  if (quality < 1) quality = 1;
  if (quality > 100) quality = 100;
  const int span = kWorstCameraQuality - kBestCameraQuality;  // 53
  // Rounded to the nearest step: (100 - q) * 53 / 99.
  return kBestCameraQuality + ((100 - quality) * span * 2 + 99) / (99 * 2);
}

uint32_t camera_jpeg_buffer_bytes(FrameSize size) {
  const auto& s = frame_size_info(size);
  return uint32_t{s.width} * s.height / 5;
}

}  // namespace cellrtc::firmware
