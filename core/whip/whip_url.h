// URLs a WHIP client handles: the endpoint a --server value names, a Location resolved against
// the endpoint (RFC 3986 section 5), the host part. Only http and https URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cellrtc::whip {

// Longest URL accepted from a response (a Location).
constexpr size_t kMaxUrlLength = 2048;

// The endpoint a --server value names: a URL without a path (http://host:8080 or .../) gets
// "/whip" appended; any other path is used as given.
std::string whip_endpoint(std::string_view server);

// `reference` (a Location header's value) resolved against `base` (RFC 3986 section 5.2):
// absolute, network-path (//host/...), absolute-path, query-only or relative-path references,
// dot segments removed (section 5.2.4), the fragment dropped. nullopt when the result is not
// an http or https URL, or either is too long or holds spaces or control characters.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference);

// The host of a URL, without brackets: "127.0.0.1", "::1", "example.com".
std::string url_host(std::string_view url);

}  // namespace cellrtc::whip
