// Character classes and small field readers shared by the SDP parser and writer (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cellrtc::sdp {

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// RFC 8839 section 5.1: ice-char = ALPHA / DIGIT / "+" / "/".
inline bool is_ice_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '/';
}
// RFC 8866 section 9: token-char = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" /
// "+" / "-" / "." / "^" / "_" / "`" / "{" / "|" / "}" / "~".
inline bool is_token_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}
inline bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// 1..max_digits decimal digits whose value fits 64 bits.
inline std::optional<uint64_t> parse_decimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Exactly `n` non-empty fields separated by single spaces.
inline bool split_fields(std::string_view s, std::string_view* fields, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    size_t sp = i + 1 == n ? std::string_view::npos : s.find(' ');
    if (i + 1 != n && sp == std::string_view::npos) return false;
    fields[i] = s.substr(0, sp);
    if (fields[i].empty()) return false;
    if (i + 1 != n) s = s.substr(sp + 1);
  }
  return fields[n - 1].find(' ') == std::string_view::npos;
}

}  // namespace cellrtc::sdp
