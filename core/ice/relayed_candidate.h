// Relayed candidates (RFC 8445 section 5.1.1.2) for TURN allocations: what an agent adds with
// IceAgent::add_local_candidate when a TurnClient reports Allocated.
//
//   auto c = ice::make_relayed_candidate(allocated.relayed, allocated.mapped,
//                                        TransportProtocol::tls, /*server_index=*/0);
//   agent.add_local_candidate(now, c);
//   // agent Transmits whose `from` is c.address go to turn.send_to(now, t.to, t.data);
//   // turn PeerData goes to agent.handle_packet(now, c.address, data.peer, data.data).
//
// Priority (RFC 8445 section 5.1.2.1): type preference 0 (section 5.1.2.2: relayed lowest),
// and a local preference that orders the allocations among themselves: by the transport to the
// TURN server first (UDP, then TCP, then TLS: each step adds a connection and head-of-line
// blocking, so the lighter path wins when several work), then by the server's position in the
// configuration (the first listed wins). Each (transport, server) pair gets its own value, as
// section 5.1.2.1 requires for candidates of the same type.
#pragma once

#include <cstdint>

#include "core/common/socket_address.h"
#include "core/common/transport.h"
#include "core/ice/candidate.h"

namespace cellrtc::ice {

// Servers beyond this index share the lowest local preference of their transport.
constexpr uint16_t kMaxRelayServerIndex = 16383;

uint32_t relayed_local_preference(TransportProtocol to_server, uint16_t server_index);

// A UDP relayed candidate (the relayed transport address is UDP whatever the transport to the
// server, RFC 8656 section 3.1) with `mapped` as its related address. The foundation is the
// same for the same server and transport (RFC 8445 section 5.1.1.3).
Candidate make_relayed_candidate(const SocketAddress& relayed, const SocketAddress& mapped,
                                 TransportProtocol to_server, uint16_t server_index);

}  // namespace cellrtc::ice
