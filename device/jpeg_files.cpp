#include "device/jpeg_files.h"

#include <cstring>
#include <ctime>

namespace cellrtc::device {

CapturedFrame frame_from_jpeg(ByteView jpeg, const media::JpegInfo& info, Instant capture_time) {
  CapturedFrame frame = CapturedFrame::with_image_size(info.size);
  std::memcpy(frame.jpeg_data(), jpeg.data(), info.size);
  frame.width = info.width;
  frame.height = info.height;
  frame.quality = 0;
  frame.capture_time = capture_time;
  return frame;
}

std::string errno_text(int code) {
  char buf[128];
  // GNU strerror_r returns the message, which may or may not be in `buf`.
  return strerror_r(code, buf, sizeof buf);
}

int64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace cellrtc::device
