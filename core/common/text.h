// Small text helpers for protocol fields: ASCII case-insensitive comparison and trimming of
// blanks. ASCII only on purpose: HTTP field names (RFC 9110 section 5.1), AT commands and
// result codes (ITU-T V.250 section 5.1) are case-insensitive in ASCII, whatever the locale.
// Header-only and constexpr; no allocation, no exceptions, no locale, so the embedded build
// can use them.
#pragma once

#include <cstddef>
#include <string_view>

namespace cellrtc::text {

// Optional white space: space and horizontal tab (RFC 9110 section 5.6.3 OWS).
inline constexpr std::string_view kBlanks = " \t";

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Equal ignoring ASCII case; other bytes must match exactly.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// `s` starts with `prefix`, ignoring ASCII case.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// `s` without the leading (trim_left), trailing (trim_right) or both characters in `chars`.
constexpr std::string_view trim_left(std::string_view s, std::string_view chars = kBlanks) {
  const size_t first = s.find_first_not_of(chars);
  return s.substr(first == std::string_view::npos ? s.size() : first);
}

constexpr std::string_view trim_right(std::string_view s, std::string_view chars = kBlanks) {
  const size_t last = s.find_last_not_of(chars);
  return s.substr(0, last == std::string_view::npos ? 0 : last + 1);
}

constexpr std::string_view trim(std::string_view s, std::string_view chars = kBlanks) {
  return trim_right(trim_left(s, chars), chars);
}

}  // namespace cellrtc::text
