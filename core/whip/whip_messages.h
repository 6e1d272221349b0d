// WHIP (RFC 9725) requests and responses as values, for a client that performs them however it
// can (libcurl on Linux, esp_http_client on the ESP32): build the POST of an offer, the PATCH of
// a trickle fragment or an ICE restart, the DELETE that ends a session; classify and read what
// came back. No I/O here.
//
//   WhipRequest post = publish_request(endpoint, token, offer_sdp);
//   ... perform it: method, url, headers and body; timeout bounds the whole request ...
//   HttpResponse r{201, {{"Location", "/whip/7"}, {"ETag", "\"1\""}}, answer_sdp};
//   WhipResult<WhipSession> s = parse_publish_response(post, r);   // or a WhipError
//   WhipRequest patch = ice_restart_request(*s, token, new_offer);
//   WhipResult<std::string> answer = parse_ice_restart_response(patch, r2, *s);
//   WhipRequest del = end_request(*s, token);
//
// Every error is one line that starts with the request ("POST http://h/whip: HTTP 503 Service
// Unavailable: <problem detail>"); 401/403 are `unauthorized` (never retried), 404
// `not_found`, other statuses outside 2xx `http`; an answer that is not SDP, a 201 without a
// Location or one that is not a URL, a restart answer without credentials are `bad_response`;
// bodies and headers above WhipLimits are `too_large`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/time.h"
#include "core/whip/ice_fragment.h"
#include "core/whip/whip_error.h"

namespace cellrtc::whip {

struct HttpHeader {
  std::string name;
  std::string value;
  bool operator==(const HttpHeader&) const = default;
};

// Limits on what a server may send back (an SDP answer is a few KB).
struct WhipLimits {
  size_t max_response_bytes = 64 * 1024;
  size_t max_header_bytes = 16 * 1024;
};
// Link headers read at most, ICE servers kept at most.
constexpr size_t kMaxIceServers = 16;

enum class WhipRequestKind : uint8_t { publish, trickle, ice_restart, end };
const char* to_string(WhipRequestKind kind);

struct WhipRequest {
  WhipRequestKind kind = WhipRequestKind::publish;
  std::string method;  // "POST", "PATCH", "DELETE"
  std::string url;
  std::vector<HttpHeader> headers;  // Content-Type, If-Match, Authorization as needed
  std::string body;
  // How long the whole request may take (connect included); zero: the performer's default.
  Duration timeout{0};

  // "POST http://host/whip": how errors about this request begin.
  std::string what() const { return method + " " + url; }
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // in order; a name may repeat (Link)
  std::string body;

  // The first header of that name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
  // Every header of that name joined with ", " (RFC 9110 section 5.3).
  std::string all(std::string_view name) const;
  // Bytes of the header fields as received ("name: value\r\n" each).
  size_t header_bytes() const;
};

// A TURN or STUN server the server offered in a Link header (RFC 9725 section 4.6).
struct IceServer {
  std::string url;  // turn:host:port?transport=udp, stun:...
  std::string username;
  std::string credential;
  bool operator==(const IceServer&) const = default;
};

// Link header values with rel="ice-server" (RFC 8288 section 3), in order, at most
// kMaxIceServers; other links are skipped. The URLs are kept as sent; turn::
// parse_ice_server_uri() checks them when relays are planned.
std::vector<IceServer> parse_ice_server_links(std::string_view link_header);

struct WhipSession {
  std::string resource_url;  // Location, resolved against the endpoint
  std::string etag;
  std::string answer;  // the server's SDP answer
  std::vector<IceServer> ice_servers;
};

// Requests. `token` goes as Authorization: Bearer (RFC 9725 section 4.5); empty sends none.
WhipRequest publish_request(std::string_view endpoint, std::string_view token,
                            std::string_view offer_sdp);
// RFC 9725 section 4.3.1: a trickle fragment, with the session's ETag as If-Match when known.
WhipRequest trickle_request(const WhipSession& session, std::string_view token,
                            std::string_view fragment);
// RFC 9725 section 4.3.2: an ICE restart carries If-Match: "*" and the fragment of our new
// offer; nullopt when the offer has no ICE credentials.
std::optional<WhipRequest> ice_restart_request(const WhipSession& session, std::string_view token,
                                               std::string_view offer_sdp);
WhipRequest end_request(const WhipSession& session, std::string_view token);

// A response's status as an error, or nullopt for a 2xx: 401/403 unauthorized ("... (check the
// device token)"), 404 not_found, the rest http; RFC 9457 problem details (detail or title)
// appended. Also too_large when the response passes `limits`.
std::optional<WhipError> response_error(const WhipRequest& request, const HttpResponse& response,
                                        const WhipLimits& limits = {});

// 201 with an SDP answer and a Location (RFC 9725 section 4.2).
WhipResult<WhipSession> parse_publish_response(const WhipRequest& request,
                                               const HttpResponse& response,
                                               const WhipLimits& limits = {});
// 204 or 200.
WhipResult<bool> parse_trickle_response(const WhipRequest& request, const HttpResponse& response,
                                        const WhipLimits& limits = {});
// 200 with the server's fragment: applied to session.answer (returned), the ETag kept.
WhipResult<std::string> parse_ice_restart_response(const WhipRequest& request,
                                                   const HttpResponse& response,
                                                   WhipSession& session,
                                                   const WhipLimits& limits = {});
// A 2xx ends the session (true); a 404 means it was gone already (false).
WhipResult<bool> parse_end_response(const WhipRequest& request, const HttpResponse& response,
                                    const WhipLimits& limits = {});

}  // namespace cellrtc::whip
