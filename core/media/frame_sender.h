// Newest frame wins: the camera hands over every frame; one waits at most, replaced by the
// next, and it leaves only when the transport can take it without building a queue (the rate
// controller's max_buffered_bytes). A late frame is worth nothing, so frames go on an
// unordered channel without retransmission and nothing queues for seconds.
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/time.h"
#include "core/media/frame_header.h"

namespace cellrtc::media {

struct FrameSenderStats {
  uint64_t offered = 0;
  uint64_t sent = 0;
  uint64_t replaced = 0;  // dropped unsent for a newer frame
  uint64_t bytes_sent = 0;
};

class FrameSender {
 public:
  // Takes a captured frame (header and image already in one message, encode_frame()).
  // A frame still waiting is dropped for it.
  void offer(Bytes message);
  // The frame to send now, if one waits and the transport holds at most `max_buffered`.
  std::optional<Bytes> poll(size_t buffered_bytes, size_t max_buffered);
  bool pending() const { return pending_.has_value(); }
  const FrameSenderStats& stats() const { return stats_; }

 private:
  std::optional<Bytes> pending_;
  FrameSenderStats stats_;
};

}  // namespace cellrtc::media
