// The ICE part of an SDP document as WHIP's PATCH requests carry it (RFC 8840 fragments,
// RFC 9725 section 4.3): credentials and candidates read from an offer, answer or fragment;
// the fragments a client sends for trickle and for an ICE restart; an answer updated with the
// server's restart fragment.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellrtc::whip {

// Candidates read from one document at most (a host has a few addresses, a server a few
// transports); the rest are ignored.
constexpr size_t kMaxFragmentCandidates = 32;

struct IceFragment {
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> candidates;  // "candidate:..." without "a="
};

// The first ice-ufrag and ice-pwd and the candidates of a fragment or a full SDP; nullopt
// without credentials.
std::optional<IceFragment> parse_ice_fragment(std::string_view sdp);
// The fragment a WHIP client PATCHes for an ICE restart (RFC 9725 section 4.3.2, RFC 8840):
// the new credentials and candidates of our new offer, under its first m= line and mid.
std::optional<std::string> ice_restart_fragment(std::string_view offer_sdp);
// A trickle fragment (RFC 8840 section 4.4, RFC 9725 section 4.3.1) for candidates gathered
// after the offer: our current credentials from `offer_sdp`, its first m= line and mid, and
// `candidates` ("candidate:..." without "a="). nullopt when the offer has no credentials.
std::optional<std::string> trickle_fragment(std::string_view offer_sdp,
                                            const std::vector<std::string>& candidates);
// The previous answer with the ICE credentials and candidates of the server's fragment, to set
// as the remote description after a restart.
std::string apply_ice_fragment(std::string_view answer_sdp, const IceFragment& fragment);

}  // namespace cellrtc::whip
