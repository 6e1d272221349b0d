#include "core/ice/tcp_framing.h"

#include <algorithm>

namespace cellrtc::ice {
namespace {

constexpr size_t kLengthBytes = 2;       // RFC 4571 section 2
constexpr size_t kStunHeaderBytes = 20;  // RFC 8489 section 5
constexpr uint32_t kMagicCookie = 0x2112A442;

}  // namespace

Rfc4571Framer::Rfc4571Framer(Rfc4571FramerConfig config) : config_(config) {
  config_.max_frame = std::min(config_.max_frame, kMaxRfc4571Frame);
}

Status Rfc4571Framer::push(ByteView bytes) {
  if (failed_) return Error{Errc::invalid_state, "RFC 4571 framing already failed"};
  stats_.bytes += bytes.size();
  while (!bytes.empty()) {
    if (header_filled_ < kLengthBytes) {
      header_[header_filled_++] = bytes[0];
      bytes = bytes.subspan(1);
      if (header_filled_ < kLengthBytes) continue;
      expected_ = (static_cast<size_t>(header_[0]) << 8) | header_[1];
      if (expected_ > config_.max_frame) {
        failed_ = true;
        return Error{Errc::limit_exceeded, "RFC 4571 frame longer than max_frame"};
      }
      if (expected_ == 0) {
        // RFC 4571 allows a zero length; it carries nothing for ICE.
        ++stats_.empty_frames;
        header_filled_ = 0;
        continue;
      }
      partial_.reserve(expected_);
    }
    const size_t n = std::min(expected_ - partial_.size(), bytes.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (partial_.size() < expected_) break;
    ++stats_.frames;
    if (frames_.size() >= config_.max_queued_frames) {
      ++stats_.queue_dropped;
    } else {
      frames_.push_back(std::move(partial_));
    }
    partial_ = Bytes();
    header_filled_ = 0;
    expected_ = 0;
  }
  return {};
}

std::optional<Bytes> Rfc4571Framer::next() {
  if (frames_.empty()) return std::nullopt;
  Bytes f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

Result<Bytes> frame_rfc4571(ByteView message) {
  if (message.empty()) return Error{Errc::invalid_argument, "empty message"};
  if (message.size() > kMaxRfc4571Frame)
    return Error{Errc::limit_exceeded, "message longer than an RFC 4571 frame can carry"};
  Bytes out;
  out.reserve(message.size() + kLengthBytes);
  out.push_back(static_cast<uint8_t>(message.size() >> 8));
  out.push_back(static_cast<uint8_t>(message.size() & 0xFF));
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

bool starts_with_framed_stun(ByteView prefix) {
  if (prefix.size() < kStunPrefixBytes) return false;
  const size_t frame = (static_cast<size_t>(prefix[0]) << 8) | prefix[1];
  ByteView stun = prefix.subspan(kLengthBytes);
  if ((stun[0] & 0xC0) != 0) return false;  // RFC 8489 section 5: the top two bits are zero
  const size_t length = (static_cast<size_t>(stun[2]) << 8) | stun[3];
  if (length % 4 != 0 || frame != kStunHeaderBytes + length) return false;
  const uint32_t cookie = (static_cast<uint32_t>(stun[4]) << 24) |
                          (static_cast<uint32_t>(stun[5]) << 16) |
                          (static_cast<uint32_t>(stun[6]) << 8) | stun[7];
  return cookie == kMagicCookie;
}

}  // namespace cellrtc::ice
