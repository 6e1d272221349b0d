// WHIP responses (RFC 9725) come from the server, or from whatever answers on its address: any
// status, headers and body must give a session, an answer or a one-line error, within the
// limits. Input: the status in the first two bytes, then "name: value" header lines up to an
// empty line, then the body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/whip/whip_messages.h"
#include "core/whip/whip_url.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_error(const cellrtc::whip::WhipError& e, const cellrtc::whip::WhipRequest& request) {
  check(e.message.starts_with(request.what()));
  check(e.message.find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::whip;
  if (size < 2) return 0;
  HttpResponse r;
  r.status = 100 + (data[0] << 8 | data[1]) % 500;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    r.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  r.body = std::string(rest);
  const WhipLimits limits{4096, 1024};

  WhipRequest post = publish_request("http://server.test:8080/api/whip", "t", "v=0\r\n");
  auto session = parse_publish_response(post, r, limits);
  if (!session) {
    check_error(session.error(), post);
    WhipSession s;
    s.resource_url = "http://server.test:8080/api/whip/1";
    s.answer = "v=0\r\na=ice-ufrag:ab\r\na=ice-pwd:cdefghijklmnopqrstuvwxyz\r\n";
    session = s;
  } else {
    check(session->resource_url.starts_with("http://") ||
          session->resource_url.starts_with("https://"));
    check(session->resource_url.size() <= kMaxUrlLength);
    check(session->answer.size() <= limits.max_response_bytes);
    check(session->ice_servers.size() <= kMaxIceServers);
    // The resolved Location resolves to itself.
    check(resolve_url(session->resource_url, session->resource_url) == session->resource_url);
  }
  WhipRequest trickle = trickle_request(*session, "t", "a=candidate:1 1 udp 1 1.2.3.4 5 typ host");
  if (auto t = parse_trickle_response(trickle, r, limits); !t) check_error(t.error(), trickle);
  auto restart =
      ice_restart_request(*session, "t",
                          "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                          "a=mid:0\r\na=ice-ufrag:xy\r\na=ice-pwd:0123456789012345678901\r\n");
  check(restart.has_value());
  auto answer = parse_ice_restart_response(*restart, r, *session, limits);
  if (!answer)
    check_error(answer.error(), *restart);
  else
    check(parse_ice_fragment(*answer).has_value());
  WhipRequest end = end_request(*session, "t");
  if (auto e = parse_end_response(end, r, limits); !e) check_error(e.error(), end);
  return 0;
}
