#include "server/static_files.h"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace cellrtc::server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

bool is_static_path(std::string_view path) {
  return path == "/" || path == "/web" || path.rfind("/web/", 0) == 0;
}

std::optional<std::string> static_relative_path(std::string_view path) {
  if (path == "/" || path == "/web" || path == "/web/") return "index.html";
  if (path.rfind("/web/", 0) != 0) return std::nullopt;
  auto decoded = percent_decode(path.substr(5));
  if (!decoded) return std::nullopt;
  std::string_view rest = *decoded;
  if (rest.find('\0') != std::string_view::npos || rest.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  // Every segment a plain name: nothing that climbs ("..", "."), nothing hidden (".git").
  std::string_view scan = rest;
  while (true) {
    auto slash = scan.find('/');
    auto segment = scan.substr(0, slash);
    if (segment.empty() || segment.front() == '.') return std::nullopt;
    if (slash == std::string_view::npos) break;
    scan.remove_prefix(slash + 1);
  }
  return std::string(rest);
}

std::string_view content_type_for(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto ext = file_name.substr(dot + 1);
  struct Entry {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"ico", "image/x-icon"},
      {"json", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"wasm", "application/wasm"},
  };
  for (const auto& e : kTypes) {
    if (e.ext == ext) return e.type;
  }
  return "application/octet-stream";
}

HttpResponse serve_static_file(const std::string& web_root, std::string_view method,
                               std::string_view path, size_t max_bytes) {
  if (method != "GET" && method != "HEAD") {
    auto r = HttpResponse::problem(405, "the viewer page's files take GET and HEAD only");
    r.set_header("Allow", "GET, HEAD");
    return r;
  }
  auto relative = static_relative_path(path);
  if (!relative) return HttpResponse::problem(404, "no such file");

  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::canonical(web_root, ec);
  if (ec) return HttpResponse::problem(404, "no such file");
  fs::path file = fs::canonical(root / *relative, ec);
  if (ec) return HttpResponse::problem(404, "no such file");
  // A symbolic link inside the root may not lead out of it.
  auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end() || !fs::is_regular_file(file, ec)) {
    return HttpResponse::problem(404, "no such file");
  }
  auto size = fs::file_size(file, ec);
  if (ec || size > max_bytes) return HttpResponse::problem(500, "file too large to serve");

  HttpResponse r;
  r.status = 200;
  r.set_header("Content-Type", std::string(content_type_for(file.filename().string())));
  r.set_header("Cache-Control", "no-cache");
  r.set_header("X-Content-Type-Options", "nosniff");
  std::ifstream in(file, std::ios::binary);
  r.body.resize(size);
  if (!in.read(r.body.data(), static_cast<std::streamsize>(size))) {
    return HttpResponse::problem(500, "cannot read the file");
  }
  return r;
}

}  // namespace cellrtc::server
