// A DatagramEndpoint without timers whose output is a queue: what it (or a test, as an
// application write would) pushes onto `out` is sent in order. Test servers and peers that
// only answer what arrives derive from it.
#pragma once

#include <deque>
#include <optional>

#include "core/common/transport.h"

namespace cellrtc::testing {

class QueuedEndpoint : public DatagramEndpoint {
 public:
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override {
    if (out.empty()) return std::nullopt;
    Transmit t = std::move(out.front());
    out.pop_front();
    return t;
  }
  std::optional<Instant> next_timeout() const override { return std::nullopt; }

  std::deque<Transmit> out;
};

}  // namespace cellrtc::testing
