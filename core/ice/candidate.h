// ICE candidates (RFC 8445 section 5.1) and their SDP form (RFC 8839 section 5.1):
//   candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
//             [raddr <addr> rport <port>] [tcptype <active|passive|so>] *(<name> <value>)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/transport.h"

namespace cellrtc::ice {

enum class CandidateType : uint8_t { host, server_reflexive, peer_reflexive, relayed };
// RFC 6544 section 4.5.
enum class TcpType : uint8_t { none, active, passive, simultaneous_open };

// Limits on what parse_candidate accepts from the network.
constexpr size_t kMaxCandidateLineLength = 1024;
constexpr size_t kMaxCandidateExtensions = 16;

struct Candidate {
  std::string foundation;                                // 1..32 ice-chars
  uint16_t component = 1;                                // 1..256
  TransportProtocol transport = TransportProtocol::udp;  // udp or tcp in SDP
  uint32_t priority = 0;
  // The transport address. When the SDP carried a host name instead of an IP literal (browsers'
  // mDNS "<uuid>.local" names), `hostname` holds it and `address` has only the port.
  SocketAddress address;
  std::optional<std::string> hostname;
  CandidateType type = CandidateType::host;
  std::optional<SocketAddress> related;  // raddr/rport
  TcpType tcp_type = TcpType::none;
  // A local relayed candidate's transport to its TURN server (RFC 8656 section 3.1: UDP, TCP or
  // TLS); what the agent knows of its own allocation, never in SDP. nullopt otherwise.
  std::optional<TransportProtocol> relay_protocol;
  // Extension attributes kept in order (generation, ufrag, network-id, network-cost, ...).
  std::vector<std::pair<std::string, std::string>> extensions;

  bool operator==(const Candidate&) const = default;
};

const char* to_string(CandidateType type);

// Parses one candidate attribute value. Accepts an optional leading "a=" and "candidate:"
// prefix and a trailing CR/LF. Unknown transports (not UDP or TCP, case-insensitive) and
// unknown types are errors; unknown extension attributes are kept.
Result<Candidate> parse_candidate(std::string_view line);

// "candidate:..." without "a=" and without line ending.
std::string format_candidate(const Candidate& candidate);

// RFC 8445 section 5.1.2.1: (2^24) * type pref + (2^8) * local pref + (256 - component).
uint32_t compute_priority(uint32_t type_preference, uint32_t local_preference, uint16_t component);

// Type preferences recommended by RFC 8445 section 5.1.2.2, lowered for TCP candidates as
// RFC 6544 section 4.2 suggests so that UDP wins when both work.
uint32_t type_preference(CandidateType type, TransportProtocol transport);

// RFC 6544 section 4.2: the local preference of a TCP candidate is
// (2^13) * direction-pref + other-pref, with direction-pref as that section recommends (host
// and relayed: active 6, passive 4, so 2; reflexive: so 6, active 4, passive 2) and
// other-pref (0..8191, clamped) ordering interfaces as the UDP local preference does.
uint32_t tcp_local_preference(CandidateType type, TcpType tcp_type, uint32_t other_preference);

// Whether a local candidate's packets ride a TCP connection on their way: an ICE-TCP candidate
// (RFC 6544) or a relayed one reached over TURN-TCP or TURN-TLS. Path choice treats both alike
// (head-of-line blocking, a connection to keep up): UDP first, see IceConfig::udp_grace.
bool travels_over_tcp(const Candidate& local);

// RFC 6544 section 6.2: which TCP candidates can pair (active with passive, so with so).
// UDP candidates (tcp_type none) pair with each other only.
bool tcp_types_pair(TcpType local, TcpType remote);

}  // namespace cellrtc::ice
