// The path a stream takes to its peer, named as the viewer page and docs/protocol.md name the
// selected candidate pair's transport: "udp", "tcp" (ICE-TCP, RFC 6544), or "turn-udp",
// "turn-tcp", "turn-tls" when the local candidate is relayed (RFC 8656 section 3.1: the
// transport to the TURN server, Candidate::relay_protocol; the relayed address itself is always
// UDP). Shared by the device agent's and the firmware's log lines.
#pragma once

#include <string>

#include "core/ice/candidate.h"

namespace cellrtc::peer {
class PeerConnection;
}

namespace cellrtc::streamer {

// The path of a pair whose local candidate is `local`.
const char* stream_path(const ice::Candidate& local);
// The path of the connection's selected pair, or "-" before one is selected.
std::string selected_path(const peer::PeerConnection& pc);

}  // namespace cellrtc::streamer
