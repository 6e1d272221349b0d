// The camera's frame sizes (esp32-camera's framesize_t values an OV2640 can give as JPEG) and
// the mapping from the streamer's requests (largest size, JPEG quality 1..100) to the driver's
// settings. Pure data and arithmetic: the glue passes the result to sensor_t::set_framesize and
// set_quality.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace cellrtc::firmware {

// The names are esp32-camera's FRAMESIZE_<name> (driver/include/sensor.h, framesize_t).
enum class FrameSize : uint8_t {
  qqvga,
  qcif,
  hqvga,
  qvga,
  cif,
  hvga,
  vga,
  svga,
  xga,
  hd,
  sxga,
  uxga
};

struct FrameSizeInfo {
  FrameSize size;
  const char* name;  // "VGA"
  uint16_t width;
  uint16_t height;
};

// Smallest first.
std::span<const FrameSizeInfo> frame_sizes();
const FrameSizeInfo& frame_size_info(FrameSize size);
std::optional<FrameSize> parse_frame_size(std::string_view name);  // "VGA", case as listed

// The largest size that fits within width x height and is not above `cap` (the configured
// size); 0 for either bound means no bound. The smallest size when none fits.
FrameSize largest_frame_size_within(uint16_t width, uint16_t height, FrameSize cap);

// esp32-camera's jpeg_quality runs 0..63, lower is better (the OV2640's quantiser scale). The
// streamer's quality runs 1..100, higher is better, as libjpeg's. Linear between 100 -> 10 and
// 1 -> 63: below 10 an OV2640 frame at VGA outgrows the driver's JPEG buffer (width x height / 5
// bytes, cam_hal.c) and arrives cut.
constexpr int kBestCameraQuality = 10;
constexpr int kWorstCameraQuality = 63;
int camera_jpeg_quality(int quality_1_to_100);

// The JPEG frame buffer esp32-camera allocates per frame for a size: width x height / 5 bytes
// (cam_hal.c, with CONFIG_CAMERA_JPEG_MODE_FRAME_SIZE_AUTO, the default, which
// sdkconfig.defaults sets; the original device's log shows 61440 bytes at VGA).
uint32_t camera_jpeg_buffer_bytes(FrameSize size);

}  // namespace cellrtc::firmware
