// A peer of our core on one loopback UDP socket, driven by its own EventLoop, that offers the
// two channels of docs/protocol.md: "video" (unordered, no retransmissions) and "control".
// Process tests use it as a WHIP device or a WHEP viewer of the real cellrtc-server.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/dtls/certificate.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/peer_endpoint.h"

namespace cellrtc::process {

class LoopbackPeer {
 public:
  LoopbackPeer() = default;
  LoopbackPeer(const LoopbackPeer&) = delete;
  LoopbackPeer& operator=(const LoopbackPeer&) = delete;

  // Generates the certificate, opens the loop and the socket, creates both channels and the
  // offer (drained). Failures are fatal gtest failures: call it in ASSERT_NO_FATAL_FAILURE.
  void start(std::string_view common_name);

  testing::PeerEndpoint& endpoint() { return *endpoint_; }
  runtime::EventLoop& loop() { return **loop_; }
  runtime::EndpointDriver& driver() { return *driver_; }
  const std::string& offer() const { return offer_; }

 private:
  runtime::OsRandom rng_;
  std::optional<dtls::Certificate> certificate_;
  std::unique_ptr<testing::PeerEndpoint> endpoint_;
  std::optional<std::unique_ptr<runtime::EventLoop>> loop_;
  std::unique_ptr<runtime::EndpointDriver> driver_;  // last: it refers to the loop and endpoint
  std::string offer_;
};

}  // namespace cellrtc::process
