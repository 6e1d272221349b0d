#pragma once

// SDP fragments for trickle ICE and ICE restarts (RFC 8840 section 9, media type
// application/trickle-ice-sdpfrag), as WHIP and WHEP PATCH requests carry them (RFC 9725
// section 4.3):
//
//   a=ice-ufrag:EsAw
//   a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
//   m=application 9 UDP/DTLS/SCTP webrtc-datachannel
//   a=mid:0
//   a=candidate:1 1 UDP 2130706431 198.51.100.7 50000 typ host
//   a=end-of-candidates
//
// ice-ufrag/ice-pwd may stand at session level or in a media section; only one data section
// matters here, so the parser keeps the first value it sees.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/ice/candidate.h"

namespace cellrtc::server {

struct SdpFragLimits {
  size_t max_size = 16 * 1024;
  size_t max_lines = 256;
  size_t max_line_length = 1024;
  size_t max_candidates = 32;
  size_t max_media_sections = 4;
};

struct SdpFrag {
  std::optional<std::string> ice_ufrag;
  std::optional<std::string> ice_pwd;
  std::vector<std::string> mids;  // of the m= sections, in order ("" when one had no a=mid)
  std::vector<ice::Candidate> candidates;
  bool end_of_candidates = false;
};

// Errors (as text) name the line and what was wrong. Unknown attributes are ignored (RFC 8840
// section 9: the fragment may carry others, such as a=ice-options).
Result<SdpFrag, std::string> parse_sdpfrag(std::string_view text, const SdpFragLimits& limits = {});

// Our answer to an ICE restart: credentials, the data section's mid, candidates and
// end-of-candidates, CRLF line endings.
std::string write_sdpfrag(std::string_view ufrag, std::string_view pwd, std::string_view mid,
                          const std::vector<ice::Candidate>& candidates);

}  // namespace cellrtc::server
