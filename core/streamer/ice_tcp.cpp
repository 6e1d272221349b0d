#include "core/streamer/ice_tcp.h"

#include <algorithm>
#include <string>

#include "core/ice/candidate.h"
#include "core/streamer/ice_transport.h"

namespace cellrtc::streamer {

const char* to_string(IceTransport transport) {
  switch (transport) {
    case IceTransport::udp:
      return "udp";
    case IceTransport::tcp:
      return "tcp";
    case IceTransport::automatic:
      return "auto";
  }
  return "?";
}

std::optional<IceTransport> parse_ice_transport(std::string_view text) {
  if (text == "udp") return IceTransport::udp;
  if (text == "tcp") return IceTransport::tcp;
  if (text == "auto") return IceTransport::automatic;
  return std::nullopt;
}

size_t add_active_tcp_candidates(Instant now, peer::PeerConnection& pc,
                                 const std::vector<IpAddress>& addresses) {
  std::vector<SocketAddress> chosen;
  for (const IpAddress& ip : addresses) {
    if (ip.is_unspecified() || ip.is_link_local()) continue;
    bool have_family = std::any_of(chosen.begin(), chosen.end(), [&](const SocketAddress& a) {
      return a.family() == ip.family();
    });
    if (!have_family) chosen.emplace_back(ip, 9);
  }
  size_t added = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    ice::Candidate a;
    a.foundation = "tcp" + std::to_string(i + 1);
    a.transport = TransportProtocol::tcp;
    a.tcp_type = ice::TcpType::active;
    a.type = ice::CandidateType::host;
    a.address = chosen[i];
    // RFC 6544 section 4.2: the TCP type preference is below every UDP one, and the local
    // preference carries the direction (active 6 for host candidates).
    const uint32_t other = 8191 - static_cast<uint32_t>(i);
    a.priority = ice::compute_priority(
        ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
        ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::active, other), 1);
    if (pc.add_local_candidate(now, a).ok()) ++added;
  }
  return added;
}

bool TcpCandidateConnector::has_news(const peer::PeerConnection& pc) const {
  return pc.ice().remote_candidate_count() != remote_seen_;
}

std::vector<TcpCandidatePair> TcpCandidateConnector::take_new(const peer::PeerConnection& pc) {
  std::vector<TcpCandidatePair> out;
  const auto remote = pc.ice().remote_candidates();
  remote_seen_ = remote.size();
  for (const auto& local : pc.ice().local_candidates()) {
    if (local.transport != TransportProtocol::tcp || local.tcp_type != ice::TcpType::active)
      continue;
    for (const auto& r : remote) {
      if (r.transport != TransportProtocol::tcp || r.tcp_type != ice::TcpType::passive ||
          r.type == ice::CandidateType::peer_reflexive ||
          r.address.family() != local.address.family())
        continue;
      TcpCandidatePair pair{local.address, r.address};
      if (std::find(opened_.begin(), opened_.end(), pair) != opened_.end()) continue;
      opened_.push_back(pair);
      out.push_back(pair);
    }
  }
  return out;
}

}  // namespace cellrtc::streamer
