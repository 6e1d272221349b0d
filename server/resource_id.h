#pragma once

// Identifiers the server hands out over HTTP: WHIP/WHEP resource ids (RFC 9725 section 4.2: the
// Location of a session must not be guessable) and ETags of ICE sessions (section 4.3).

#include <string>
#include <string_view>

#include "core/common/random.h"

namespace cellrtc::server {

// 128 bits from `rng` (a secure source), as 32 lower-case hex digits.
std::string make_resource_id(Random& rng);

// A strong entity tag (RFC 9110 section 8.8.3): 64 random bits in quotes, "\"0123abcd...\"".
std::string make_etag(Random& rng);

// Whether `s` has the form make_resource_id returns (for paths: nothing else is looked up).
bool is_resource_id(std::string_view s);

}  // namespace cellrtc::server
