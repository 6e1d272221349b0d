#pragma once

// The client behind a reverse proxy. X-Forwarded-For is a list each proxy appends its peer's
// address to; only the entries added by proxies we trust can be believed, so the list is read
// from the right, past trusted proxies, to the first address that is not one (anything to its
// left the client could have written itself).

#include <string>
#include <string_view>
#include <vector>

namespace cellrtc::server {

// `peer` is the TCP peer's address; `forwarded_for` the X-Forwarded-For value (nullptr when
// absent). Returns `peer` unless it is a trusted proxy and the header names someone else.
std::string forwarded_client(const std::string& peer, const std::string* forwarded_for,
                             const std::vector<std::string>& trusted_proxies);

}  // namespace cellrtc::server
