#include "core/turn/ice_server_uri.h"

#include "core/common/text.h"

using cellrtc::text::iequals;

namespace cellrtc::turn {

const char* to_string(IceServerScheme scheme) {
  switch (scheme) {
    case IceServerScheme::stun:
      return "stun";
    case IceServerScheme::stuns:
      return "stuns";
    case IceServerScheme::turn:
      return "turn";
    case IceServerScheme::turns:
      return "turns";
  }
  return "?";
}

std::string IceServerUri::to_string() const {
  std::string out = turn::to_string(scheme);
  out += ':';
  if (ip && ip->is_v6())
    out += "[" + host + "]";
  else
    out += host;
  out += ":" + std::to_string(port);
  if (is_turn()) out += transport == TurnTransport::udp ? "?transport=udp" : "?transport=tcp";
  return out;
}

namespace {

Error bad(const char* reason) {
  return Error{Errc::malformed, reason};
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

// RFC 1035 section 2.3.1 (as relaxed by RFC 1123 section 2.1): labels of 1..63 letters, digits
// and hyphens, not starting or ending with a hyphen; 253 characters in all.
bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.back() == '.') name.remove_suffix(1);  // a fully qualified name
  size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (!is_host_char(c)) return false;
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

Result<IceServerUri> parse_ice_server_uri(std::string_view text) {
  if (text.empty()) return bad("empty ICE server URI");
  if (text.size() > kMaxIceServerUriLength)
    return Error{Errc::limit_exceeded, "ICE server URI longer than 512 characters"};
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos)
    return bad("ICE server URI has no scheme (stun:, stuns:, turn: or turns:)");
  const std::string_view scheme = text.substr(0, colon);
  IceServerUri uri;
  if (iequals(scheme, "stun"))
    uri.scheme = IceServerScheme::stun;
  else if (iequals(scheme, "stuns"))
    uri.scheme = IceServerScheme::stuns;
  else if (iequals(scheme, "turn"))
    uri.scheme = IceServerScheme::turn;
  else if (iequals(scheme, "turns"))
    uri.scheme = IceServerScheme::turns;
  else
    return Error{Errc::unsupported, "ICE server URI scheme is not stun, stuns, turn or turns"};
  const bool secure = uri.scheme == IceServerScheme::stuns || uri.scheme == IceServerScheme::turns;
  uri.port = secure ? 5349 : 3478;
  uri.transport = secure ? TurnTransport::tls : TurnTransport::udp;

  std::string_view rest = text.substr(colon + 1);
  // RFC 7064/7065 URIs have no authority part: "turn://host" is a common mistake.
  if (rest.starts_with("//")) return bad("ICE server URI must not have '//' after the scheme");
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("ICE server URI has '[' without ']'");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("ICE server URI has text after ']' that is not a port");
      port_text = after.substr(1);
      has_port = true;
    }
    auto ip = IpAddress::parse(host);
    if (!ip || !ip->is_v6()) return bad("ICE server URI has an invalid IPv6 literal");
    uri.ip = ip;
  } else {
    const size_t c = rest.rfind(':');
    if (c != std::string_view::npos) {
      host = rest.substr(0, c);
      port_text = rest.substr(c + 1);
      has_port = true;
      if (host.find(':') != std::string_view::npos)
        return bad("ICE server URI has an IPv6 literal without brackets");
    } else {
      host = rest;
    }
    if (host.empty()) return bad("ICE server URI has no host");
    if (auto ip = IpAddress::parse(host); ip && ip->is_v4())
      uri.ip = ip;
    else if (!valid_dns_name(host))
      return bad("ICE server URI host is neither an IP address nor a valid host name");
  }
  if (host.empty()) return bad("ICE server URI has no host");
  if (has_port) {
    auto port = parse_port(port_text);
    if (!port) return bad("ICE server URI port is not a number from 1 to 65535");
    uri.port = *port;
  }
  uri.host = std::string(host);

  if (!query.empty() || text.find('?') != std::string_view::npos) {
    if (!uri.is_turn()) return bad("stun:/stuns: URIs take no query (RFC 7064 section 3.1)");
    const size_t eq = query.find('=');
    if (eq == std::string_view::npos || !iequals(query.substr(0, eq), "transport"))
      return bad("TURN URI query must be ?transport=udp or ?transport=tcp (RFC 7065)");
    const std::string_view value = query.substr(eq + 1);
    if (iequals(value, "udp")) {
      if (secure)
        return Error{Errc::unsupported,
                     "turns: over UDP (DTLS) is not supported; use ?transport=tcp"};
      uri.transport = TurnTransport::udp;
    } else if (iequals(value, "tcp")) {
      uri.transport = secure ? TurnTransport::tls : TurnTransport::tcp;
    } else {
      return bad("TURN URI transport is neither udp nor tcp (RFC 7065 section 3.1)");
    }
  }
  return uri;
}

}  // namespace cellrtc::turn
