#pragma once

// Decoding of a value from a URL query string, as browsers encode it (URLSearchParams,
// encodeURIComponent): the application/x-www-form-urlencoded rules of the WHATWG URL standard
// (section 5.1), where "+" stands for a space and "%XX" for the byte 0xXX (RFC 3986 section
// 2.1). Unlike the standard's lenient parser, a "%" not followed by two hexadecimal digits is an
// error, so a mangled token is refused with a reason instead of compared as something else.

#include <optional>
#include <string>
#include <string_view>

namespace cellrtc::server {

// The decoded value, or nullopt when `raw` has a malformed percent-escape.
std::optional<std::string> decode_form_value(std::string_view raw);

}  // namespace cellrtc::server
