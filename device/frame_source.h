// Camera sources for the Linux device agent: something that hands over JPEG frames with their
// capture time. A source writes each image into a buffer that already holds room for the
// frame header (core/media/frame_header.h), so the streamer fills the header in place and the
// same buffer goes to FrameSender and the channel without another copy.
//
// Sources: TestPattern (libturbojpeg), DirectorySource (JPEG files in a loop),
// StreamSource (MJPEG on stdin or any fd), V4l2Source (UVC webcams); open_source() makes one
// from a spec such as "testpattern:640x480" (source_spec.h).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "core/media/frame_header.h"
#include "core/media/rate_controller.h"

namespace cellrtc::device {

// A source's error: a code, a one-line message naming what failed ("v4l2 /dev/video0: does
// not offer MJPEG; it offers YUYV (YUYV 4:2:2)"), and whether the source can go on.
// Errc::timeout (no frame within CaptureSettings::wait) is never fatal: call next() again.
struct SourceError {
  Errc code = Errc::invalid_state;
  std::string message;
  bool fatal = true;
};

template <class T>
using SourceResult = Result<T, SourceError>;

// What the streamer asks of the next frame. Sources that encode (the test pattern) honour
// quality and size; sources that pass on a camera's or a file's JPEG report what they have.
struct CaptureSettings {
  int quality = 50;    // JPEG quality 1..100, libjpeg scale (media::RateTarget::quality)
  uint16_t width = 0;  // wanted frame size; 0 keeps the source's own
  uint16_t height = 0;
  Duration wait = milliseconds(1000);  // the longest next() may block for a camera or a pipe

  // Quality from the rate controller's target, with a frame size the caller picks.
  static CaptureSettings from_target(const media::RateTarget& target, uint16_t width = 0,
                                     uint16_t height = 0);
};

struct CapturedFrame {
  // kFrameHeaderSize bytes reserved for the header, then the JPEG image (SOI..EOI).
  Bytes message;
  uint16_t width = 0;
  uint16_t height = 0;
  uint8_t quality = 0;  // the encoder's quality, 0 when unknown (a camera's or a file's JPEG)
  uint8_t flags = 0;    // media::frame_flags the source sets (kTestPattern)
  Instant capture_time;

  // A frame whose message has room for the header and `jpeg_size` image bytes.
  static CapturedFrame with_image_size(size_t jpeg_size);

  ByteView jpeg() const;
  uint8_t* jpeg_data() { return message.data() + media::kFrameHeaderSize; }
  // Writes the header in place and hands the buffer over without copying it: the argument for
  // media::FrameSender::offer(). `extra_flags` adds to the source's flags (kSnapshot).
  Bytes into_message(uint32_t sequence, uint8_t extra_flags = 0) &&;
};

struct SourceStats {
  uint64_t frames = 0;   // handed out
  uint64_t skipped = 0;  // broken images the source dropped (truncated camera frames, bad files)
  uint64_t bytes = 0;    // image bytes handed out
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;

  // The next frame, captured at `now` (or, for a camera, the time its buffer was filled, on
  // the same timeline as `now`).
  virtual SourceResult<CapturedFrame> next(Instant now, const CaptureSettings& settings) = 0;
  // "testpattern 640x480", "v4l2 /dev/video0", "dir /srv/frames", "stdin".
  virtual const std::string& name() const = 0;
  // A descriptor that becomes readable when a frame may be ready, for an event loop; -1 when
  // the source is always ready (it makes its frames on demand).
  virtual int poll_fd() const { return -1; }

  // One-line notes about things the source skipped or worked around ("dir /x: skipping
  // b.jpg: JPEG without EOI"), oldest first, for the agent to log. At most kMaxNotes kept.
  std::optional<std::string> poll_note();
  const SourceStats& stats() const { return stats_; }

  static constexpr size_t kMaxNotes = 64;

 protected:
  void note(std::string line);
  SourceStats stats_;

 private:
  std::deque<std::string> notes_;
};

}  // namespace cellrtc::device
