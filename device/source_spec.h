// Sources by name, as the agent's --source option gives them:
//   testpattern[:WxH]      the libturbojpeg test pattern (640x480 unless given)
//   v4l2:DEVICE[@WxH]      a UVC webcam's MJPEG, e.g. v4l2:/dev/video0@1280x720 (640x480)
//   dir:PATH               the JPEG files in PATH, in a loop
//   stdin                  an MJPEG stream on standard input
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "device/frame_source.h"

namespace cellrtc::device {

struct SourceSpec {
  enum class Kind { test_pattern, v4l2, directory, stdin_stream };
  Kind kind = Kind::test_pattern;
  std::string path;  // the v4l2 device or the directory
  uint16_t width = 640;
  uint16_t height = 480;
  bool operator==(const SourceSpec&) const = default;
};

SourceResult<SourceSpec> parse_source_spec(std::string_view spec);
SourceResult<std::unique_ptr<FrameSource>> open_source(const SourceSpec& spec);
SourceResult<std::unique_ptr<FrameSource>> open_source(std::string_view spec);

}  // namespace cellrtc::device
