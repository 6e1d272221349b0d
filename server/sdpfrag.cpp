#include "server/sdpfrag.h"

namespace cellrtc::server {
namespace {

// RFC 8839 section 5.4: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4..256, pwd 22..256.
bool is_ice_chars(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::string line_error(size_t line, const char* what) {
  return "line " + std::to_string(line) + ": " + what;
}

}  // namespace

Result<SdpFrag, std::string> parse_sdpfrag(std::string_view text, const SdpFragLimits& limits) {
  if (text.size() > limits.max_size) return std::string("fragment too large");
  SdpFrag frag;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (++line_no > limits.max_lines) return std::string("too many lines");
    if (line.empty()) continue;
    if (line.size() > limits.max_line_length) return line_error(line_no, "line too long");
    if (line.size() < 2 || line[1] != '=') return line_error(line_no, "not <type>=<value>");
    char type = line[0];
    std::string_view value = line.substr(2);
    if (type == 'm') {
      if (frag.mids.size() >= limits.max_media_sections)
        return line_error(line_no, "too many m= sections");
      frag.mids.emplace_back();
      continue;
    }
    if (type != 'a') continue;  // RFC 8840 section 9 allows no others; they carry nothing here
    std::string_view name = value.substr(0, value.find(':'));
    std::string_view arg = name.size() < value.size() ? value.substr(name.size() + 1) : "";
    if (name == "ice-ufrag") {
      if (!is_ice_chars(arg, 4, 256)) return line_error(line_no, "bad ice-ufrag");
      if (frag.ice_ufrag && *frag.ice_ufrag != arg)
        return line_error(line_no, "two different ice-ufrag values");
      frag.ice_ufrag = std::string(arg);
    } else if (name == "ice-pwd") {
      if (!is_ice_chars(arg, 22, 256)) return line_error(line_no, "bad ice-pwd");
      if (frag.ice_pwd && *frag.ice_pwd != arg)
        return line_error(line_no, "two different ice-pwd values");
      frag.ice_pwd = std::string(arg);
    } else if (name == "mid") {
      if (frag.mids.empty()) return line_error(line_no, "a=mid before any m= line");
      if (arg.empty() || arg.size() > 32) return line_error(line_no, "bad mid");
      frag.mids.back() = std::string(arg);
    } else if (name == "candidate") {
      if (frag.candidates.size() >= limits.max_candidates)
        return line_error(line_no, "too many candidates");
      auto c = ice::parse_candidate(value);
      if (!c) return line_error(line_no, "bad candidate");
      frag.candidates.push_back(std::move(*c));
    } else if (name == "end-of-candidates") {
      frag.end_of_candidates = true;
    }
  }
  if (frag.ice_pwd && !frag.ice_ufrag) return std::string("a=ice-pwd without a=ice-ufrag");
  return frag;
}

std::string write_sdpfrag(std::string_view ufrag, std::string_view pwd, std::string_view mid,
                          const std::vector<ice::Candidate>& candidates) {
  std::string out;
  out += "a=ice-ufrag:" + std::string(ufrag) + "\r\n";
  out += "a=ice-pwd:" + std::string(pwd) + "\r\n";
  out += "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  if (!mid.empty()) out += "a=mid:" + std::string(mid) + "\r\n";
  for (const auto& c : candidates)
    out += "a=" + ice::format_candidate(c) + "\r\n";
  out += "a=end-of-candidates\r\n";
  return out;
}

}  // namespace cellrtc::server
