#include "core/ice/relayed_candidate.h"

#include <algorithm>
#include <string>

namespace cellrtc::ice {
namespace {

uint32_t transport_rank(TransportProtocol to_server) {
  switch (to_server) {
    case TransportProtocol::udp:
      return 2;
    case TransportProtocol::tcp:
      return 1;
    case TransportProtocol::tls:
      return 0;
  }
  return 0;
}

}  // namespace

uint32_t relayed_local_preference(TransportProtocol to_server, uint16_t server_index) {
  // 2 bits of transport rank above 14 bits of server order: 0..49151, inside 0..65535.
  const uint32_t order = kMaxRelayServerIndex - std::min(server_index, kMaxRelayServerIndex);
  return (transport_rank(to_server) << 14) | order;
}

Candidate make_relayed_candidate(const SocketAddress& relayed, const SocketAddress& mapped,
                                 TransportProtocol to_server, uint16_t server_index) {
  Candidate c;
  // ice-chars only (RFC 8839 section 5.1): "r", the transport rank and the server index.
  c.foundation = "r" + std::to_string(transport_rank(to_server)) + "s" +
                 std::to_string(std::min(server_index, kMaxRelayServerIndex));
  c.component = 1;
  c.transport = TransportProtocol::udp;
  c.type = CandidateType::relayed;
  c.address = relayed;
  c.related = mapped;
  c.relay_protocol = to_server;
  c.priority = compute_priority(type_preference(CandidateType::relayed, TransportProtocol::udp),
                                relayed_local_preference(to_server, server_index), c.component);
  return c;
}

}  // namespace cellrtc::ice
