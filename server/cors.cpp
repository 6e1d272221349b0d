#include "server/cors.h"

#include <algorithm>

namespace cellrtc::server {

void add_cors_headers(const std::vector<std::string>& allowed_origins, const HttpRequest& request,
                      HttpResponse& response) {
  if (std::find(allowed_origins.begin(), allowed_origins.end(), "*") != allowed_origins.end()) {
    response.set_header("Access-Control-Allow-Origin", "*");
  } else {
    response.set_header("Vary", "Origin");
    const std::string* origin = request.header("Origin");
    if (!origin ||
        std::find(allowed_origins.begin(), allowed_origins.end(), *origin) == allowed_origins.end())
      return;
    response.set_header("Access-Control-Allow-Origin", *origin);
    // A listed origin may send the viewer-token cookie (cellrtc_viewer) along.
    response.set_header("Access-Control-Allow-Credentials", "true");
  }
  response.set_header("Access-Control-Expose-Headers",
                      "Location, ETag, Link, Cellrtc-Path, Cellrtc-Direct-Timeout");
}

HttpResponse cors_preflight(const std::vector<std::string>& allowed_origins,
                            const HttpRequest& request, std::string_view methods) {
  HttpResponse r;
  r.status = 204;
  r.set_header("Allow", std::string(methods));
  add_cors_headers(allowed_origins, request, r);
  r.set_header("Access-Control-Allow-Methods", std::string(methods));
  r.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match");
  r.set_header("Access-Control-Max-Age", "600");
  return r;
}

}  // namespace cellrtc::server
