#include "core/common/result.h"

namespace cellrtc {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::truncated:
      return "truncated";
    case Errc::malformed:
      return "malformed";
    case Errc::limit_exceeded:
      return "limit exceeded";
    case Errc::unsupported:
      return "unsupported";
    case Errc::integrity:
      return "integrity check failed";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::invalid_state:
      return "invalid state";
    case Errc::not_found:
      return "not found";
    case Errc::timeout:
      return "timeout";
    case Errc::crypto:
      return "crypto failure";
  }
  return "unknown";
}

}  // namespace cellrtc
