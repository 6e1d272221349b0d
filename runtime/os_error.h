// Errors from the operating system as values. The core's Error carries only a static reason,
// which is right for the device; a runtime also wants the errno text ("bind: Address already in
// use") when it reports a failure, so it keeps the errno and formats it on demand.
#pragma once

#include <string>
#include <utility>
#include <variant>

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
class [[nodiscard]] OsResult {
 public:
  OsResult(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  OsResult(OsError e) : v_(e) {}               // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return *std::get_if<T>(&v_); }
  const T& value() const& { return *std::get_if<T>(&v_); }
  T&& value() && { return std::move(*std::get_if<T>(&v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return std::get_if<T>(&v_); }
  const T* operator->() const { return std::get_if<T>(&v_); }
  const OsError& error() const { return *std::get_if<OsError>(&v_); }

 private:
  std::variant<T, OsError> v_;
};

template <>
class [[nodiscard]] OsResult<void> {
 public:
  OsResult() = default;
  OsResult(OsError e) : err_(e), failed_(true) {}  // NOLINT: implicit by design
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const OsError& error() const { return err_; }

 private:
  OsError err_;
  bool failed_ = false;
};

using OsStatus = OsResult<void>;

}  // namespace cellrtc::runtime
