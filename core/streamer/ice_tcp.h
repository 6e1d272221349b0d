// The device's side of ICE-TCP (RFC 6544) toward cellrtc-server's passive TCP candidates, for
// the Linux agent and the firmware alike: which active candidates a session offers, and which
// connections to open once the server's candidates are known (from the answer, or trickled).
// The platform opens the connections and frames them (RFC 4571, core/ice/tcp_framing.h); the
// ICE agent's checks run over them.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/peer/peer_connection.h"

namespace cellrtc::streamer {

// RFC 6544 section 4.5: an active candidate has port 9 (the discard port) in SDP; the platform
// connects from whatever port its stack picks, which the server learns as peer-reflexive. One
// per address family, on the first address of that family in `addresses` (unspecified and
// link-local ones skipped): the connection's source address is the stack's choice anyway, so
// more would only open more connections to the same server. The number added.
size_t add_active_tcp_candidates(Instant now, peer::PeerConnection& pc,
                                 const std::vector<IpAddress>& addresses);

// A connection from one of our active candidates to one of the peer's passive candidates.
struct TcpCandidatePair {
  SocketAddress local;   // the active candidate's address (port 9)
  SocketAddress remote;  // the passive candidate's address
  bool operator==(const TcpCandidatePair&) const = default;
};

// Connections toward each passive candidate once per session: every call to take_new() gives
// the (active, passive) pairs of the same family not given before. Peer-reflexive remote
// candidates are the server's view of our own connections, never connected to.
class TcpCandidateConnector {
 public:
  // Whether the ICE agent has learnt remote candidates since the last take_new().
  bool has_news(const peer::PeerConnection& pc) const;
  std::vector<TcpCandidatePair> take_new(const peer::PeerConnection& pc);
  // After an ICE restart: the pairs may be given again (the platform keeps a connection still
  // open and opens again one the server closed).
  void forget() { opened_.clear(); }

 private:
  std::vector<TcpCandidatePair> opened_;
  size_t remote_seen_ = 0;
};

}  // namespace cellrtc::streamer
