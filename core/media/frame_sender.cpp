#include "core/media/frame_sender.h"

namespace cellrtc::media {

void FrameSender::offer(Bytes message) {
  ++stats_.offered;
  if (pending_) ++stats_.replaced;
  pending_ = std::move(message);
}

std::optional<Bytes> FrameSender::poll(size_t buffered_bytes, size_t max_buffered) {
  if (!pending_ || buffered_bytes > max_buffered) return std::nullopt;
  Bytes out = std::move(*pending_);
  pending_.reset();
  ++stats_.sent;
  stats_.bytes_sent += out.size();
  return out;
}

}  // namespace cellrtc::media
