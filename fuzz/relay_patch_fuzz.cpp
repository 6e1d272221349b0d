// A WHIP/WHEP PATCH (RFC 9725 section 4.3) through Relay::handle_http with an arbitrary body
// and fuzzed If-Match / Content-Type: trickle, ICE restart and every refusal. Besides memory
// errors: the status is one docs/protocol.md lists for PATCH, and a 200 (ICE restart) carries a
// new ETag and a fragment with the relay's new credentials that parse_sdpfrag reads back.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "relay_fuzz_setup.h"
#include "server/sdpfrag.h"

using namespace cellrtc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  fuzz::RelayUnderTest r(data[0]);
  uint8_t flags = data[1];
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  // The body may hold several PATCHes separated by a NUL byte, sent one after the other (a
  // restart then trickle for the new generation, say).
  for (int i = 0; i < 4 && !body.empty(); ++i) {
    size_t end = body.find('\0');
    std::string_view part = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    auto& session = (flags & 1) ? r.viewer : r.device;
    server::HttpRequest req;
    req.method = "PATCH";
    req.target = session.location;
    req.client = "198.51.100.1";
    req.headers.push_back(
        {"Content-Type", (flags & 2) ? "application/sdp" : "application/trickle-ice-sdpfrag"});
    switch ((flags >> 2) & 3) {
      case 0:
        break;
      case 1:
        req.headers.push_back({"If-Match", "*"});
        break;
      case 2:
        req.headers.push_back({"If-Match", session.etag});
        break;
      case 3:
        req.headers.push_back({"If-Match", "\"not-the-etag\""});
        break;
    }
    req.body = std::string(part);
    server::HttpResponse resp = r.relay.handle_http(r.now, req);
    switch (resp.status) {
      case 204:
      case 400:
      case 409:
      case 412:
      case 413:
      case 415:
      case 428:
        break;
      case 200: {
        const std::string* etag = resp.header("ETag");
        if (!etag || *etag == session.etag) std::abort();
        auto frag = server::parse_sdpfrag(resp.body, server::SdpFragLimits{});
        if (!frag.ok() || !frag->ice_ufrag || !frag->ice_pwd) std::abort();
        if (*frag->ice_ufrag == session.local_ufrag) std::abort();
        session.etag = *etag;
        session.local_ufrag = *frag->ice_ufrag;
        session.local_pwd = *frag->ice_pwd;
        break;
      }
      default:
        std::abort();
    }
    r.drain();
    r.advance(milliseconds(100));
  }
  return 0;
}
