#include "core/whip/whip_error.h"

namespace cellrtc::whip {

const char* to_string(WhipErrorKind kind) {
  switch (kind) {
    case WhipErrorKind::dns:
      return "DNS lookup failed";
    case WhipErrorKind::connect:
      return "cannot connect";
    case WhipErrorKind::tls:
      return "TLS failed";
    case WhipErrorKind::timeout:
      return "timed out";
    case WhipErrorKind::network:
      return "network error";
    case WhipErrorKind::unauthorized:
      return "not authorized";
    case WhipErrorKind::not_found:
      return "not found";
    case WhipErrorKind::http:
      return "HTTP error";
    case WhipErrorKind::bad_response:
      return "bad response";
    case WhipErrorKind::too_large:
      return "response too large";
    case WhipErrorKind::cancelled:
      return "cancelled";
    case WhipErrorKind::invalid:
      return "invalid configuration";
  }
  return "?";
}

}  // namespace cellrtc::whip
