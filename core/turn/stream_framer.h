// Cutting a TURN byte stream (TURN over TCP or TLS) into STUN messages and ChannelData frames
// (RFC 8656 section 12.5): both travel on one stream without an outer length prefix; STUN
// messages say their length in the header (RFC 8489 section 5), ChannelData frames in theirs,
// and over a stream ChannelData is padded to a multiple of 4 bytes.
//
//   StreamFramer framer;                       // one per connection
//   if (auto s = framer.push(bytes); !s) ...   // the stream is not TURN: close it
//   while (auto f = framer.next()) ...         // whole frames, in order
//
// Bounded: at most max_frame bytes are held. A frame whose header announces more is skipped
// as its bytes arrive (the length is known, so the stream stays in step) and counted; bytes
// that are neither STUN nor ChannelData (first byte outside 0x00..0x3F and 0x40..0x4F) put the
// framer in a failed state, since nothing after them can be trusted to start a frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::turn {

enum class FrameKind : uint8_t { stun, channel_data };

struct StreamFrame {
  FrameKind kind;
  // The whole frame: a STUN message, or a ChannelData message with its padding.
  Bytes bytes;
};

struct StreamFramerConfig {
  // Largest frame kept, header and padding included. STUN messages above stun::kMaxMessageSize
  // are refused by the parser anyway; ChannelData carries one datagram from a peer, which on
  // the paths cellrtc uses stays under 1500 bytes.
  size_t max_frame = 8192;
  // Complete frames held before next() drains them; more are dropped and counted.
  size_t max_queued_frames = 64;
};

struct StreamFramerStats {
  uint64_t frames = 0;
  uint64_t oversize_skipped = 0;  // frames longer than max_frame, skipped
  uint64_t queue_dropped = 0;     // complete frames dropped because the queue was full
  uint64_t bytes = 0;
};

class StreamFramer {
 public:
  explicit StreamFramer(StreamFramerConfig config = {}) : config_(config) {}

  // Appends received stream bytes. Fails (and stays failed) when the stream holds bytes that
  // cannot start a frame.
  Status push(ByteView bytes);
  std::optional<StreamFrame> next();

  bool failed() const { return failed_; }
  // Bytes of a frame still incomplete (at most max_frame).
  size_t buffered() const { return partial_.size(); }
  const StreamFramerStats& stats() const { return stats_; }

 private:
  StreamFramerConfig config_;
  Bytes partial_;        // the start of the frame being received
  size_t expected_ = 0;  // length of the frame in partial_, once its header is known
  size_t skip_ = 0;      // bytes of an oversize frame still to discard
  std::deque<StreamFrame> frames_;
  StreamFramerStats stats_;
  bool failed_ = false;
};

}  // namespace cellrtc::turn
