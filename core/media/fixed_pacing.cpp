#include "core/media/fixed_pacing.h"

namespace cellrtc::media {

void FixedPacingSender::offer(Bytes message) {
  ++stats_.offered;
  if (pending_) ++stats_.replaced;
  pending_ = std::move(message);
  refused_at_.reset();  // a new frame is tried at once, as the original's camera loop does
}

const Bytes* FixedPacingSender::due(Instant now) const {
  if (!pending_) return nullptr;
  if (refused_at_ && now < *refused_at_ + config_.retry) return nullptr;
  return &*pending_;
}

void FixedPacingSender::sent() {
  if (!pending_) return;
  ++stats_.sent;
  stats_.bytes_sent += pending_->size();
  pending_.reset();
  refused_at_.reset();
}

void FixedPacingSender::refused(Instant now) {
  ++stats_.refused;
  refused_at_ = now;
}

std::optional<Instant> FixedPacingSender::next_try() const {
  if (!pending_) return std::nullopt;
  if (!refused_at_) return Instant{};
  return *refused_at_ + config_.retry;
}

}  // namespace cellrtc::media
