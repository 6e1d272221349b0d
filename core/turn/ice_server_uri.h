// STUN and TURN server URIs as ICE server lists carry them (RFC 7064, RFC 7065):
//
//   stun:host[:port]    stuns:host[:port]
//   turn:host[:port][?transport=udp|tcp]    turns:host[:port][?transport=tcp]
//
// host is an IPv4 literal, an IPv6 literal in brackets, or a DNS name (RFC 3986 reg-name,
// restricted to letters, digits, '-' and '.'); the core does not resolve names, the runtime
// does. Default ports: 3478 for stun/turn, 5349 for stuns/turns (RFC 7064 section 3.2,
// RFC 7065 section 3.2). Without ?transport, turn: means UDP and turns: means TCP (under TLS),
// RFC 7065 section 3.1 and RFC 8656 section 3.1. turns:...?transport=udp (DTLS) is refused as
// unsupported. The scheme and the query key are case-insensitive (RFC 3986 section 3.1).
//
//   auto uri = turn::parse_ice_server_uri("turns:turn.example.net:443?transport=tcp");
//   if (!uri) log(uri.error().reason);   // says what is wrong
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/turn/turn_client.h"

namespace cellrtc::turn {

enum class IceServerScheme : uint8_t { stun, stuns, turn, turns };
const char* to_string(IceServerScheme scheme);

// Longest URI accepted (a host name is at most 253 characters, RFC 1035 section 2.3.4).
constexpr size_t kMaxIceServerUriLength = 512;

struct IceServerUri {
  IceServerScheme scheme = IceServerScheme::turn;
  std::string host;             // the name or the literal, without brackets
  std::optional<IpAddress> ip;  // when host is an IP literal
  uint16_t port = 3478;
  TurnTransport transport = TurnTransport::udp;  // tls for stuns/turns

  bool is_turn() const {
    return scheme == IceServerScheme::turn || scheme == IceServerScheme::turns;
  }
  // The URI again in canonical form (lower-case scheme, explicit port and transport).
  std::string to_string() const;
};

Result<IceServerUri> parse_ice_server_uri(std::string_view text);

}  // namespace cellrtc::turn
