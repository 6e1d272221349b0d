// parse_sdp on arbitrary text (offers and answers come from browsers and devices over WHIP and
// WHEP). Beyond memory safety it checks the codec's contract: an error names a line that
// exists and a reason; whatever parses writes to a canonical text that parses back to the
// same value and writes identically; and an answer made for it is itself a valid description.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/sdp/negotiation.h"
#include "core/sdp/session_description.h"

namespace {

using namespace cellrtc;

size_t count_lines(std::string_view text) {
  size_t n = 1;
  for (char c : text)
    n += c == '\n' ? 1 : 0;
  return n;
}

void check_round_trip(const sdp::SessionDescription& d) {
  std::string written = sdp::write_sdp(d);
  auto again = sdp::parse_sdp(written);
  if (!again.ok()) {
    // The canonical form may be longer than the input (a candidate line written in full, a
    // fingerprint in upper case is not longer, but a port count dropped is shorter): only a
    // limit may stop it.
    if (again.error().code == Errc::limit_exceeded) return;
    std::abort();
  }
  if (!(*again == d)) std::abort();
  if (sdp::write_sdp(*again) != written) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = sdp::parse_sdp(text);
  if (!parsed.ok()) {
    const sdp::SdpError& e = parsed.error();
    if (e.reason == nullptr || e.reason[0] == '\0') std::abort();
    if (e.line > count_lines(text)) std::abort();
    return 0;
  }
  check_round_trip(*parsed);

  sdp::LocalParameters local;
  local.ice_ufrag = "fzUf";
  local.ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz";
  local.fingerprint = sdp::Fingerprint{"sha-256", Bytes(32, 0xAB)};
  local.session_id = 42;
  auto answer = sdp::make_answer(*parsed, local);
  if (answer.ok()) {
    if (answer->media.size() != parsed->media.size()) std::abort();
    auto reparsed = sdp::parse_sdp(sdp::write_sdp(*answer));
    if (!reparsed.ok()) std::abort();
    check_round_trip(*reparsed);
  }
  return 0;
}
