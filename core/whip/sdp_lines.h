// Splitting SDP text into lines, CRLF or LF (RFC 8866 section 5 asks for CRLF; LF is
// accepted, as RFC 8866 section 5 recommends).
#pragma once

#include <string_view>
#include <vector>

namespace cellrtc::whip {

inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace cellrtc::whip
