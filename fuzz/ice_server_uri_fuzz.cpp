// ICE server URIs (RFC 7064, RFC 7065) come from the signaling server's Link headers and from
// device configuration: any text must give a value or an error, and a parsed URI printed again
// must parse to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/turn/ice_server_uri.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::turn;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto uri = parse_ice_server_uri(text);
  if (!uri.ok()) {
    check(uri.error().reason != nullptr);
    return 0;
  }
  check(!uri->host.empty());
  check(uri->port != 0);
  check(uri->host.size() <= cellrtc::turn::kMaxIceServerUriLength);
  const std::string again = uri->to_string();
  auto reparsed = parse_ice_server_uri(again);
  check(reparsed.ok());
  check(reparsed->scheme == uri->scheme);
  check(reparsed->host == uri->host);
  check(reparsed->ip == uri->ip);
  check(reparsed->port == uri->port);
  check(reparsed->transport == uri->transport);
  check(reparsed->to_string() == again);
  return 0;
}
