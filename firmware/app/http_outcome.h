// What an HTTP client made of one of the publisher's requests, collected while it runs and
// turned into the publisher's answer (core/streamer/publisher.h handle_response). The device's
// glue feeds esp_http_client's header and data events into a ResponseCollector on its HTTP
// task and hands the finished outcome back to the app loop; everything here is portable, so
// the mapping (error kinds, size limits, repeated headers) is tested on the host.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/whip/whip_messages.h"

namespace cellrtc::firmware {

// Why a request produced no HTTP response, as the client saw it.
enum class HttpFailure : uint8_t {
  none,       // a status line came
  dns,        // the host name did not resolve
  connect,    // TCP connect refused or unreachable
  tls,        // handshake or certificate verification failed
  timeout,    // no complete answer in time
  network,    // the connection broke in another way
  cancelled,  // the app gave the request up (network down)
  invalid,    // the client could not be set up for it (bad URL, no memory)
};

struct HttpOutcome {
  HttpFailure failure = HttpFailure::none;
  std::string detail;  // the client's own words for a failure ("ESP_ERR_HTTP_CONNECT")
  whip::HttpResponse response;
  // The response passed the limits: the rest was not kept.
  bool headers_too_large = false;
  bool body_too_large = false;
};

// Gathers one response under WhipLimits: header fields in order (a name may repeat, Link does),
// body bytes as they come. Nothing past the limits is stored, so a hostile or broken server
// cannot make the device allocate more than max_header_bytes + max_response_bytes.
class ResponseCollector {
 public:
  explicit ResponseCollector(whip::WhipLimits limits = {}) : limits_(limits) {}

  void on_header(std::string_view name, std::string_view value);
  void on_body(std::string_view bytes);
  // The client is done: the status it read (0 when none), or why it failed.
  HttpOutcome finish(int status);
  HttpOutcome fail(HttpFailure failure, std::string detail);

 private:
  whip::WhipLimits limits_;
  HttpOutcome outcome_;
  size_t header_bytes_ = 0;
};

// The publisher's answer for `request`: the response when a status came and fits the limits,
// else a WhipError of the matching kind whose message starts with request.what() ("POST
// https://h/whip: DNS lookup failed: ..."). Statuses themselves (401, 404, 503) are left to
// core/whip's parsers, which the publisher runs on the response.
whip::WhipResult<whip::HttpResponse> to_whip_result(const whip::WhipRequest& request,
                                                    HttpOutcome outcome,
                                                    const whip::WhipLimits& limits = {});

}  // namespace cellrtc::firmware
