// Shared by the sources that pass on JPEG images made elsewhere (files, streams, cameras):
// the size limit, turning validated image bytes into a CapturedFrame, and errno text.
#pragma once

#include <cstddef>
#include <string>

#include "core/common/bytes.h"
#include "core/media/jpeg_info.h"
#include "device/frame_source.h"

namespace cellrtc::device {

// The largest JPEG a source accepts: far above a 1080p MJPEG frame at high quality, small
// enough that a stream without EOI cannot eat the device's memory.
constexpr size_t kMaxFrameSize = 4 * 1024 * 1024;

// A frame holding a copy of `jpeg` (already checked with inspect_jpeg, `info` its result).
CapturedFrame frame_from_jpeg(ByteView jpeg, const media::JpegInfo& info, Instant capture_time);

// "No such file or directory" for an errno value.
std::string errno_text(int code);

// Microseconds on CLOCK_MONOTONIC, for measuring how long a call waited.
int64_t monotonic_us();

}  // namespace cellrtc::device
