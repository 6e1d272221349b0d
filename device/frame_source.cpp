#include "device/frame_source.h"

#include <algorithm>
#include <utility>

namespace cellrtc::device {

CaptureSettings CaptureSettings::from_target(const media::RateTarget& target, uint16_t width,
                                             uint16_t height) {
  CaptureSettings s;
  if (target.quality > 0) s.quality = std::clamp(target.quality, 1, 100);
  s.width = width;
  s.height = height;
  return s;
}

CapturedFrame CapturedFrame::with_image_size(size_t jpeg_size) {
  CapturedFrame f;
  f.message.resize(media::kFrameHeaderSize + jpeg_size);
  return f;
}

ByteView CapturedFrame::jpeg() const {
  if (message.size() < media::kFrameHeaderSize) return {};
  return ByteView(message).subspan(media::kFrameHeaderSize);
}

Bytes CapturedFrame::into_message(uint32_t sequence, uint8_t extra_flags) && {
  if (message.size() < media::kFrameHeaderSize) message.resize(media::kFrameHeaderSize);
  media::FrameHeader h;
  h.flags = static_cast<uint8_t>(flags | extra_flags);
  h.sequence = sequence;
  h.capture_time_us = static_cast<uint64_t>(std::max<int64_t>(0, capture_time.us()));
  h.width = width;
  h.height = height;
  h.quality = quality;
  media::write_frame_header(h, message.data());
  return std::move(message);
}

std::optional<std::string> FrameSource::poll_note() {
  if (notes_.empty()) return std::nullopt;
  std::string line = std::move(notes_.front());
  notes_.pop_front();
  return line;
}

void FrameSource::note(std::string line) {
  if (notes_.size() >= kMaxNotes) notes_.pop_front();
  notes_.push_back(std::move(line));
}

}  // namespace cellrtc::device
