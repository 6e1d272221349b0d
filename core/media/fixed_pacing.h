// The original design's sender, kept to compare against (bench/streamer_bench,
// bench/cellular): the camera runs at a fixed rate and JPEG quality; every frame goes on a
// reliable ordered channel as soon as the stack accepts it; a refused send (the SCTP send
// buffer is full, which the original's library shows only as a failed send) is tried again
// after a short back-off. The sender itself drops nothing but a frame still waiting for the
// stack when the camera's next one arrives; the queue builds in the transport instead, which is
// what the adaptive sender (FrameSender + RateController) avoids.
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/time.h"

namespace cellrtc::media {

struct FixedPacingConfig {
  double fps = 10;                   // camera frames per second, all of them sent
  int quality = 40;                  // JPEG quality of every frame
  Duration retry = milliseconds(5);  // back-off after a refused send
};

struct FixedPacingStats {
  uint64_t offered = 0;
  uint64_t sent = 0;
  uint64_t refused = 0;   // sends the stack refused (tried again)
  uint64_t replaced = 0;  // still waiting when the next frame came
  uint64_t bytes_sent = 0;
};

class FixedPacingSender {
 public:
  explicit FixedPacingSender(FixedPacingConfig config = {}) : config_(config) {}

  const FixedPacingConfig& config() const { return config_; }
  // Takes the camera's newest frame (header and image in one message), tried at once.
  void offer(Bytes message);
  // The frame to hand to the stack now: the waiting one, unless a send was refused less than
  // `retry` ago. Report the outcome with sent() or refused().
  const Bytes* due(Instant now) const;
  void sent();
  void refused(Instant now);
  bool pending() const { return pending_.has_value(); }
  // When a refused frame is tried again (nothing when none waits).
  std::optional<Instant> next_try() const;
  const FixedPacingStats& stats() const { return stats_; }

 private:
  FixedPacingConfig config_;
  std::optional<Bytes> pending_;
  std::optional<Instant> refused_at_;
  FixedPacingStats stats_;
};

}  // namespace cellrtc::media
