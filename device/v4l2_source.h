// MJPEG capture from UVC webcams through V4L2 (Linux media API, "Video capture interface"
// and "Streaming I/O (memory mapping)"): the camera's buffers are mapped, not read, and a
// frame is copied once, from the mapped buffer into the message that goes to the channel, so
// the buffer returns to the driver at once. Newest buffer wins: next() dequeues every filled
// buffer and keeps the latest whole JPEG; UVC cameras sometimes deliver truncated frames,
// which are checked with inspect_jpeg, counted (stats().skipped) and skipped.
//
// The frame size is set when the source opens (the driver may pick the nearest it has);
// CaptureSettings' size and quality are not applied to a camera (its quality is reported 0).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/media/jpeg_info.h"
#include "device/frame_source.h"

namespace cellrtc::device {

struct V4l2Config {
  std::string device = "/dev/video0";
  uint16_t width = 640;
  uint16_t height = 480;
  uint32_t buffers = 4;  // asked of VIDIOC_REQBUFS; the driver may give more
};

// A pixel format a device offers (VIDIOC_ENUM_FMT).
struct V4l2Format {
  uint32_t fourcc = 0;
  std::string description;  // the driver's, e.g. "Motion-JPEG"
};

// "MJPG" for a fourcc code.
std::string fourcc_text(uint32_t fourcc);
// The compressed JPEG format to ask for among those offered (MJPEG, else JPEG), or an error
// naming the device and listing what it offers instead.
SourceResult<uint32_t> choose_jpeg_format(const std::string& device,
                                          const std::vector<V4l2Format>& offered);
// Checks VIDIOC_QUERYCAP's capabilities (device_caps when the driver sets them): video
// capture and streaming I/O are needed.
SourceResult<bool> check_capture_capabilities(const std::string& device, const std::string& card,
                                              uint32_t capabilities);

// One drain's dequeued buffers, oldest first: the bytes the driver filled and whether it
// flagged an error (V4L2_BUF_FLAG_ERROR).
struct DequeuedFrame {
  ByteView bytes;
  bool error_flag = false;
};
struct NewestJpeg {
  std::optional<size_t> index;      // the newest whole JPEG, if any
  media::JpegInfo info;             // its inspection
  uint32_t superseded = 0;          // frames older than it, dropped unexamined
  std::vector<std::string> broken;  // why each newer frame was skipped, newest first
};
// Newest whole JPEG wins: walks from the newest buffer back, skipping broken ones.
NewestJpeg pick_newest_jpeg(std::span<const DequeuedFrame> frames);

class V4l2Source : public FrameSource {
 public:
  static SourceResult<std::unique_ptr<V4l2Source>> open(V4l2Config config);
  ~V4l2Source() override;
  V4l2Source(const V4l2Source&) = delete;
  V4l2Source& operator=(const V4l2Source&) = delete;

  SourceResult<CapturedFrame> next(Instant now, const CaptureSettings& settings) override;
  const std::string& name() const override { return name_; }
  int poll_fd() const override { return fd_; }

  uint16_t width() const { return width_; }
  uint16_t height() const { return height_; }
  // Whole frames dequeued but dropped for a newer one in the same drain.
  uint64_t superseded() const { return superseded_; }

 private:
  explicit V4l2Source(V4l2Config config);
  SourceResult<bool> start();
  SourceResult<bool> fail(Errc code, const std::string& what, int err) const;

  struct Buffer {
    void* data = nullptr;
    size_t length = 0;
  };
  V4l2Config config_;
  std::string name_;
  int fd_ = -1;
  bool streaming_ = false;
  std::vector<Buffer> buffers_;
  uint16_t width_ = 0;
  uint16_t height_ = 0;
  uint64_t superseded_ = 0;
};

}  // namespace cellrtc::device
