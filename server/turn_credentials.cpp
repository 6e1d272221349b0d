#include "server/turn_credentials.h"

#include <nlohmann/json.hpp>

#include "core/common/crypto.h"

namespace cellrtc::server {
namespace {

// RFC 8288 section 3: a quoted-string value; the credentials we make hold no quote or
// backslash, but urls and usernames come from the configuration.
std::string link_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string base64_encode(ByteView data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = data.size() - i; rest > 0) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (rest == 2) v |= uint32_t{data[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

IceServer turn_rest_credentials(std::string_view secret, int64_t expiry_unix_s,
                                std::string_view user, std::vector<std::string> urls) {
  IceServer s;
  s.urls = std::move(urls);
  s.username = std::to_string(expiry_unix_s) + ":" + std::string(user);
  auto mac = hmac_sha1(as_bytes(secret), as_bytes(s.username));
  s.credential = base64_encode(mac);
  return s;
}

std::vector<IceServer> ice_servers_for(const TurnSettings& turn, int64_t now_unix_s, Duration ttl,
                                       std::string_view user) {
  std::vector<IceServer> out;
  if (!turn.secret.empty() && !turn.urls.empty()) {
    int64_t expiry = now_unix_s + std::chrono::duration_cast<seconds>(ttl).count();
    out.push_back(turn_rest_credentials(turn.secret, expiry, user, turn.urls));
  }
  if (!turn.stun_urls.empty()) out.push_back(IceServer{turn.stun_urls, {}, {}});
  return out;
}

std::vector<std::string> link_header_values(const std::vector<IceServer>& servers) {
  std::vector<std::string> out;
  for (const auto& s : servers) {
    for (const auto& url : s.urls) {
      std::string v = "<" + url + ">; rel=\"ice-server\"";
      if (!s.username.empty()) {
        v += "; username=" + link_quoted(s.username);
        v += "; credential=" + link_quoted(s.credential);
        v += "; credential-type=\"password\"";
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::string ice_servers_json(const std::vector<IceServer>& servers) {
  auto list = nlohmann::json::array();
  for (const auto& s : servers) {
    nlohmann::json entry = {{"urls", s.urls}};
    if (!s.username.empty()) {
      entry["username"] = s.username;
      entry["credential"] = s.credential;
    }
    list.push_back(std::move(entry));
  }
  // Configured strings need not be UTF-8: replace what is not, rather than throw.
  return nlohmann::json{{"iceServers", std::move(list)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cellrtc::server
