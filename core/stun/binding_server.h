// A stateless STUN Binding server (RFC 8489 section 7.3, no authentication): what a public STUN
// server does, as a sans-IO object that simulations put behind a simulated address.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"

namespace cellrtc::stun {

class BindingServer {
 public:
  BindingServer() = default;
  explicit BindingServer(std::string software) : software_(std::move(software)) {}

  // The response to send back to `from`, or nullopt when the datagram calls for none: not
  // STUN, malformed, a bad FINGERPRINT, an indication or a response (RFC 8489 section 6.3).
  // A Binding request gets a success response with XOR-MAPPED-ADDRESS of `from`; a request
  // with unknown comprehension-required attributes gets 420 with UNKNOWN-ATTRIBUTES; a request
  // of another method gets 400. Every response carries SOFTWARE and FINGERPRINT.
  std::optional<Bytes> handle(const SocketAddress& from, ByteView request) const;

 private:
  std::string software_ = "cellrtc";
};

}  // namespace cellrtc::stun
