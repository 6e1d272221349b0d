// An MJPEG stream on a file descriptor (stdin, a pipe from ffmpeg or gstreamer, a FIFO):
// concatenated JPEG images, split with next_jpeg_length. Reads are non-blocking; next() waits
// at most CaptureSettings::wait in poll(). Bytes before an SOI are skipped (with a note), a
// broken image is dropped and counted, and a frame growing past max_frame_size gives a
// limit_exceeded error, after which the stream resynchronises on the next SOI. End of stream
// is a fatal error; frames come out in stream order.
#pragma once

#include <memory>
#include <string>

#include "device/frame_source.h"
#include "device/jpeg_files.h"

namespace cellrtc::device {

struct StreamSourceConfig {
  size_t max_frame_size = kMaxFrameSize;
  size_t read_size = 64 * 1024;  // bytes asked of one read()
};

class StreamSource : public FrameSource {
 public:
  // Puts `fd` in non-blocking mode (restored when the source goes); closes it then if
  // `owns_fd`. `name` is used in errors and notes ("stdin").
  static SourceResult<std::unique_ptr<StreamSource>> open(int fd, std::string name, bool owns_fd,
                                                          StreamSourceConfig config = {});
  ~StreamSource() override;
  StreamSource(const StreamSource&) = delete;
  StreamSource& operator=(const StreamSource&) = delete;

  SourceResult<CapturedFrame> next(Instant now, const CaptureSettings& settings) override;
  const std::string& name() const override { return name_; }
  int poll_fd() const override { return fd_; }

  // Bytes skipped because they were not inside a JPEG.
  uint64_t garbage_bytes() const { return garbage_bytes_; }

 private:
  StreamSource(int fd, std::string name, bool owns_fd, int saved_flags, StreamSourceConfig config);

  struct Extracted;
  Extracted extract(Instant capture_time);
  ByteView buffered() const;
  void consume(size_t n);
  // Drops bytes up to the next SOI at or after `from` (all but a trailing 0xFF if none).
  size_t skip_to_soi(size_t from);

  int fd_;
  std::string name_;
  bool owns_fd_;
  int saved_flags_;
  StreamSourceConfig config_;
  Bytes buffer_;
  size_t start_ = 0;  // bytes of buffer_ already consumed
  bool eof_ = false;
  uint64_t garbage_bytes_ = 0;
};

}  // namespace cellrtc::device
