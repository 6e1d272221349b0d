// ICE-TCP framing (RFC 6544 section 3, which uses RFC 4571): every STUN message and every DTLS
// record sent over an ICE-TCP connection is preceded by a 16-bit big-endian length, so the
// stream keeps the datagram boundaries the protocols above it expect.
//
//   Rfc4571Framer framer;                    // one per TCP connection
//   if (auto s = framer.push(bytes); !s) ... // only fails once a frame exceeds max_frame
//   while (auto m = framer.next()) ...       // whole messages (without their length), in order
//   Bytes wire = frame_rfc4571(message);     // the other direction
//
// This is not core/turn/stream_framer: TURN over TCP has no outer length and is cut by the
// STUN and ChannelData headers inside it (RFC 8656 section 12.5); here the length prefix is
// the only framing and the payload can be anything (STUN, DTLS).
//
// Bounded: a frame is at most 65535 bytes by construction; max_frame lowers that, and a
// frame announcing more fails the stream (RFC 4571 gives no way to resynchronise a stream
// whose peer sends what we will not hold, and ICE-TCP carries nothing that large: DTLS records
// on the data path stay near the path MTU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::ice {

// RFC 4571 section 2: the length field is 16 bits.
constexpr size_t kMaxRfc4571Frame = 65535;

struct Rfc4571FramerConfig {
  size_t max_frame = 4096;        // largest payload accepted, at most kMaxRfc4571Frame
  size_t max_queued_frames = 64;  // whole frames held before next() drains them
};

struct Rfc4571FramerStats {
  uint64_t frames = 0;
  uint64_t empty_frames = 0;   // zero-length frames, skipped
  uint64_t queue_dropped = 0;  // whole frames dropped because the queue was full
  uint64_t bytes = 0;
};

class Rfc4571Framer {
 public:
  explicit Rfc4571Framer(Rfc4571FramerConfig config = {});

  // Appends received stream bytes. Fails, and stays failed, when a frame announces more than
  // max_frame bytes.
  Status push(ByteView bytes);
  std::optional<Bytes> next();

  bool failed() const { return failed_; }
  // Bytes of the frame still incomplete, its length prefix included (at most max_frame + 2).
  size_t buffered() const { return header_filled_ + partial_.size(); }
  size_t queued() const { return frames_.size(); }
  const Rfc4571FramerStats& stats() const { return stats_; }

 private:
  Rfc4571FramerConfig config_;
  uint8_t header_[2] = {0, 0};
  size_t header_filled_ = 0;
  size_t expected_ = 0;  // payload length of the frame in partial_, once the header is whole
  Bytes partial_;
  std::deque<Bytes> frames_;
  Rfc4571FramerStats stats_;
  bool failed_ = false;
};

// One message with its RFC 4571 length prefix; fails for an empty message or one longer than
// kMaxRfc4571Frame.
Result<Bytes> frame_rfc4571(ByteView message);

// Whether `prefix` (the first bytes of a stream) can be the start of an RFC 4571-framed STUN
// message (RFC 8489 section 5: the two top bits zero, the magic cookie at bytes 4..7 of the
// message, a length that is a multiple of 4 and agrees with the frame's length). Needs
// kStunPrefixBytes bytes; fewer give false.
constexpr size_t kStunPrefixBytes = 10;
bool starts_with_framed_stun(ByteView prefix);

}  // namespace cellrtc::ice
