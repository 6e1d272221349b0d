// Errors from the operating system as values. The core's Error carries only a static reason,
// which is right for the device; a runtime also wants the errno text ("bind: Address already in
// use") when it reports a failure, so it keeps the errno and formats it on demand.
#pragma once

#include <string>

#include "core/common/result.h"

namespace cellrtc::runtime {

struct OsError {
  const char* operation = "";  // the failing call, a string literal ("bind", "epoll_ctl")
  int code = 0;                // errno; 0 when the failure did not come from the OS

  // Captures errno right after a failed call.
  static OsError from_errno(const char* operation);
  // A failure the runtime found itself (an unusable argument), mapped to an errno value so
  // callers handle one kind of error.
  static OsError invalid_argument(const char* operation);

  bool would_block() const;
  // "bind: Address already in use"
  std::string message() const;
  // The nearest core error, for code that only speaks core errors.
  Error to_error() const;
};

template <class T>
using OsResult = Result<T, OsError>;
using OsStatus = OsResult<void>;

}  // namespace cellrtc::runtime
