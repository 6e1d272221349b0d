#pragma once

// The fan-out's unit: a frame a device sent, shared by every viewer it goes to, and a viewer's
// newest-frame-wins queue of at most one frame waiting to be sent.
//
// The relay keeps each received frame as one immutable buffer (SharedFrame); a viewer's slot
// holds a reference, never a copy, and so does that viewer's SCTP association once the frame is
// sent (PeerConnection::send with SharedBytes): its DATA chunks, first sent or retransmitted,
// point at offsets of the same buffer, released when the viewer acks or abandons the frame.
// Per viewer only the encrypted packets are new bytes; the frame exists once however many
// viewers watch.

#include <cstdint>
#include <memory>
#include <utility>

#include "core/common/bytes.h"
#include "core/common/shared_bytes.h"

namespace cellrtc::server {

using SharedFrame = SharedBytes;

class NewestFrameSlot {
 public:
  // Puts `frame` in the slot; an unsent frame already there is replaced (newest wins) and
  // counted as dropped. Returns whether one was replaced.
  bool offer(SharedFrame frame) {
    bool replaced = pending_ != nullptr;
    if (replaced) ++dropped_;
    pending_ = std::move(frame);
    return replaced;
  }
  SharedFrame take() { return std::exchange(pending_, nullptr); }
  bool empty() const { return pending_ == nullptr; }
  const SharedFrame& peek() const { return pending_; }
  uint64_t dropped() const { return dropped_; }

 private:
  SharedFrame pending_;
  uint64_t dropped_ = 0;
};

// Whether a viewer's video channel may take another frame now: what its SCTP still holds is at
// most about one frame, so the next frame waits in the slot (where a newer one can replace it)
// rather than in the transport. `last_frame_bytes` is the size of the frame sent last.
inline bool viewer_may_send(size_t buffered_amount, size_t last_frame_bytes) {
  return buffered_amount <= last_frame_bytes;
}

}  // namespace cellrtc::server
