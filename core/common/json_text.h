// JSON string literals (RFC 8259 section 7) for the places that write JSON by hand: log lines,
// problem details, control messages. Quotes, backslashes and control characters are escaped;
// other bytes pass as they are (UTF-8 stays UTF-8). Header-only, no allocation beyond the
// output string, no exceptions, so the embedded build can use it.
#pragma once

#include <string>
#include <string_view>

namespace cellrtc::json {

// Appends `s` to `out` as a JSON string literal, with its quotes.
inline void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// `s` as a JSON string literal, with its quotes.
inline std::string string_literal(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_string(out, s);
  return out;
}

}  // namespace cellrtc::json
