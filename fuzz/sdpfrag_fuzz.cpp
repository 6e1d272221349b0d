// parse_sdpfrag on arbitrary text (WHIP/WHEP PATCH bodies come from any client). Beyond memory
// safety: a parsed fragment stays within the limits, and what write_sdpfrag makes of its
// credentials and candidates parses back to the same values.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/sdpfrag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  SdpFragLimits limits;
  auto frag = parse_sdpfrag(text, limits);
  if (!frag.ok()) {
    if (frag.error().empty()) std::abort();
    return 0;
  }
  if (frag->candidates.size() > limits.max_candidates) std::abort();
  if (frag->mids.size() > limits.max_media_sections) std::abort();
  if (frag->ice_pwd && !frag->ice_ufrag) std::abort();
  if (!frag->ice_ufrag || !frag->ice_pwd) return 0;
  std::string mid = frag->mids.empty() ? "0" : frag->mids.front();
  if (mid.empty()) mid = "0";
  auto again = parse_sdpfrag(write_sdpfrag(*frag->ice_ufrag, *frag->ice_pwd, mid, frag->candidates),
                             SdpFragLimits{.max_size = 1 << 20, .max_lines = 1 << 12});
  if (!again.ok()) std::abort();
  if (again->ice_ufrag != frag->ice_ufrag || again->ice_pwd != frag->ice_pwd) std::abort();
  if (again->candidates != frag->candidates) std::abort();
  if (again->mids.size() != 1 || again->mids[0] != mid || !again->end_of_candidates) std::abort();
  return 0;
}
