// What can go wrong with a WHIP request (RFC 9725), as a value: the kind, the HTTP status when
// one came, and one line saying what failed ("POST http://h/whip: HTTP 503 Service
// Unavailable", "POST ...: answer is not SDP"). The transport's failures (DNS, connect, TLS,
// timeout) are reported by whoever performs the request; the response's by core/whip's parsers.
#pragma once

#include <cstdint>
#include <string>

#include "core/common/result.h"

namespace cellrtc::whip {

enum class WhipErrorKind : uint8_t {
  dns,           // the host name did not resolve
  connect,       // TCP connect failed (refused, unreachable)
  tls,           // handshake or certificate verification failed
  timeout,       // no complete answer in time
  network,       // the connection broke in another way
  unauthorized,  // 401 or 403: the token is wrong, never retried
  not_found,     // 404: no such endpoint or the session is gone
  http,          // another unexpected status (4xx, 5xx)
  bad_response,  // the body or headers are not what WHIP answers (not SDP, no Location)
  too_large,     // the response passed the size limits
  cancelled,     // the request was cancelled
  invalid,       // misconfigured (bad URL, unreadable CA file)
};
const char* to_string(WhipErrorKind kind);

struct WhipError {
  WhipErrorKind kind = WhipErrorKind::network;
  int status = 0;  // the HTTP status, when one came
  std::string message;
  // Whether waiting and trying again can succeed.
  bool retryable() const {
    return kind != WhipErrorKind::unauthorized && kind != WhipErrorKind::invalid &&
           kind != WhipErrorKind::cancelled;
  }
};

template <class T>
using WhipResult = Result<T, WhipError>;

}  // namespace cellrtc::whip
