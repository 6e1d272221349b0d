// Session descriptions (RFC 8866) for the WebRTC data-channel subset that JSEP (RFC 8829)
// produces: one BUNDLEd "m=application ... UDP/DTLS/SCTP webrtc-datachannel" section (RFC 8841),
// with ICE (RFC 8839, RFC 8840), DTLS fingerprint (RFC 8122) and setup (RFC 8842) attributes.
// Audio and video sections that browsers put in offers are recorded (kind, mid, port, proto,
// formats) so that an answer can reject them.
//
// Inheritance: ice-ufrag, ice-pwd, ice-options, fingerprint, setup and end-of-candidates may
// stand at session level (RFC 8839 section 5.4, RFC 8122 section 5, RFC 8842 section 5,
// RFC 8840 section 8.1; libpeer puts them there). After parse_sdp() every media section holds
// its effective values, filled from the session level where it had none; the session-level
// fields keep what stood at session level. write_sdp() writes a media-level value only where it
// differs from the session-level one, so a parsed description writes and parses back equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/ice/candidate.h"

namespace cellrtc::sdp {

// Bounds on what parse_sdp accepts from the network.
struct SdpLimits {
  size_t max_size = 64 * 1024;  // whole description, bytes
  size_t max_lines = 1024;
  size_t max_line_length = 2048;  // without the line ending
  size_t max_media_sections = 16;
  size_t max_candidates_per_section = 64;
  size_t max_attributes_per_level = 256;  // attributes kept verbatim, per session or media level
};

enum class MediaKind : uint8_t { application, audio, video, other };

// The m= line's transport protocol, classified.
enum class Proto : uint8_t {
  udp_dtls_sctp,  // RFC 8841 section 4.1: "UDP/DTLS/SCTP"
  tcp_dtls_sctp,  // RFC 8841 section 4.2: "TCP/DTLS/SCTP"
  dtls_sctp,      // the pre-RFC form (draft-ietf-mmusic-sctp-sdp-05): "DTLS/SCTP <port>" + sctpmap
  rtp,            // any RTP profile (RTP/AVP, UDP/TLS/RTP/SAVPF, ...): recorded, never accepted
};

// RFC 4145 section 4, RFC 8842 section 5.
enum class SetupRole : uint8_t { actpass, active, passive, holdconn };

const char* to_string(SetupRole role);
const char* to_string(MediaKind kind);

// RFC 8122 section 5: a=fingerprint:<hash-function> <hex:hex:...>. The algorithm is kept in
// lower case; the value is the raw digest.
struct Fingerprint {
  std::string algorithm;  // "sha-256"
  Bytes value;            // 32 bytes for sha-256
  bool operator==(const Fingerprint&) const = default;
};

// "a=<name>" (flag, empty value and has_value false) or "a=<name>:<value>", kept verbatim.
struct Attribute {
  std::string name;
  std::string value;
  bool has_value = false;
  bool operator==(const Attribute&) const = default;
};

// c=<nettype> <addrtype> <connection-address> (RFC 8866 section 5.7).
struct Connection {
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "0.0.0.0";
  bool operator==(const Connection&) const = default;
};

// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (section 5.2).
struct Origin {
  std::string username = "-";
  uint64_t session_id = 0;
  uint64_t session_version = 0;
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "127.0.0.1";
  bool operator==(const Origin&) const = default;
};

// a=group:<semantics> <mid>... (RFC 5888 section 5), BUNDLE per RFC 8843.
struct Group {
  std::string semantics;  // "BUNDLE"
  std::vector<std::string> mids;
  bool operator==(const Group&) const = default;
};

struct MediaSection {
  MediaKind kind = MediaKind::application;
  std::string media = "application";  // the m= line's media token as written
  uint16_t port = 9;                  // 0 = rejected (RFC 3264 section 6)
  Proto proto = Proto::udp_dtls_sctp;
  std::string proto_text = "UDP/DTLS/SCTP";  // as written, for RTP profiles
  std::vector<std::string> formats{"webrtc-datachannel"};
  std::optional<Connection> connection;
  std::string mid;  // empty when the section has no a=mid

  std::optional<std::string> ice_ufrag;
  std::optional<std::string> ice_pwd;
  std::vector<std::string> ice_options;  // "trickle", "ice2", ...
  std::vector<Fingerprint> fingerprints;
  std::optional<SetupRole> setup;
  std::vector<ice::Candidate> candidates;
  bool end_of_candidates = false;

  // RFC 8841 sections 5 and 6. For Proto::dtls_sctp the port is the m= line's format and
  // a=sctpmap stays in `attributes`.
  std::optional<uint16_t> sctp_port;
  std::optional<uint64_t> max_message_size;  // 0: any size (RFC 8841 section 6.1)

  std::vector<Attribute> attributes;  // everything else, in order

  bool is_data_channel() const { return kind == MediaKind::application && proto != Proto::rtp; }
  bool rejected() const { return port == 0; }
  bool trickle() const;
  // The first fingerprint with this algorithm (lower case), or nullptr.
  const Fingerprint* fingerprint(std::string_view algorithm = "sha-256") const;
  bool operator==(const MediaSection&) const = default;
};

struct SessionDescription {
  Origin origin;
  std::string session_name = "-";
  std::optional<Connection> connection;
  uint64_t start_time = 0;
  uint64_t stop_time = 0;

  std::vector<Group> groups;
  bool ice_lite = false;                     // RFC 8839 section 5.3, session level only
  std::optional<std::string> msid_semantic;  // "WMS", "WMS *" (value kept verbatim)
  bool extmap_allow_mixed = false;           // RFC 8285 section 6

  // Session-level values (see the inheritance note at the top).
  std::optional<std::string> ice_ufrag;
  std::optional<std::string> ice_pwd;
  std::vector<std::string> ice_options;
  std::vector<Fingerprint> fingerprints;
  std::optional<SetupRole> setup;
  bool end_of_candidates = false;

  std::vector<Attribute> attributes;  // unknown session-level attributes, in order
  std::vector<MediaSection> media;

  const Group* bundle_group() const;
  // The first accepted (port != 0) application section with an SCTP protocol, or nullptr.
  const MediaSection* data_section() const;
  MediaSection* data_section();
  bool operator==(const SessionDescription&) const = default;
};

// A parse error says which line (1-based; 0 when it concerns the whole description, such as
// its size or a missing line) and what was wrong. `code` and `reason` match Error's, so
// error().reason reads the same as for Result<T>.
struct SdpError {
  Errc code = Errc::malformed;
  const char* reason = "";
  size_t line = 0;

  Error error() const { return Error{code, reason}; }
};

// "line 12: fingerprint is not hex pairs (malformed)".
std::string describe(const SdpError& error);

// Result<SessionDescription>'s shape, with an SdpError for the line number.
using SdpResult = Result<SessionDescription, SdpError>;
// For callers that speak Result<T> only (the line number is dropped).
Result<SessionDescription> to_result(SdpResult&& result);

// Parses a session description. Lines end in CRLF; a bare LF is accepted (RFC 8866 section 5).
SdpResult parse_sdp(std::string_view text, const SdpLimits& limits = {});

// Canonical form: CRLF line endings, RFC 8866 line order, values as described above.
std::string write_sdp(const SessionDescription& description);

// The value of a=fingerprint, "sha-256 AB:CD:..." (RFC 8122 section 5), read and written.
// The DTLS layer speaks the hex part alone: format_fingerprint_value, or
// parse_fingerprint("sha-256 " + hex) for the way back.
Result<Fingerprint> parse_fingerprint(std::string_view value);
std::string format_fingerprint(const Fingerprint& fingerprint);
// The hex form of a digest, "AB:CD:..." (upper case).
std::string format_fingerprint_value(ByteView digest);

}  // namespace cellrtc::sdp
