#pragma once

// An HTTP request and response as the server's logic sees them: plain values, no sockets, so
// WHIP/WHEP and the API can be tested without a network (the Beast front end converts).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cellrtc::server {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method;  // "POST", as sent
  std::string target;  // path and query, as sent: "/whep/demo?token=x"
  std::vector<HttpHeader> headers;
  std::string body;
  std::string client;  // the peer's IP address, for rate limits and logs

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', or empty
  // A query parameter's raw (not percent-decoded) value; empty when absent.
  std::string_view query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<HttpHeader> headers;
  std::string body;
  // Nonzero: no response yet. The relay answers later (a direct-mode WHEP offer waits for the
  // device's answer) through Relay::poll_deferred_response with this id; the rest is unused.
  uint64_t deferred = 0;

  void set_header(std::string name, std::string value);
  const std::string* header(std::string_view name) const;

  // RFC 9457 problem details: application/problem+json with type, title, status and detail.
  static HttpResponse problem(int status, std::string_view detail);
};

// Appends `s` as a JSON string literal: quotes, backslashes and control characters escaped
// (problem details and log lines may quote client input).
void append_json_string(std::string& out, std::string_view s);

// The reason phrase of a status code ("Created"), or "Unknown".
std::string_view status_reason(int status);

}  // namespace cellrtc::server
