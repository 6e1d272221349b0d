// Errors as values at the core's API: no exception crosses it (the embedded build has none).
#pragma once

#include <cstdint>
#include <utility>
#include <variant>

namespace cellrtc {

enum class Errc : uint8_t {
  truncated,         // input ended before a field it announces
  malformed,         // input violates the format
  limit_exceeded,    // a size or count over a configured limit
  unsupported,       // well formed, but something we do not implement
  integrity,         // MESSAGE-INTEGRITY / FINGERPRINT / MAC check failed
  invalid_argument,  // the caller passed something unusable
  invalid_state,     // the call is not allowed in the object's current state
  not_found,
  timeout,
  crypto,  // the crypto library reported a failure
};

const char* to_string(Errc code);

// An error code plus a static, human-readable reason ("STUN attribute runs past the end").
// The reason is a string literal so errors cost no allocation on the device.
struct Error {
  Errc code;
  const char* reason;
};

// A value or an error. E is the core's Error by default; a runtime may carry a richer error
// (runtime::OsError keeps the errno) through the same type.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(E e) : v_(std::move(e)) {}          // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return *std::get_if<T>(&v_); }
  const T& value() const& { return *std::get_if<T>(&v_); }
  T&& value() && { return std::move(*std::get_if<T>(&v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return std::get_if<T>(&v_); }
  const T* operator->() const { return std::get_if<T>(&v_); }
  const E& error() const { return *std::get_if<E>(&v_); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E e) : err_(std::move(e)), failed_(true) {}  // NOLINT: implicit by design
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const E& error() const { return err_; }

 private:
  E err_{};
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace cellrtc
