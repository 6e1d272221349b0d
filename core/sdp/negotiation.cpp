// Offer/answer for the data-channel subset of JSEP (RFC 8829 sections 5.2.1 and 5.3.1).
#include "core/sdp/negotiation.h"

#include <algorithm>

#include "core/sdp/sdp_text.h"

namespace cellrtc::sdp {
namespace {

constexpr uint16_t kDiscardPort = 9;                // RFC 8829 section 5.2.1: m= port with ICE
constexpr const char* kLegacySctpStreams = "1024";  // the pre-RFC sctpmap's stream count

bool valid_ice(const std::string& s, size_t min) {
  return s.size() >= min && s.size() <= 256 && std::all_of(s.begin(), s.end(), is_ice_char);
}

Status check_local(const LocalParameters& local) {
  if (!valid_ice(local.ice_ufrag, 4)) {
    return Error{Errc::invalid_argument, "local ice-ufrag is not 4..256 ice-chars"};
  }
  if (!valid_ice(local.ice_pwd, 22)) {
    return Error{Errc::invalid_argument, "local ice-pwd is not 22..256 ice-chars"};
  }
  if (!is_token(local.fingerprint.algorithm) || local.fingerprint.value.empty() ||
      local.fingerprint.value.size() > 64) {
    return Error{Errc::invalid_argument, "local fingerprint is empty"};
  }
  if (local.answer_to_actpass != SetupRole::active &&
      local.answer_to_actpass != SetupRole::passive) {
    return Error{Errc::invalid_argument, "answer_to_actpass is neither active nor passive"};
  }
  if (local.mid.empty() || local.mid.size() > 32 || !is_token(local.mid)) {
    return Error{Errc::invalid_argument, "local mid is not a short token"};
  }
  return {};
}

// Our data section, with the ICE, DTLS and SCTP parameters of `local`.
MediaSection local_data_section(const LocalParameters& local, Proto proto, std::string mid,
                                SetupRole setup) {
  MediaSection m;
  m.kind = MediaKind::application;
  m.media = "application";
  m.port = kDiscardPort;
  m.proto = proto;
  m.connection = Connection{"IN", "IP4", "0.0.0.0"};
  m.mid = std::move(mid);
  m.ice_ufrag = local.ice_ufrag;
  m.ice_pwd = local.ice_pwd;
  if (local.trickle) m.ice_options.emplace_back("trickle");
  m.fingerprints.push_back(local.fingerprint);
  m.setup = setup;
  m.candidates = local.candidates;
  m.end_of_candidates = local.end_of_candidates;
  m.max_message_size = local.max_message_size;
  m.sctp_port = local.sctp_port;
  std::string port = std::to_string(local.sctp_port);
  if (proto == Proto::dtls_sctp) {
    // Answer an old peer in its own form: "DTLS/SCTP <port>" and
    // a=sctpmap:<port> webrtc-datachannel <streams>.
    m.proto_text = "DTLS/SCTP";
    m.formats = {port};
    m.attributes.push_back(
        Attribute{"sctpmap", port + " webrtc-datachannel " + kLegacySctpStreams, true});
  } else {
    m.proto_text = proto == Proto::tcp_dtls_sctp ? "TCP/DTLS/SCTP" : "UDP/DTLS/SCTP";
    m.formats = {"webrtc-datachannel"};
  }
  return m;
}

SessionDescription local_session(const LocalParameters& local) {
  SessionDescription d;
  d.origin = Origin{"-", local.session_id, local.session_version, "IN", "IP4", "127.0.0.1"};
  d.session_name = "-";
  d.ice_lite = local.ice_lite;  // RFC 8839 section 5.3: session level
  return d;
}

}  // namespace

std::optional<SetupRole> answer_setup_role(std::optional<SetupRole> offered,
                                           SetupRole answer_to_actpass) {
  if (!offered) {
    // RFC 4145 section 4: without the attribute the offerer is active.
    return SetupRole::passive;
  }
  switch (*offered) {
    case SetupRole::actpass:
      return answer_to_actpass;
    case SetupRole::active:
      return SetupRole::passive;
    case SetupRole::passive:
      // RFC 8842 section 5.2 makes the offerer say actpass; libpeer offers passive. Taking
      // the active role is what that peer expects and cannot be misread, so we do.
      return SetupRole::active;
    case SetupRole::holdconn:
      return std::nullopt;
  }
  return std::nullopt;
}

Result<SessionDescription> make_offer(const LocalParameters& local) {
  if (auto s = check_local(local); !s) return s.error();
  SessionDescription d = local_session(local);
  // RFC 8843 section 7.2: the offerer BUNDLEs its sections, here the only one.
  d.groups.push_back(Group{"BUNDLE", {local.mid}});
  d.media.push_back(local_data_section(local, Proto::udp_dtls_sctp, local.mid, SetupRole::actpass));
  return d;
}

Result<SessionDescription> make_answer(const SessionDescription& offer,
                                       const LocalParameters& local) {
  if (auto s = check_local(local); !s) return s.error();
  const MediaSection* data = offer.data_section();
  if (data == nullptr) return Error{Errc::unsupported, "offer has no data channel section"};
  if (!data->ice_ufrag || !data->ice_pwd) {
    return Error{Errc::malformed, "offer's data section has no ice-ufrag or ice-pwd"};
  }
  if (data->fingerprints.empty()) {
    return Error{Errc::malformed, "offer's data section has no DTLS fingerprint"};
  }
  auto setup = answer_setup_role(data->setup, local.answer_to_actpass);
  if (!setup) return Error{Errc::unsupported, "offer's setup is holdconn"};

  SessionDescription d = local_session(local);
  for (const MediaSection& offered : offer.media) {
    if (&offered == data) {
      d.media.push_back(local_data_section(local, offered.proto, offered.mid, *setup));
      continue;
    }
    // RFC 3264 section 6: a rejected stream keeps its media and proto, port 0 and at least
    // one format; RFC 8829 section 5.3.1 keeps its mid.
    MediaSection rejected;
    rejected.kind = offered.kind;
    rejected.media = offered.media;
    rejected.port = 0;
    rejected.proto = offered.proto;
    rejected.proto_text = offered.proto_text;
    rejected.formats = {offered.formats.front()};
    rejected.mid = offered.mid;
    // RFC 8866 section 5.7: every media section has a c= line when the session has none.
    rejected.connection = Connection{"IN", "IP4", "0.0.0.0"};
    d.media.push_back(std::move(rejected));
  }
  // RFC 8843 section 7.3.3: the answer's BUNDLE group holds the accepted mids only.
  if (const Group* bundle = offer.bundle_group(); bundle != nullptr && !data->mid.empty()) {
    if (std::find(bundle->mids.begin(), bundle->mids.end(), data->mid) != bundle->mids.end()) {
      d.groups.push_back(Group{"BUNDLE", {data->mid}});
    }
  }
  return d;
}

}  // namespace cellrtc::sdp
