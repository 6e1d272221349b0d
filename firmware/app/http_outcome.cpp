#include "firmware/app/http_outcome.h"

#include <utility>

namespace cellrtc::firmware {

namespace {

whip::WhipErrorKind kind_of(HttpFailure failure) {
  switch (failure) {
    case HttpFailure::dns:
      return whip::WhipErrorKind::dns;
    case HttpFailure::connect:
      return whip::WhipErrorKind::connect;
    case HttpFailure::tls:
      return whip::WhipErrorKind::tls;
    case HttpFailure::timeout:
      return whip::WhipErrorKind::timeout;
    case HttpFailure::cancelled:
      return whip::WhipErrorKind::cancelled;
    case HttpFailure::invalid:
      return whip::WhipErrorKind::invalid;
    case HttpFailure::none:
    case HttpFailure::network:
      break;
  }
  return whip::WhipErrorKind::network;
}

whip::WhipError error(const whip::WhipRequest& request, whip::WhipErrorKind kind, int status,
                      const std::string& detail) {
  whip::WhipError e;
  e.kind = kind;
  e.status = status;
  e.message = request.what() + ": " + whip::to_string(kind);
  if (!detail.empty()) e.message += ": " + detail;
  return e;
}

}  // namespace

void ResponseCollector::on_header(std::string_view name, std::string_view value) {
  // Counted as RFC 9112 section 5 lays a field out: "name: value\r\n".
  size_t bytes = name.size() + value.size() + 4;
  if (outcome_.headers_too_large || header_bytes_ + bytes > limits_.max_header_bytes) {
    outcome_.headers_too_large = true;
    return;
  }
  header_bytes_ += bytes;
  outcome_.response.headers.push_back({std::string(name), std::string(value)});
}

void ResponseCollector::on_body(std::string_view bytes) {
  std::string& body = outcome_.response.body;
  if (outcome_.body_too_large || bytes.size() > limits_.max_response_bytes - body.size()) {
    outcome_.body_too_large = true;
    return;
  }
  body.append(bytes);
}

HttpOutcome ResponseCollector::finish(int status) {
  outcome_.response.status = status;
  return std::move(outcome_);
}

HttpOutcome ResponseCollector::fail(HttpFailure failure, std::string detail) {
  outcome_.failure = failure;
  outcome_.detail = std::move(detail);
  return std::move(outcome_);
}

whip::WhipResult<whip::HttpResponse> to_whip_result(const whip::WhipRequest& request,
                                                    HttpOutcome outcome,
                                                    const whip::WhipLimits& limits) {
  if (outcome.failure != HttpFailure::none)
    return error(request, kind_of(outcome.failure), 0, outcome.detail);
  const int status = outcome.response.status;
  // RFC 9110 section 15: a status is three digits, 100 to 599.
  if (status < 100 || status > 599)
    return error(request, whip::WhipErrorKind::bad_response, 0,
                 status == 0 ? "no HTTP status" : "HTTP status " + std::to_string(status));
  if (outcome.headers_too_large || outcome.response.header_bytes() > limits.max_header_bytes)
    return error(request, whip::WhipErrorKind::too_large, status,
                 "header fields over " + std::to_string(limits.max_header_bytes) + " bytes");
  if (outcome.body_too_large || outcome.response.body.size() > limits.max_response_bytes)
    return error(request, whip::WhipErrorKind::too_large, status,
                 "body over " + std::to_string(limits.max_response_bytes) + " bytes");
  return std::move(outcome.response);
}

}  // namespace cellrtc::firmware
