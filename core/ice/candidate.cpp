// The SDP candidate attribute, RFC 8839 section 5.1:
//
//   candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP priority SP
//                         connection-address SP port SP cand-type [SP rel-addr] [SP rel-port]
//                         *(SP cand-extension)
//   foundation = 1*32ice-char          ice-char = ALPHA / DIGIT / "+" / "/"
//   component-id = 1*3DIGIT            priority = 1*10DIGIT
//   transport = "UDP" / token          cand-type = "typ" SP ("host"/"srflx"/"prflx"/"relay"/token)
//   rel-addr = "raddr" SP connection-address      rel-port = "rport" SP port
//   cand-extension = extension-att-name SP extension-att-value   (token SP *VCHAR)
//
// plus RFC 6544 section 4.5: tcp-type-ext = "tcptype" SP ("active" / "passive" / "so").
//
// The parser walks the line once with explicit bounds; every field is a view into the input
// until it is accepted.
#include "core/ice/candidate.h"

#include <algorithm>

namespace cellrtc::ice {
namespace {

constexpr size_t kMaxFoundationLength = 32;  // RFC 8839 section 5.1: 1*32ice-char
constexpr size_t kMaxHostNameLength = 253;   // RFC 1035 section 2.3.4 (text form)
constexpr size_t kMaxLabelLength = 63;

Error malformed(const char* reason) {
  return Error{Errc::malformed, reason};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ice_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '/';
}
// RFC 3261 section 25.1 token characters (referenced by RFC 4566 and RFC 8839).
bool is_token_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '!':
    case '%':
    case '*':
    case '_':
    case '+':
    case '`':
    case '\'':
    case '~':
      return true;
    default:
      return false;
  }
}
bool is_vchar(char c) {
  return c >= 0x21 && c <= 0x7E;
}  // RFC 5234 appendix B.1

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Splits a line that has no empty fields (checked up front) at its spaces.
class FieldReader {
 public:
  explicit FieldReader(std::string_view line) : rest_(line), done_(line.empty()) {}

  bool at_end() const { return done_; }

  // The next field; empty once at_end().
  std::string_view next() {
    if (done_) return {};
    size_t sp = rest_.find(' ');
    std::string_view field = rest_.substr(0, sp);
    if (sp == std::string_view::npos) {
      rest_ = {};
      done_ = true;
    } else {
      rest_ = rest_.substr(sp + 1);
    }
    return field;
  }

 private:
  std::string_view rest_;
  bool done_;
};

// Decimal digits only, at most `max_digits`, value at most `max_value`.
std::optional<uint64_t> parse_decimal(std::string_view s, size_t max_digits, uint64_t max_value) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max_value) return std::nullopt;
  return v;
}

// RFC 4566 port: 1*DIGIT, and it has to fit a transport port.
std::optional<uint16_t> parse_port(std::string_view s) {
  auto v = parse_decimal(s, 5, 65535);
  if (!v) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

// A host name as RFC 8839 section 5.1 allows for connection-address (FQDN, which includes the
// mDNS "<uuid>.local" names browsers use per draft-ietf-mmusic-mdns-ice-candidates): letters,
// digits, '-' and '.', labels of 1..63 characters.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxHostNameLength) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    if (++label > kMaxLabelLength) return false;
  }
  return label != 0;
}

struct ParsedAddress {
  IpAddress ip;
  std::optional<std::string> hostname;
};

// connection-address: an IPv4 or IPv6 literal, or a host name. Text that looks like an IP
// literal (only digits and dots, or any ':') but does not parse gets its own reason.
Result<ParsedAddress> parse_connection_address(std::string_view s, bool allow_host_name) {
  if (auto ip = IpAddress::parse(s)) return ParsedAddress{*ip, std::nullopt};
  if (s.find(':') != std::string_view::npos) return malformed("malformed IPv6 address");
  bool dotted_digits = true;
  for (char c : s) {
    if (!is_digit(c) && c != '.') dotted_digits = false;
  }
  if (dotted_digits) return malformed("malformed IPv4 address");
  if (!is_host_name(s))
    return malformed("connection-address is neither an IP address nor a host name");
  if (!allow_host_name) return malformed("raddr is a host name, not an IP address");
  return ParsedAddress{IpAddress{}, std::string(s)};
}

std::string_view strip_line_ending(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

const char* type_token(CandidateType type) {
  switch (type) {
    case CandidateType::host:
      return "host";
    case CandidateType::server_reflexive:
      return "srflx";
    case CandidateType::peer_reflexive:
      return "prflx";
    case CandidateType::relayed:
      return "relay";
  }
  return "host";
}

const char* tcp_type_token(TcpType type) {
  switch (type) {
    case TcpType::active:
      return "active";
    case TcpType::passive:
      return "passive";
    case TcpType::simultaneous_open:
      return "so";
    case TcpType::none:
      break;
  }
  return "";
}

}  // namespace

const char* to_string(CandidateType type) {
  return type_token(type);
}

Result<Candidate> parse_candidate(std::string_view line) {
  if (line.size() > kMaxCandidateLineLength) {
    return Error{Errc::limit_exceeded, "candidate line longer than kMaxCandidateLineLength"};
  }
  line = strip_line_ending(line);
  constexpr std::string_view kAttributePrefix = "a=";
  constexpr std::string_view kCandidatePrefix = "candidate:";
  bool had_attribute_prefix = false;
  if (line.substr(0, kAttributePrefix.size()) == kAttributePrefix) {
    line.remove_prefix(kAttributePrefix.size());
    had_attribute_prefix = true;
  }
  if (line.substr(0, kCandidatePrefix.size()) == kCandidatePrefix) {
    line.remove_prefix(kCandidatePrefix.size());
  } else if (had_attribute_prefix) {
    return malformed("attribute is not a=candidate");
  }
  for (char c : line) {
    // Only SP separates fields; everything else must be a visible character.
    if (c != ' ' && !is_vchar(c))
      return malformed("candidate contains a control or non-ASCII character");
  }
  if (line.empty()) return Error{Errc::truncated, "empty candidate"};
  // RFC 4566 section 5: exactly one SP between fields, none at either end.
  if (line.front() == ' ' || line.back() == ' ' || line.find("  ") != std::string_view::npos) {
    return malformed("empty field (double, leading or trailing space)");
  }

  Candidate cand;
  FieldReader fields(line);

  // foundation
  std::string_view foundation = fields.next();
  if (foundation.size() > kMaxFoundationLength)
    return malformed("foundation longer than 32 characters");
  if (!all_of(foundation, is_ice_char))
    return malformed("foundation has a character outside ice-char");
  cand.foundation = std::string(foundation);

  // component-id (RFC 8445 section 5.1.1.1: 1..256)
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before component-id"};
  auto component = parse_decimal(fields.next(), 3, 256);
  if (!component || *component == 0) return malformed("component-id is not a number in 1..256");
  cand.component = static_cast<uint16_t>(*component);

  // transport
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before transport"};
  std::string_view transport = fields.next();
  if (equals_ignore_case(transport, "udp")) {
    cand.transport = TransportProtocol::udp;
  } else if (equals_ignore_case(transport, "tcp")) {
    cand.transport = TransportProtocol::tcp;
  } else if (all_of(transport, is_token_char)) {
    return Error{Errc::unsupported, "transport is neither UDP nor TCP"};
  } else {
    return malformed("transport is not a token");
  }

  // priority: 1*10DIGIT, and RFC 8445 section 5.1.2 makes it a 32-bit value.
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before priority"};
  auto priority = parse_decimal(fields.next(), 10, 0xFFFFFFFFu);
  if (!priority) return malformed("priority is not a number in 0..2^32-1");
  cand.priority = static_cast<uint32_t>(*priority);

  // connection-address
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before connection-address"};
  std::string_view address_text = fields.next();
  auto address = parse_connection_address(address_text, true);
  if (!address) return address.error();

  // port
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before port"};
  auto port = parse_port(fields.next());
  if (!port) return malformed("port is not a number in 0..65535");
  cand.address = SocketAddress(address->ip, *port);
  cand.hostname = std::move(address->hostname);

  // "typ" SP cand-type
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before typ"};
  if (fields.next() != "typ") return malformed("expected \"typ\" after port");
  if (fields.at_end()) return Error{Errc::truncated, "candidate ends before the candidate type"};
  std::string_view type = fields.next();
  if (type == "host") {
    cand.type = CandidateType::host;
  } else if (type == "srflx") {
    cand.type = CandidateType::server_reflexive;
  } else if (type == "prflx") {
    cand.type = CandidateType::peer_reflexive;
  } else if (type == "relay") {
    cand.type = CandidateType::relayed;
  } else if (all_of(type, is_token_char)) {
    return Error{Errc::unsupported, "unknown candidate type"};
  } else {
    return malformed("candidate type is not a token");
  }

  // The rest is name/value pairs: raddr, rport and tcptype have meaning here, anything else is
  // an extension attribute kept verbatim (RFC 8839 section 5.1: unknown ones are ignored, not
  // rejected). raddr/rport are accepted in any position among them, as RFC 8839 lets an
  // implementation add extensions but Chrome and Firefox always put raddr/rport first.
  std::optional<IpAddress> raddr;
  std::optional<uint16_t> rport;
  bool seen_tcptype = false;
  while (!fields.at_end()) {
    std::string_view name = fields.next();
    if (!all_of(name, is_token_char)) return malformed("extension attribute name is not a token");
    if (fields.at_end()) return malformed("attribute name without a value");
    std::string_view value = fields.next();
    if (name == "raddr") {
      if (raddr) return malformed("raddr appears twice");
      auto related = parse_connection_address(value, false);
      if (!related) return related.error();
      raddr = related->ip;
    } else if (name == "rport") {
      if (rport) return malformed("rport appears twice");
      auto p = parse_port(value);
      if (!p) return malformed("rport is not a number in 0..65535");
      rport = *p;
    } else if (name == "tcptype") {
      // RFC 6544 section 4.5.
      if (seen_tcptype) return malformed("tcptype appears twice");
      seen_tcptype = true;
      if (cand.transport != TransportProtocol::tcp) return malformed("tcptype on a UDP candidate");
      if (value == "active") {
        cand.tcp_type = TcpType::active;
      } else if (value == "passive") {
        cand.tcp_type = TcpType::passive;
      } else if (value == "so") {
        cand.tcp_type = TcpType::simultaneous_open;
      } else {
        return malformed("tcptype is not active, passive or so");
      }
    } else {
      if (cand.extensions.size() >= kMaxCandidateExtensions) {
        return Error{Errc::limit_exceeded,
                     "more than kMaxCandidateExtensions extension attributes"};
      }
      cand.extensions.emplace_back(std::string(name), std::string(value));
    }
  }
  // The grammar makes rel-addr and rel-port separately optional, but a related address is a
  // transport address (RFC 8445 section 5.1.1): one without the other is meaningless.
  if (raddr.has_value() != rport.has_value())
    return malformed("raddr without rport or rport without raddr");
  if (raddr) cand.related = SocketAddress(*raddr, *rport);
  return cand;
}

std::string format_candidate(const Candidate& c) {
  std::string out;
  out.reserve(128);
  out += "candidate:";
  out += c.foundation;
  out += ' ';
  out += std::to_string(c.component);
  // RFC 8839 section 5.1 spells the transport "UDP"; TLS has no SDP form of its own and an
  // ICE-TCP candidate carried over TLS is still a TCP candidate.
  out += c.transport == TransportProtocol::udp ? " UDP " : " TCP ";
  out += std::to_string(c.priority);
  out += ' ';
  out += c.hostname ? *c.hostname : c.address.ip().to_string();
  out += ' ';
  out += std::to_string(c.address.port());
  out += " typ ";
  out += type_token(c.type);
  if (c.related) {
    out += " raddr ";
    out += c.related->ip().to_string();
    out += " rport ";
    out += std::to_string(c.related->port());
  }
  if (c.tcp_type != TcpType::none) {
    out += " tcptype ";
    out += tcp_type_token(c.tcp_type);
  }
  for (const auto& [name, value] : c.extensions) {
    out += ' ';
    out += name;
    out += ' ';
    out += value;
  }
  return out;
}

uint32_t compute_priority(uint32_t type_preference, uint32_t local_preference, uint16_t component) {
  // RFC 8445 section 5.1.2.1: type preference 0..126, local preference 0..65535, component
  // 1..256. Out-of-range inputs are clamped so the sum cannot overflow 32 bits.
  if (type_preference > 126) type_preference = 126;
  if (local_preference > 65535) local_preference = 65535;
  if (component < 1) component = 1;
  if (component > 256) component = 256;
  return (type_preference << 24) + (local_preference << 8) + (256u - component);
}

uint32_t type_preference(CandidateType type, TransportProtocol transport) {
  // RFC 8445 section 5.1.2.2 recommends host 126, peer-reflexive 110, server-reflexive 100 and
  // relayed 0. RFC 6544 section 4.2 asks that a usage preferring UDP weight the type preference
  // of TCP candidates down. We place every non-relayed TCP candidate below every non-relayed UDP
  // one (host 90 > prflx 80 > srflx 70, all below UDP srflx 100) so that any working UDP path
  // wins over TCP, while keeping the RFC 8445 order among TCP candidates. Relayed candidates
  // stay at 0 for both: nothing is below them.
  bool tcp = transport != TransportProtocol::udp;
  switch (type) {
    case CandidateType::host:
      return tcp ? 90 : 126;
    case CandidateType::peer_reflexive:
      return tcp ? 80 : 110;
    case CandidateType::server_reflexive:
      return tcp ? 70 : 100;
    case CandidateType::relayed:
      return 0;
  }
  return 0;
}

uint32_t tcp_local_preference(CandidateType type, TcpType tcp_type, uint32_t other_preference) {
  const bool reflexive =
      type == CandidateType::server_reflexive || type == CandidateType::peer_reflexive;
  uint32_t direction = 0;
  switch (tcp_type) {
    case TcpType::active:
      direction = reflexive ? 4 : 6;
      break;
    case TcpType::passive:
      direction = reflexive ? 2 : 4;
      break;
    case TcpType::simultaneous_open:
      direction = reflexive ? 6 : 2;
      break;
    case TcpType::none:
      break;
  }
  return (direction << 13) + std::min<uint32_t>(other_preference, 8191);
}

bool tcp_types_pair(TcpType local, TcpType remote) {
  switch (local) {
    case TcpType::none:
      return remote == TcpType::none;
    case TcpType::active:
      return remote == TcpType::passive;
    case TcpType::passive:
      return remote == TcpType::active;
    case TcpType::simultaneous_open:
      return remote == TcpType::simultaneous_open;
  }
  return false;
}

bool travels_over_tcp(const Candidate& local) {
  if (local.transport != TransportProtocol::udp) return true;
  return local.type == CandidateType::relayed && local.relay_protocol &&
         *local.relay_protocol != TransportProtocol::udp;
}

}  // namespace cellrtc::ice
