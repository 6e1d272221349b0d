#include "runtime/os_error.h"

#include <cerrno>
#include <cstring>

namespace cellrtc::runtime {

OsError OsError::from_errno(const char* operation) {
  return OsError{operation, errno};
}

OsError OsError::invalid_argument(const char* operation) {
  return OsError{operation, EINVAL};
}

bool OsError::would_block() const {
  return code == EAGAIN || code == EWOULDBLOCK;
}

std::string OsError::message() const {
  // strerror_r in its GNU form may return a static string instead of filling the buffer.
  char buf[128];
  const char* text = strerror_r(code, buf, sizeof buf);
  std::string out = operation;
  out += ": ";
  out += text;
  return out;
}

Error OsError::to_error() const {
  switch (code) {
    case EINVAL:
    case EAFNOSUPPORT:
    case EADDRNOTAVAIL:
    case EBADF:
      return {Errc::invalid_argument, operation};
    case ETIMEDOUT:
      return {Errc::timeout, operation};
    case ENOENT:
    case ENODEV:
      return {Errc::not_found, operation};
    case EMSGSIZE:
    case ENOBUFS:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return {Errc::limit_exceeded, operation};
    default:
      return {Errc::invalid_state, operation};
  }
}

}  // namespace cellrtc::runtime
