#pragma once

// CORS (Fetch standard, "CORS protocol") for the WHIP/WHEP and API resources, so that a viewer
// page served from another origin can use them.

#include <string_view>
#include <vector>

#include "server/http_message.h"

namespace cellrtc::server {

// Access-Control-Allow-Origin (and Vary: Origin when it depends on the request) for an actual
// response: "*" when the list holds "*", the request's Origin when listed, nothing otherwise.
// Expose-Headers lets scripts read Location, ETag and Link (RFC 9725 section 4.2 needs them),
// and Cellrtc-Path, Cellrtc-Direct-Timeout (direct mode, docs/protocol.md).
void add_cors_headers(const std::vector<std::string>& allowed_origins, const HttpRequest& request,
                      HttpResponse& response);

// The answer to a preflight (OPTIONS): 204 with Allow-Origin, Allow-Methods `methods`,
// Allow-Headers (Authorization, Content-Type, If-Match) and Expose-Headers; no Link header.
HttpResponse cors_preflight(const std::vector<std::string>& allowed_origins,
                            const HttpRequest& request, std::string_view methods);

}  // namespace cellrtc::server
