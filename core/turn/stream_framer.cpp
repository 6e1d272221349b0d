#include "core/turn/stream_framer.h"

#include <algorithm>

#include "core/stun/channel_data.h"

namespace cellrtc::turn {
namespace {

constexpr size_t kFrameHeaderSize = 4;  // enough to know any frame's length

}  // namespace

Status StreamFramer::push(ByteView bytes) {
  if (failed_) return Error{Errc::invalid_state, "TURN stream framing already failed"};
  stats_.bytes += bytes.size();
  while (true) {
    if (skip_ > 0) {
      if (bytes.empty()) break;
      const size_t n = std::min(skip_, bytes.size());
      skip_ -= n;
      bytes = bytes.subspan(n);
      continue;
    }
    if (partial_.size() < kFrameHeaderSize) {
      // Gather the 4 bytes that tell the frame's kind and length.
      if (bytes.empty()) break;
      const size_t n = std::min(kFrameHeaderSize - partial_.size(), bytes.size());
      partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
      bytes = bytes.subspan(n);
      auto length = stun::stream_frame_length(partial_);
      if (!length.ok()) {
        failed_ = true;
        partial_.clear();
        return length.error();
      }
      if (!*length) continue;
      if (**length > config_.max_frame) {
        // RFC 8656 section 12.5 frames carry their length, so an oversize one can be passed
        // over without holding it.
        ++stats_.oversize_skipped;
        skip_ = **length - partial_.size();
        partial_.clear();
        continue;
      }
      expected_ = **length;
    }
    const size_t n = std::min(expected_ - partial_.size(), bytes.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (partial_.size() < expected_) break;  // all input taken, frame incomplete
    ++stats_.frames;
    const FrameKind kind = (partial_[0] & 0xC0) == 0 ? FrameKind::stun : FrameKind::channel_data;
    if (frames_.size() >= config_.max_queued_frames) {
      ++stats_.queue_dropped;
    } else {
      frames_.push_back(StreamFrame{kind, std::move(partial_)});
    }
    partial_ = Bytes();
  }
  return {};
}

std::optional<StreamFrame> StreamFramer::next() {
  if (frames_.empty()) return std::nullopt;
  StreamFrame f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

}  // namespace cellrtc::turn
