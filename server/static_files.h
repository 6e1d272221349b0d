#pragma once

// The viewer page's files: "/" is index.html, "/web/<path>" a file under the web root. Nothing
// outside the root is reachable: no "..", no hidden files, no symbolic link that leads out.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_message.h"

namespace cellrtc::server {

// Whether the path belongs to the static files ("/", "/web", "/web/...").
bool is_static_path(std::string_view path);

// The file a request path names, relative to the root ("index.html", "js/app.js"), after
// percent-decoding (RFC 3986 section 2.1); nullopt when the path is not a static path or tries
// to leave the root (a ".." or "." segment, an empty segment, a hidden name, NUL, backslash).
std::optional<std::string> static_relative_path(std::string_view path);

// The Content-Type for a file name by its extension; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view file_name);

// GET or HEAD of a static path: 200 with the file, 404 problem when there is none, 405 for
// other methods. Files larger than `max_bytes` are refused (500 problem).
HttpResponse serve_static_file(const std::string& web_root, std::string_view method,
                               std::string_view path, size_t max_bytes = 16 << 20);

}  // namespace cellrtc::server
