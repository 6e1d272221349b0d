// Reason phrases of the HTTP status codes cellrtc sends or reads (RFC 9110 section 15), shared
// by the server's responses and the device's error messages.
#pragma once

#include <string_view>

namespace cellrtc::http {

// "Created" for 201; empty for a code this table does not know.
std::string_view reason_phrase(int status);

}  // namespace cellrtc::http
