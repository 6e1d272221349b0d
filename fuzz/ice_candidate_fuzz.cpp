// parse_candidate on arbitrary text (remote SDP and trickled candidates are untrusted). Beyond
// memory safety it checks the codec's contract: whatever parses formats to a canonical line
// that parses back to the same value and formats identically.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/ice/candidate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = cellrtc::ice::parse_candidate(line);
  if (!parsed.ok()) {
    if (parsed.error().reason == nullptr || parsed.error().reason[0] == '\0') std::abort();
    return 0;
  }
  std::string formatted = cellrtc::ice::format_candidate(*parsed);
  // Formatting adds the "candidate:" prefix, so a bare line at the length limit formats longer.
  if (formatted.size() > cellrtc::ice::kMaxCandidateLineLength) return 0;
  auto again = cellrtc::ice::parse_candidate(formatted);
  if (!again.ok()) std::abort();
  if (!(*again == *parsed)) std::abort();
  if (cellrtc::ice::format_candidate(*again) != formatted) std::abort();
  return 0;
}
