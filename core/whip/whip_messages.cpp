#include "core/whip/whip_messages.h"

#include "core/common/http_status.h"
#include "core/common/text.h"
#include "core/whip/whip_url.h"

namespace cellrtc::whip {

namespace {

using text::iequals;

std::string_view trim(std::string_view s) {
  return text::trim(s, " \t\r\n");
}

// A quoted-string (RFC 9110 section 5.6.4) or a token, starting at `pos`.
std::string read_param_value(std::string_view s, size_t& pos) {
  std::string out;
  if (pos < s.size() && s[pos] == '"') {
    ++pos;
    while (pos < s.size() && s[pos] != '"') {
      if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
      out.push_back(s[pos++]);
    }
    if (pos < s.size()) ++pos;  // closing quote
    return out;
  }
  while (pos < s.size() && s[pos] != ';' && s[pos] != ',')
    out.push_back(s[pos++]);
  return std::string(trim(out));
}

std::vector<HttpHeader> with_token(std::vector<HttpHeader> headers, std::string_view token) {
  if (!token.empty()) headers.push_back({"Authorization", "Bearer " + std::string(token)});
  return headers;
}

// At most `n` bytes of `body`, control and non-ASCII bytes as '.', for an error line.
std::string printable_start(std::string_view body, size_t n = 40) {
  std::string start(body.substr(0, n));
  for (char& ch : start)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '.';
  return start;
}

}  // namespace

const char* to_string(WhipRequestKind kind) {
  switch (kind) {
    case WhipRequestKind::publish:
      return "publish";
    case WhipRequestKind::trickle:
      return "trickle";
    case WhipRequestKind::ice_restart:
      return "ice-restart";
    case WhipRequestKind::end:
      return "end";
  }
  return "?";
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

std::string HttpResponse::all(std::string_view name) const {
  std::string out;
  for (const auto& h : headers)
    if (iequals(h.name, name)) out += (out.empty() ? "" : ", ") + h.value;
  return out;
}

size_t HttpResponse::header_bytes() const {
  size_t n = 0;
  for (const auto& h : headers)
    n += h.name.size() + h.value.size() + 4;
  return n;
}

std::vector<IceServer> parse_ice_server_links(std::string_view header) {
  std::vector<IceServer> out;
  size_t pos = 0;
  while (pos < header.size() && out.size() < kMaxIceServers) {
    size_t open = header.find('<', pos);
    if (open == std::string_view::npos) break;
    size_t close = header.find('>', open);
    if (close == std::string_view::npos) break;
    IceServer server;
    server.url = std::string(header.substr(open + 1, close - open - 1));
    bool ice = false;
    pos = close + 1;
    // Parameters up to the next link (a ',' outside quotes).
    while (pos < header.size() && header[pos] != ',') {
      if (header[pos] == ';' || header[pos] == ' ' || header[pos] == '\t') {
        ++pos;
        continue;
      }
      size_t eq = pos;
      while (eq < header.size() && header[eq] != '=' && header[eq] != ';' && header[eq] != ',')
        ++eq;
      std::string_view key = trim(header.substr(pos, eq - pos));
      std::string value;
      pos = eq;
      if (pos < header.size() && header[pos] == '=') {
        ++pos;
        while (pos < header.size() && header[pos] == ' ')
          ++pos;
        value = read_param_value(header, pos);
      }
      if (iequals(key, "rel")) {
        // rel may list several relation types separated by spaces (RFC 8288 section 3.3).
        std::string_view rels(value);
        while (!rels.empty()) {
          size_t sp = rels.find(' ');
          if (iequals(rels.substr(0, sp), "ice-server")) ice = true;
          if (sp == std::string_view::npos) break;
          rels.remove_prefix(sp + 1);
        }
      } else if (iequals(key, "username")) {
        server.username = value;
      } else if (iequals(key, "credential")) {
        server.credential = value;
      }
    }
    if (pos < header.size()) ++pos;  // ','
    if (ice && !server.url.empty()) out.push_back(std::move(server));
  }
  return out;
}

WhipRequest publish_request(std::string_view endpoint, std::string_view token,
                            std::string_view offer_sdp) {
  WhipRequest r;
  r.kind = WhipRequestKind::publish;
  r.method = "POST";
  r.url = std::string(endpoint);
  r.headers = with_token({{"Content-Type", "application/sdp"}}, token);
  r.body = std::string(offer_sdp);
  return r;
}

WhipRequest trickle_request(const WhipSession& session, std::string_view token,
                            std::string_view fragment) {
  WhipRequest r;
  r.kind = WhipRequestKind::trickle;
  r.method = "PATCH";
  r.url = session.resource_url;
  std::vector<HttpHeader> headers = {{"Content-Type", "application/trickle-ice-sdpfrag"}};
  if (!session.etag.empty()) headers.push_back({"If-Match", session.etag});
  r.headers = with_token(std::move(headers), token);
  r.body = std::string(fragment);
  return r;
}

std::optional<WhipRequest> ice_restart_request(const WhipSession& session, std::string_view token,
                                               std::string_view offer_sdp) {
  auto fragment = ice_restart_fragment(offer_sdp);
  if (!fragment) return std::nullopt;
  WhipRequest r;
  r.kind = WhipRequestKind::ice_restart;
  r.method = "PATCH";
  r.url = session.resource_url;
  r.headers = with_token(
      {{"Content-Type", "application/trickle-ice-sdpfrag"}, {"If-Match", "\"*\""}}, token);
  r.body = std::move(*fragment);
  return r;
}

WhipRequest end_request(const WhipSession& session, std::string_view token) {
  WhipRequest r;
  r.kind = WhipRequestKind::end;
  r.method = "DELETE";
  r.url = session.resource_url;
  r.headers = with_token({}, token);
  return r;
}

std::optional<WhipError> response_error(const WhipRequest& request, const HttpResponse& response,
                                        const WhipLimits& limits) {
  std::string what = request.what();
  if (response.body.size() > limits.max_response_bytes)
    return WhipError{
        WhipErrorKind::too_large, 0,
        what + ": response larger than " + std::to_string(limits.max_response_bytes) + " bytes"};
  if (response.header_bytes() > limits.max_header_bytes)
    return WhipError{WhipErrorKind::too_large, 0,
                     what + ": response headers larger than " +
                         std::to_string(limits.max_header_bytes) + " bytes"};
  int status = response.status;
  if (status >= 200 && status < 300) return std::nullopt;
  WhipError e;
  e.status = status;
  e.kind = status == 401 || status == 403 ? WhipErrorKind::unauthorized
           : status == 404                ? WhipErrorKind::not_found
                                          : WhipErrorKind::http;
  e.message = what + ": HTTP " + std::to_string(status);
  if (const auto phrase = http::reason_phrase(status); !phrase.empty()) {
    e.message += " ";
    e.message += phrase;
  }
  // RFC 9457 problem details: the detail (or title) says why, on one line.
  std::string_view b = response.body;
  for (const char* key : {"\"detail\"", "\"title\""}) {
    size_t k = b.find(key);
    if (k == std::string_view::npos) continue;
    size_t colon = b.find(':', k);
    if (colon == std::string_view::npos) continue;
    size_t q1 = b.find('"', colon + 1);
    size_t q2 = q1 == std::string_view::npos ? q1 : b.find('"', q1 + 1);
    if (q2 != std::string_view::npos && q2 - q1 < 200) {
      e.message += ": " + printable_start(b.substr(q1 + 1, q2 - q1 - 1), 200);
      break;
    }
  }
  if (e.kind == WhipErrorKind::unauthorized) e.message += " (check the device token)";
  return e;
}

WhipResult<WhipSession> parse_publish_response(const WhipRequest& request,
                                               const HttpResponse& response,
                                               const WhipLimits& limits) {
  if (auto e = response_error(request, response, limits)) return *e;
  std::string what = request.what();
  if (response.status != 201)
    return WhipError{
        WhipErrorKind::http, response.status,
        what + ": HTTP " + std::to_string(response.status) + " where WHIP answers 201"};
  // RFC 9725 section 4.2: the answer is an SDP document.
  if (!response.body.starts_with("v=0"))
    return WhipError{
        WhipErrorKind::bad_response, 201,
        what + ": answer is not SDP (starts \"" + printable_start(response.body) + "\")"};
  std::string location = response.header("Location");
  if (location.empty())
    return WhipError{WhipErrorKind::bad_response, 201, what + ": 201 without a Location"};
  auto resource = resolve_url(request.url, location);
  if (!resource)
    return WhipError{WhipErrorKind::bad_response, 201,
                     what + ": Location \"" + printable_start(location, 100) + "\" is not a URL"};
  WhipSession s;
  s.resource_url = *resource;
  s.etag = response.header("ETag");
  s.answer = response.body;
  s.ice_servers = parse_ice_server_links(response.all("Link"));
  return s;
}

WhipResult<bool> parse_trickle_response(const WhipRequest& request, const HttpResponse& response,
                                        const WhipLimits& limits) {
  if (auto e = response_error(request, response, limits)) return *e;
  if (response.status != 204 && response.status != 200)
    return WhipError{
        WhipErrorKind::http, response.status,
        request.what() + ": HTTP " + std::to_string(response.status) + " to a trickle fragment"};
  return true;
}

WhipResult<std::string> parse_ice_restart_response(const WhipRequest& request,
                                                   const HttpResponse& response,
                                                   WhipSession& session, const WhipLimits& limits) {
  if (auto e = response_error(request, response, limits)) return *e;
  std::string what = request.what();
  if (response.status != 200)
    return WhipError{
        WhipErrorKind::http, response.status,
        what + ": HTTP " + std::to_string(response.status) + " where an ICE restart answers 200"};
  auto theirs = parse_ice_fragment(response.body);
  if (!theirs)
    return WhipError{WhipErrorKind::bad_response, 200,
                     what + ": answer fragment without ice-ufrag and ice-pwd"};
  if (std::string etag = response.header("ETag"); !etag.empty()) session.etag = etag;
  session.answer = apply_ice_fragment(session.answer, *theirs);
  return session.answer;
}

WhipResult<bool> parse_end_response(const WhipRequest& request, const HttpResponse& response,
                                    const WhipLimits& limits) {
  if (auto e = response_error(request, response, limits)) {
    if (e->kind == WhipErrorKind::not_found) return false;
    return *e;
  }
  return true;
}

}  // namespace cellrtc::whip
