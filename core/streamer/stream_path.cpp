#include "core/streamer/stream_path.h"

#include "core/peer/peer_connection.h"

namespace cellrtc::streamer {

const char* stream_path(const ice::Candidate& local) {
  if (local.type == ice::CandidateType::relayed) {
    // A relayed candidate without a recorded server transport was allocated over UDP (RFC 8656
    // section 3.1: UDP is the default transport to the server).
    switch (local.relay_protocol.value_or(TransportProtocol::udp)) {
      case TransportProtocol::udp:
        return "turn-udp";
      case TransportProtocol::tcp:
        return "turn-tcp";
      case TransportProtocol::tls:
        return "turn-tls";
    }
    return "turn-udp";
  }
  return local.transport == TransportProtocol::udp ? "udp" : "tcp";
}

std::string selected_path(const peer::PeerConnection& pc) {
  const auto& pair = pc.ice().selected_pair();
  if (!pair) return "-";
  return stream_path(pair->local);
}

}  // namespace cellrtc::streamer
