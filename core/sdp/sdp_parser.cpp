// parse_sdp: one pass over the lines of a session description (RFC 8866 section 5), with
// bounds on size, line count, line length, media sections and candidates checked as the text
// is walked. Every error names the line it was found on.
//
//   session-description = version-field origin-field session-name-field [information-field]
//                         [uri-field] *email-field *phone-field [connection-field]
//                         *bandwidth-field 1*time-description [key-field] *attribute-field
//                         *media-description
//   media-description   = media-field [information-field] *connection-field *bandwidth-field
//                         [key-field] *attribute-field
//
// The parser is liberal where it costs nothing (optional fields in any order within a level,
// bare LF line endings, blank lines, lower-case fingerprint hex) and strict about what the rest of
// the stack relies on (one v=0 first, o=/s=/t= present, unique mids, well-formed ICE and DTLS
// attributes).
#include <algorithm>

#include "core/sdp/sdp_text.h"
#include "core/sdp/session_description.h"

namespace cellrtc::sdp {
namespace {

constexpr size_t kMaxMidLength = 32;        // our bound; RFC 5888 allows any token
constexpr size_t kMaxIceUfragLength = 256;  // RFC 8839 section 5.4: 4..256 ice-char
constexpr size_t kMinIceUfragLength = 4;
constexpr size_t kMaxIcePwdLength = 256;  // RFC 8839 section 5.4: 22..256 ice-char
constexpr size_t kMinIcePwdLength = 22;
constexpr size_t kMaxFingerprintLength = 64;  // SHA-512, the longest hash RFC 8122 names

struct LevelFlags {
  bool connection = false;
  bool ufrag = false;
  bool pwd = false;
  bool setup = false;
  bool mid = false;
  bool sctp_port = false;
  bool max_message_size = false;
};

class Parser {
 public:
  explicit Parser(const SdpLimits& limits) : limits_(limits) {}

  SdpResult run(std::string_view text);

 private:
  SdpError fail(Errc code, const char* reason) const { return SdpError{code, reason, line_}; }
  SdpError bad(const char* reason) const { return fail(Errc::malformed, reason); }

  std::optional<SdpError> line(char type, std::string_view value);
  std::optional<SdpError> origin(std::string_view value);
  std::optional<SdpError> connection(std::string_view value, std::optional<Connection>& out);
  std::optional<SdpError> timing(std::string_view value);
  std::optional<SdpError> media_line(std::string_view value);
  std::optional<SdpError> attribute(std::string_view value);
  std::optional<SdpError> session_attribute(std::string_view name, std::string_view value,
                                            bool has_value);
  std::optional<SdpError> media_attribute(std::string_view name, std::string_view value,
                                          bool has_value);
  // Attributes allowed at both levels; `handled` is false when `name` is none of them.
  std::optional<SdpError> shared_attribute(std::string_view name, std::string_view value,
                                           bool has_value, bool& handled);
  std::optional<SdpError> keep(std::vector<Attribute>& list, std::string_view name,
                               std::string_view value, bool has_value);
  std::optional<SdpError> finish();

  const SdpLimits& limits_;
  size_t line_ = 0;
  SessionDescription d_;
  MediaSection* media_ = nullptr;  // the section being read, or nullptr at session level
  LevelFlags session_flags_;
  LevelFlags media_flags_;
  bool seen_version_ = false;
  bool seen_origin_ = false;
  bool seen_name_ = false;
  bool seen_time_ = false;
  std::vector<size_t> group_lines_;  // line of each a=group, for errors found at the end
};

// The level currently being read: the session or the current media section.
struct Level {
  std::optional<std::string>* ufrag;
  std::optional<std::string>* pwd;
  std::vector<std::string>* options;
  std::vector<Fingerprint>* fingerprints;
  std::optional<SetupRole>* setup;
  bool* end_of_candidates;
  LevelFlags* flags;
};

std::optional<SetupRole> parse_setup(std::string_view s) {
  // RFC 4145 section 4: role = "active" / "passive" / "actpass" / "holdconn".
  if (s == "actpass") return SetupRole::actpass;
  if (s == "active") return SetupRole::active;
  if (s == "passive") return SetupRole::passive;
  if (s == "holdconn") return SetupRole::holdconn;
  return std::nullopt;
}

// RFC 8122 section 5: fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint
//   hash-func = "sha-1" / "sha-224" / "sha-256" / "sha-384" / "sha-512" / "md5" / "md2" / token
//   fingerprint = 2UHEX *(":" 2UHEX)
// Lower-case hex is accepted (harmless, and some stacks write it).
std::optional<Fingerprint> read_fingerprint(std::string_view value, const char*& reason) {
  size_t sp = value.find(' ');
  if (sp == std::string_view::npos || sp == 0) {
    reason = "fingerprint is not \"<hash-function> <hex>\"";
    return std::nullopt;
  }
  std::string_view func = value.substr(0, sp);
  std::string_view hex = value.substr(sp + 1);
  if (!is_token(func)) {
    reason = "fingerprint hash function is not a token";
    return std::nullopt;
  }
  Fingerprint fp;
  fp.algorithm = to_lower(func);
  if (hex.size() % 3 != 2) {
    reason = "fingerprint is not hex pairs separated by ':'";
    return std::nullopt;
  }
  fp.value.reserve(hex.size() / 3 + 1);
  for (size_t i = 0; i < hex.size(); i += 3) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0 || (i + 2 < hex.size() && hex[i + 2] != ':')) {
      reason = "fingerprint is not hex pairs separated by ':'";
      return std::nullopt;
    }
    fp.value.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  if (fp.value.size() > kMaxFingerprintLength) {
    reason = "fingerprint longer than 64 bytes";
    return std::nullopt;
  }
  size_t expected = 0;
  if (fp.algorithm == "sha-1") expected = 20;
  if (fp.algorithm == "sha-224") expected = 28;
  if (fp.algorithm == "sha-256") expected = 32;
  if (fp.algorithm == "sha-384") expected = 48;
  if (fp.algorithm == "sha-512") expected = 64;
  if (fp.algorithm == "md5" || fp.algorithm == "md2") expected = 16;
  if (expected != 0 && fp.value.size() != expected) {
    reason = "fingerprint length does not match its hash function";
    return std::nullopt;
  }
  return fp;
}

std::optional<Proto> classify_proto(std::string_view proto) {
  // RFC 8841 section 4 and the pre-RFC data-channel form.
  if (proto == "UDP/DTLS/SCTP") return Proto::udp_dtls_sctp;
  if (proto == "TCP/DTLS/SCTP") return Proto::tcp_dtls_sctp;
  if (proto == "DTLS/SCTP") return Proto::dtls_sctp;
  // RTP profiles (RFC 3551, 3711, 4585, 5124, 5764, 7850): any "/"-separated name with an
  // "RTP" component, such as "UDP/TLS/RTP/SAVPF".
  if (proto.empty() || proto.front() == '/' || proto.back() == '/') return std::nullopt;
  bool rtp = false;
  size_t start = 0;
  while (start <= proto.size()) {
    size_t slash = proto.find('/', start);
    std::string_view part = proto.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || !is_token(part)) return std::nullopt;
    if (part == "RTP") rtp = true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (rtp) return Proto::rtp;
  return std::nullopt;
}

bool is_ice_token(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), is_ice_char);
}

SdpResult Parser::run(std::string_view text) {
  if (text.size() > limits_.max_size) {
    return SdpError{Errc::limit_exceeded, "description larger than the size limit", 0};
  }
  size_t pos = 0;
  size_t lines = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view l = text.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      // RFC 8866 section 5 has no blank lines, but descriptions glued together from string
      // fragments in C firmware sometimes carry one where two fragments meet (and a CRLF too
      // many at the end is common). Skipping it is harmless; it still counts as a line.
      continue;
    }
    if (++lines > limits_.max_lines) return fail(Errc::limit_exceeded, "too many lines");
    if (l.size() > limits_.max_line_length) {
      return fail(Errc::limit_exceeded, "line longer than the line length limit");
    }
    for (char c : l) {
      // RFC 8866 section 5: no NUL, CR or LF inside a line; other controls are no better.
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F) return bad("control character in a line");
    }
    if (l.size() < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z') {
      return bad("line is not <letter>=<value>");
    }
    if (lines == 1 && l[0] != 'v') return bad("description does not start with v=");
    if (auto e = line(l[0], l.substr(2))) return *e;
  }
  if (line_ == 0 || lines == 0) {
    return SdpError{Errc::truncated, "empty description", 0};
  }
  if (auto e = finish()) return *e;
  return std::move(d_);
}

std::optional<SdpError> Parser::line(char type, std::string_view value) {
  switch (type) {
    case 'v':
      if (seen_version_) return bad("v= after the first line");
      seen_version_ = true;
      if (value != "0") return fail(Errc::unsupported, "protocol version is not 0");
      return std::nullopt;
    case 'o':
      if (media_ || seen_origin_) return bad("o= is not the session's single origin line");
      seen_origin_ = true;
      return origin(value);
    case 's':
      if (media_ || seen_name_) return bad("s= is not the session's single name line");
      seen_name_ = true;
      d_.session_name = std::string(value);
      return std::nullopt;
    case 'c':
      if (media_) {
        if (media_flags_.connection) return bad("second c= line in a media section");
        media_flags_.connection = true;
        return connection(value, media_->connection);
      }
      if (session_flags_.connection) return bad("second c= line at session level");
      session_flags_.connection = true;
      return connection(value, d_.connection);
    case 't':
      if (media_) return bad("t= inside a media section");
      return timing(value);
    case 'm':
      return media_line(value);
    case 'a':
      return attribute(value);
    // Fields this stack has no use for (section 5): information, URI, email, phone,
    // bandwidth, repeat times, time zones, and the obsolete encryption key.
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'b':
    case 'r':
    case 'z':
    case 'k':
      return std::nullopt;
    default:
      // Section 5: a description with a type letter the parser does not understand is
      // ignored as a whole.
      return fail(Errc::unsupported, "unknown line type");
  }
}

std::optional<SdpError> Parser::origin(std::string_view value) {
  std::string_view f[6];
  if (!split_fields(value, f, 6)) return bad("o= does not have six fields");
  auto id = parse_decimal(f[1], 20);
  auto version = parse_decimal(f[2], 20);
  if (!id || !version) return bad("o= session id or version is not a number");
  if (!is_token(f[3]) || !is_token(f[4])) return bad("o= network or address type is not a token");
  d_.origin.username = std::string(f[0]);
  d_.origin.session_id = *id;
  d_.origin.session_version = *version;
  d_.origin.net_type = std::string(f[3]);
  d_.origin.address_type = std::string(f[4]);
  d_.origin.address = std::string(f[5]);
  return std::nullopt;
}

std::optional<SdpError> Parser::connection(std::string_view value, std::optional<Connection>& out) {
  std::string_view f[3];
  if (!split_fields(value, f, 3)) return bad("c= does not have three fields");
  if (!is_token(f[0]) || !is_token(f[1])) return bad("c= network or address type is not a token");
  out = Connection{std::string(f[0]), std::string(f[1]), std::string(f[2])};
  return std::nullopt;
}

std::optional<SdpError> Parser::timing(std::string_view value) {
  std::string_view f[2];
  if (!split_fields(value, f, 2)) return bad("t= does not have two fields");
  auto start = parse_decimal(f[0], 20);
  auto stop = parse_decimal(f[1], 20);
  if (!start || !stop) return bad("t= times are not numbers");
  if (!seen_time_) {  // further t= lines (more active periods) are ignored
    d_.start_time = *start;
    d_.stop_time = *stop;
  }
  seen_time_ = true;
  return std::nullopt;
}

// m=<media> <port>[/<number of ports>] <proto> 1*(SP <fmt>)   (RFC 8866 section 5.14)
std::optional<SdpError> Parser::media_line(std::string_view value) {
  if (!seen_origin_) return bad("m= before the o= line");
  if (!seen_name_) return bad("m= before the s= line");
  if (!seen_time_) return bad("m= before the t= line");
  if (d_.media.size() >= limits_.max_media_sections) {
    return fail(Errc::limit_exceeded, "too many media sections");
  }
  if (value.empty() || value.front() == ' ' || value.back() == ' ' ||
      value.find("  ") != std::string_view::npos) {
    return bad("m= line has an empty field");
  }
  size_t sp1 = value.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : value.find(' ', sp1 + 1);
  size_t sp3 = sp2 == std::string_view::npos ? sp2 : value.find(' ', sp2 + 1);
  if (sp3 == std::string_view::npos) return bad("m= line needs media, port, proto and a format");
  std::string_view media = value.substr(0, sp1);
  std::string_view port_text = value.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view proto_text = value.substr(sp2 + 1, sp3 - sp2 - 1);
  std::string_view formats = value.substr(sp3 + 1);
  if (!is_token(media)) return bad("m= media is not a token");

  size_t slash = port_text.find('/');
  if (slash != std::string_view::npos) {
    // The number of ports (section 5.14) means nothing for a bundled ICE transport.
    if (!parse_decimal(port_text.substr(slash + 1), 5)) return bad("m= port count is not a number");
    port_text = port_text.substr(0, slash);
  }
  auto port = parse_decimal(port_text, 5);
  if (!port || *port > 65535) return bad("m= port is not a number in 0..65535");
  auto proto = classify_proto(proto_text);
  if (!proto) return fail(Errc::unsupported, "m= proto is neither SCTP over DTLS nor RTP");

  MediaSection m;
  m.media = std::string(media);
  if (media == "application") {
    m.kind = MediaKind::application;
  } else if (media == "audio") {
    m.kind = MediaKind::audio;
  } else if (media == "video") {
    m.kind = MediaKind::video;
  } else {
    m.kind = MediaKind::other;
  }
  m.port = static_cast<uint16_t>(*port);
  m.proto = *proto;
  m.proto_text = std::string(proto_text);
  m.formats.clear();
  size_t start = 0;
  while (true) {
    size_t sp = formats.find(' ', start);
    std::string_view fmt = formats.substr(start, sp == std::string_view::npos ? sp : sp - start);
    if (!is_token(fmt)) return bad("m= format is not a token");
    m.formats.emplace_back(fmt);
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  if (m.proto == Proto::udp_dtls_sctp || m.proto == Proto::tcp_dtls_sctp) {
    // RFC 8841 section 4.1: the format is "webrtc-datachannel".
    if (m.formats.size() != 1 || m.formats[0] != "webrtc-datachannel") {
      return bad("SCTP m= line format is not webrtc-datachannel");
    }
  } else if (m.proto == Proto::dtls_sctp) {
    // The pre-RFC form names the SCTP port as its format (and describes it in a=sctpmap).
    auto sctp = parse_decimal(m.formats[0], 5);
    if (m.formats.size() != 1 || !sctp || *sctp > 65535) {
      return bad("DTLS/SCTP m= line format is not an SCTP port");
    }
    m.sctp_port = static_cast<uint16_t>(*sctp);
  }
  d_.media.push_back(std::move(m));
  media_ = &d_.media.back();
  media_flags_ = LevelFlags{};
  return std::nullopt;
}

// a=<attribute-name>[:<attribute-value>]   (RFC 8866 section 5.13)
std::optional<SdpError> Parser::attribute(std::string_view value) {
  size_t colon = value.find(':');
  std::string_view name = value.substr(0, colon);
  bool has_value = colon != std::string_view::npos;
  std::string_view v = has_value ? value.substr(colon + 1) : std::string_view{};
  if (!is_token(name)) return bad("attribute name is not a token");
  return media_ ? media_attribute(name, v, has_value) : session_attribute(name, v, has_value);
}

std::optional<SdpError> Parser::keep(std::vector<Attribute>& list, std::string_view name,
                                     std::string_view value, bool has_value) {
  if (list.size() >= limits_.max_attributes_per_level) {
    return fail(Errc::limit_exceeded, "too many attributes at one level");
  }
  list.push_back(Attribute{std::string(name), std::string(value), has_value});
  return std::nullopt;
}

std::optional<SdpError> Parser::shared_attribute(std::string_view name, std::string_view value,
                                                 bool has_value, bool& handled) {
  handled = true;
  Level level = media_
                    ? Level{&media_->ice_ufrag,    &media_->ice_pwd, &media_->ice_options,
                            &media_->fingerprints, &media_->setup,   &media_->end_of_candidates,
                            &media_flags_}
                    : Level{&d_.ice_ufrag, &d_.ice_pwd,           &d_.ice_options, &d_.fingerprints,
                            &d_.setup,     &d_.end_of_candidates, &session_flags_};
  if (name == "ice-ufrag") {  // RFC 8839 section 5.4
    if (level.flags->ufrag) return bad("second a=ice-ufrag at one level");
    if (!is_ice_token(value, kMinIceUfragLength, kMaxIceUfragLength)) {
      return bad("ice-ufrag is not 4..256 ice-chars");
    }
    level.flags->ufrag = true;
    *level.ufrag = std::string(value);
  } else if (name == "ice-pwd") {  // RFC 8839 section 5.4
    if (level.flags->pwd) return bad("second a=ice-pwd at one level");
    if (!is_ice_token(value, kMinIcePwdLength, kMaxIcePwdLength)) {
      return bad("ice-pwd is not 22..256 ice-chars");
    }
    level.flags->pwd = true;
    *level.pwd = std::string(value);
  } else if (name == "ice-options") {  // RFC 8839 section 5.6: 1*(SP? ice-option-tag)
    if (value.empty()) return bad("ice-options without an option");
    size_t start = 0;
    while (start <= value.size()) {
      size_t sp = value.find(' ', start);
      std::string_view tag = value.substr(start, sp == std::string_view::npos ? sp : sp - start);
      if (!is_token(tag)) return bad("ice-options tag is not a token");
      if (level.options->size() >= 16) return fail(Errc::limit_exceeded, "too many ice-options");
      level.options->emplace_back(tag);
      if (sp == std::string_view::npos) break;
      start = sp + 1;
    }
  } else if (name == "fingerprint") {
    const char* reason = "";
    auto fp = read_fingerprint(value, reason);
    if (!fp) return bad(reason);
    if (level.fingerprints->size() >= 8) return fail(Errc::limit_exceeded, "too many fingerprints");
    level.fingerprints->push_back(std::move(*fp));
  } else if (name == "setup") {  // RFC 8842 section 5, RFC 4145 section 4
    if (level.flags->setup) return bad("second a=setup at one level");
    auto role = parse_setup(value);
    if (!role) return bad("setup is not actpass, active, passive or holdconn");
    level.flags->setup = true;
    *level.setup = *role;
  } else if (name == "end-of-candidates") {  // RFC 8840 section 8.1: session or media level
    if (has_value) return bad("end-of-candidates takes no value");
    *level.end_of_candidates = true;
  } else {
    handled = false;
  }
  return std::nullopt;
}

bool is_media_only(std::string_view name) {
  // Attributes whose usage level is media only (RFC 5888 mid, RFC 8839 candidate, RFC 8841
  // sctp-port and max-message-size, RFC 8866 rtpmap and fmtp, the pre-RFC sctpmap).
  return name == "mid" || name == "candidate" || name == "sctp-port" ||
         name == "max-message-size" || name == "sctpmap" || name == "rtpmap" || name == "fmtp";
}

std::optional<SdpError> Parser::session_attribute(std::string_view name, std::string_view value,
                                                  bool has_value) {
  bool handled = false;
  if (auto e = shared_attribute(name, value, has_value, handled)) return e;
  if (handled) return std::nullopt;
  if (is_media_only(name)) return bad("media-level attribute before any m= line");
  if (name == "group") {  // RFC 5888 section 5: group:<semantics> *(SP identification-tag)
    Group g;
    size_t start = 0;
    bool first = true;
    if (!has_value) return bad("group without semantics");
    while (start <= value.size()) {
      size_t sp = value.find(' ', start);
      std::string_view tag = value.substr(start, sp == std::string_view::npos ? sp : sp - start);
      if (!is_token(tag)) return bad("group semantics or mid is not a token");
      if (first) {
        g.semantics = std::string(tag);
        first = false;
      } else {
        if (g.mids.size() >= limits_.max_media_sections) {
          return fail(Errc::limit_exceeded, "group names more mids than media sections allowed");
        }
        g.mids.emplace_back(tag);
      }
      if (sp == std::string_view::npos) break;
      start = sp + 1;
    }
    if (d_.groups.size() >= 4) return fail(Errc::limit_exceeded, "too many a=group lines");
    d_.groups.push_back(std::move(g));
    group_lines_.push_back(line_);
    return std::nullopt;
  }
  if (name == "ice-lite" && !has_value) {  // RFC 8839 section 5.3
    d_.ice_lite = true;
    return std::nullopt;
  }
  if (name == "msid-semantic" && has_value && !d_.msid_semantic) {
    // Chrome writes "msid-semantic: WMS" with a space after the colon.
    size_t first = value.find_first_not_of(' ');
    d_.msid_semantic = std::string(first == std::string_view::npos ? "" : value.substr(first));
    return std::nullopt;
  }
  if (name == "extmap-allow-mixed" && !has_value) {
    d_.extmap_allow_mixed = true;
    return std::nullopt;
  }
  return keep(d_.attributes, name, value, has_value);
}

std::optional<SdpError> Parser::media_attribute(std::string_view name, std::string_view value,
                                                bool has_value) {
  MediaSection& m = *media_;
  bool handled = false;
  if (auto e = shared_attribute(name, value, has_value, handled)) return e;
  if (handled) return std::nullopt;
  if (name == "mid") {  // RFC 5888 section 4, RFC 8843 section 7.1: unique in the description
    if (media_flags_.mid) return bad("second a=mid in one media section");
    if (value.empty() || value.size() > kMaxMidLength || !is_token(value)) {
      return bad("mid is not a token of 1..32 characters");
    }
    for (const MediaSection& other : d_.media) {
      if (&other != &m && other.mid == value) return bad("duplicate mid");
    }
    media_flags_.mid = true;
    m.mid = std::string(value);
    return std::nullopt;
  }
  if (name == "candidate") {  // RFC 8839 section 5.1
    if (!has_value) return bad("a=candidate without a value");
    if (m.candidates.size() >= limits_.max_candidates_per_section) {
      return fail(Errc::limit_exceeded, "too many candidates in one media section");
    }
    std::string_view whole(name.data(), name.size() + 1 + value.size());  // "candidate:..."
    auto c = ice::parse_candidate(whole);
    if (!c.ok()) return fail(c.error().code, c.error().reason);
    m.candidates.push_back(std::move(*c));
    return std::nullopt;
  }
  if (name == "sctp-port") {  // RFC 8841 section 5.1: sctp-port = 1*5DIGIT, 0..65535
    if (m.proto == Proto::dtls_sctp) return std::nullopt;  // the legacy m= line carries the port
    if (media_flags_.sctp_port) return bad("second a=sctp-port");
    auto p = parse_decimal(value, 5);
    if (!p || *p > 65535) return bad("sctp-port is not a number in 0..65535");
    media_flags_.sctp_port = true;
    m.sctp_port = static_cast<uint16_t>(*p);
    return std::nullopt;
  }
  if (name == "max-message-size") {  // RFC 8841 section 6.1: 1*DIGIT
    if (media_flags_.max_message_size) return bad("second a=max-message-size");
    auto size = parse_decimal(value, 19);
    if (!size) return bad("max-message-size is not a number");
    media_flags_.max_message_size = true;
    m.max_message_size = *size;
    return std::nullopt;
  }
  if (name == "group" || name == "ice-lite")
    return bad("session-level attribute in a media section");
  return keep(m.attributes, name, value, has_value);
}

std::optional<SdpError> Parser::finish() {
  if (!seen_origin_) return SdpError{Errc::malformed, "no o= line", 0};
  if (!seen_name_) return SdpError{Errc::malformed, "no s= line", 0};
  if (!seen_time_) return SdpError{Errc::malformed, "no t= line", 0};
  // RFC 5888 section 5 (and RFC 8843 section 7): a group names mids of this description.
  for (size_t g = 0; g < d_.groups.size(); ++g) {
    for (const std::string& mid : d_.groups[g].mids) {
      bool found = std::any_of(d_.media.begin(), d_.media.end(),
                               [&](const MediaSection& m) { return m.mid == mid; });
      if (!found) return SdpError{Errc::malformed, "group names an unknown mid", group_lines_[g]};
    }
  }
  // Session-level values apply to media sections that lack their own.
  for (MediaSection& m : d_.media) {
    if (!m.ice_ufrag) m.ice_ufrag = d_.ice_ufrag;
    if (!m.ice_pwd) m.ice_pwd = d_.ice_pwd;
    if (m.ice_options.empty()) m.ice_options = d_.ice_options;
    if (m.fingerprints.empty()) m.fingerprints = d_.fingerprints;
    if (!m.setup) m.setup = d_.setup;
    if (d_.end_of_candidates) m.end_of_candidates = true;
  }
  return std::nullopt;
}

}  // namespace

SdpResult parse_sdp(std::string_view text, const SdpLimits& limits) {
  Parser parser(limits);
  return parser.run(text);
}

Result<Fingerprint> parse_fingerprint(std::string_view value) {
  const char* reason = "";
  auto fp = read_fingerprint(value, reason);
  if (!fp) return Error{Errc::malformed, reason};
  return std::move(*fp);
}

Result<SessionDescription> to_result(SdpResult&& result) {
  if (result.ok()) return std::move(result).value();
  return result.error().error();
}

std::string describe(const SdpError& error) {
  std::string out;
  if (error.line != 0) {
    out += "line ";
    out += std::to_string(error.line);
    out += ": ";
  }
  out += error.reason;
  out += " (";
  out += to_string(error.code);
  out += ")";
  return out;
}

}  // namespace cellrtc::sdp
