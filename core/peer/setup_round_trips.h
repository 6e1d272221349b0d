// Round trips each setup phase of a PeerConnection took, counted from what the stack itself
// sends: every request it had to wait for an answer to counts once, and a retransmission counts
// again (a lost packet costs one more wait). Together with PeerTimeline's instants this says
// whether a slow setup was a long path or a lossy one.
#pragma once

#include <cstdint>

#include "core/common/bytes.h"

namespace cellrtc::peer {

struct SetupRoundTrips {
  // Connectivity checks sent until the first pair was selected, retransmissions included. An
  // agent that sent none before it connected (ICE lite, RFC 8445 section 2.5) counts the checks
  // it answered instead: each was one of the peer's round trips.
  uint32_t ice = 0;
  // DTLS handshake flights sent until the handshake completed, retransmitted ones included
  // (RFC 6347 section 4.2.4: a flight is the unit of retransmission).
  uint32_t dtls = 0;
  // SCTP packets opening the association (INIT, INIT ACK, COOKIE ECHO, COOKIE ACK; RFC 9260
  // section 5.1) sent until it was established, retransmissions included.
  uint32_t sctp = 0;
  // Packets carrying a DCEP message (DATA with PPID 50, RFC 8832 section 8.1) sent until our
  // first in-band channel's OPEN was acknowledged, retransmissions included: 1 on a clean
  // link. A side that opened no channel counts until the first channel opened, which is on the
  // peer's OPEN (its ACK goes after: 0) or at once for a negotiated one.
  uint32_t channel = 0;
};

// What an outgoing SCTP packet (as SctpAssociation produced it) carries that the counts above
// look for; a packet may bundle both (DATA after a COOKIE ECHO or COOKIE ACK, RFC 9260 section
// 6.10). Anything unparsable carries neither.
struct SetupPacketContent {
  bool association_setup = false;  // INIT, INIT ACK, COOKIE ECHO or COOKIE ACK
  bool dcep = false;               // a DATA chunk with PPID 50
};
SetupPacketContent classify_setup_packet(ByteView sctp_packet);

}  // namespace cellrtc::peer
