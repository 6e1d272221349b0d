#pragma once

// ICE servers handed to WHIP/WHEP clients: TURN REST credentials (the scheme of
// draft-uberti-behave-turn-rest-00 that coturn implements as --use-auth-secret) and the Link
// headers that carry them (RFC 9725 section 4.6).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/bytes.h"
#include "server/config.h"

namespace cellrtc::server {

struct IceServer {
  std::vector<std::string> urls;
  std::string username;    // empty for STUN
  std::string credential;  // empty for STUN
};

// username = "<expiry unix seconds>:<user>", credential = base64(HMAC-SHA1(secret, username)).
IceServer turn_rest_credentials(std::string_view secret, int64_t expiry_unix_s,
                                std::string_view user, std::vector<std::string> urls);

// The servers to announce at `now_unix_s`: TURN (when a secret is configured) with credentials
// valid for `ttl`, then the plain STUN urls.
std::vector<IceServer> ice_servers_for(const TurnSettings& turn, int64_t now_unix_s, Duration ttl,
                                       std::string_view user);

// One Link header value per url (RFC 9725 section 4.6):
//   <turn:host:3478?transport=udp>; rel="ice-server"; username="..."; credential="...";
//   credential-type="password"
std::vector<std::string> link_header_values(const std::vector<IceServer>& servers);

// {"iceServers":[{"urls":[...],"username":"...","credential":"..."}]} (RTCConfiguration's form).
std::string ice_servers_json(const std::vector<IceServer>& servers);

// RFC 4648 section 4, with padding.
std::string base64_encode(ByteView data);

}  // namespace cellrtc::server
