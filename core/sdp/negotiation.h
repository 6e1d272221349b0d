// Offer/answer (RFC 3264, JSEP RFC 8829) for a peer that speaks one data channel transport:
// make_offer() writes our offer, make_answer() answers a browser's, aiortc's or libpeer's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/result.h"
#include "core/ice/candidate.h"
#include "core/sdp/session_description.h"

namespace cellrtc::sdp {

// What we put in our side of the exchange. Every member has a default initializer, so
// designated initializers may name any subset.
struct LocalParameters {
  std::string ice_ufrag{};    // RFC 8839 section 5.4: 4..256 ice-chars
  std::string ice_pwd{};      // 22..256 ice-chars
  Fingerprint fingerprint{};  // of our DTLS certificate; sha-256
  // The role taken when the offer says actpass: active makes us the DTLS client (and the one
  // to open data channels on even stream ids, RFC 8832 section 6), which cellrtc prefers
  // toward browsers.
  SetupRole answer_to_actpass = SetupRole::active;
  std::vector<ice::Candidate> candidates{};
  bool end_of_candidates = false;  // `candidates` is complete (an ICE lite agent's always is)
  bool ice_lite = false;
  bool trickle = true;                 // a=ice-options:trickle (RFC 8840 section 4.1.1)
  uint64_t max_message_size = 262144;  // what we can receive (RFC 8841 section 6)
  uint16_t sctp_port = 5000;           // RFC 8841 section 5
  // o= line (RFC 8829 section 5.2.1: a random id below 2^63, a version that grows).
  uint64_t session_id = 0;
  uint64_t session_version = 1;
  std::string mid = "0";  // the data section's mid in make_offer
};

// An offer with a single BUNDLEd data section and a=setup:actpass (RFC 8842 section 5.2).
Result<SessionDescription> make_offer(const LocalParameters& local);

// Answers `offer` (RFC 3264 section 6, RFC 8829 section 5.3.1): the same m= lines in the same
// order with the same mids; the first data section is accepted, every other section is
// rejected with port 0 and a single format and left out of the BUNDLE group (RFC 8843
// section 7.3.3). Fails when the offer has no usable data section or lacks its ICE
// credentials or DTLS fingerprint.
Result<SessionDescription> make_answer(const SessionDescription& offer,
                                       const LocalParameters& local);

// The setup role an answer takes for the offer's (RFC 8842 section 5.3), or nullopt when
// there is none to take (holdconn).
std::optional<SetupRole> answer_setup_role(std::optional<SetupRole> offered,
                                           SetupRole answer_to_actpass);

}  // namespace cellrtc::sdp
