#include "core/whip/ice_fragment.h"

#include "core/whip/sdp_lines.h"

namespace cellrtc::whip {

std::optional<IceFragment> parse_ice_fragment(std::string_view sdp) {
  IceFragment f;
  for (std::string_view line : lines_of(sdp)) {
    if (line.starts_with("a=ice-ufrag:") && f.ufrag.empty())
      f.ufrag = std::string(line.substr(12));
    else if (line.starts_with("a=ice-pwd:") && f.pwd.empty())
      f.pwd = std::string(line.substr(10));
    else if (line.starts_with("a=candidate:") && f.candidates.size() < kMaxFragmentCandidates)
      f.candidates.emplace_back(line.substr(2));
  }
  if (f.ufrag.empty() || f.pwd.empty()) return std::nullopt;
  return f;
}

std::optional<std::string> ice_restart_fragment(std::string_view offer) {
  auto ice = parse_ice_fragment(offer);
  if (!ice) return std::nullopt;
  std::string m_line, mid, ice_options;
  for (std::string_view line : lines_of(offer)) {
    if (line.starts_with("m=") && m_line.empty()) m_line = std::string(line);
    if (line.starts_with("a=mid:") && mid.empty()) mid = std::string(line);
    if (line.starts_with("a=ice-options:") && ice_options.empty()) ice_options = std::string(line);
  }
  if (m_line.empty() || mid.empty()) return std::nullopt;
  // RFC 8840 section 4.4: session-level ice-options, then the m= line and its mid, then the
  // credentials and candidates.
  std::string out;
  if (!ice_options.empty()) out += ice_options + "\r\n";
  out += m_line + "\r\n" + mid + "\r\n";
  out += "a=ice-ufrag:" + ice->ufrag + "\r\n";
  out += "a=ice-pwd:" + ice->pwd + "\r\n";
  for (const auto& c : ice->candidates)
    out += "a=" + c + "\r\n";
  return out;
}

std::optional<std::string> trickle_fragment(std::string_view offer_sdp,
                                            const std::vector<std::string>& candidates) {
  if (!parse_ice_fragment(offer_sdp)) return std::nullopt;
  // The restart fragment's layout (m= line, mid, credentials, candidates) with our candidates.
  std::string sdp;
  for (std::string_view line : lines_of(offer_sdp))
    if (!line.starts_with("a=candidate:") && !line.starts_with("a=end-of-candidates"))
      sdp += std::string(line) + "\r\n";
  for (const auto& c : candidates)
    sdp += "a=" + c + "\r\n";
  return ice_restart_fragment(sdp);
}

std::string apply_ice_fragment(std::string_view answer, const IceFragment& f) {
  std::string out;
  bool candidates_written = false;
  bool replace_candidates = !f.candidates.empty();
  for (std::string_view line : lines_of(answer)) {
    if (line.empty()) continue;
    if (line.starts_with("a=ice-ufrag:")) {
      out += "a=ice-ufrag:" + f.ufrag + "\r\n";
    } else if (line.starts_with("a=ice-pwd:")) {
      out += "a=ice-pwd:" + f.pwd + "\r\n";
    } else if (line.starts_with("a=candidate:") && replace_candidates) {
      if (!candidates_written) {
        for (const auto& c : f.candidates)
          out += "a=" + c + "\r\n";
        candidates_written = true;
      }
    } else {
      out += std::string(line) + "\r\n";
    }
  }
  if (replace_candidates && !candidates_written)
    for (const auto& c : f.candidates)
      out += "a=" + c + "\r\n";
  return out;
}

}  // namespace cellrtc::whip
