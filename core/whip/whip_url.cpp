#include "core/whip/whip_url.h"

#include "core/common/text.h"

namespace cellrtc::whip {

namespace {

// RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'.
size_t scheme_length(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == ':') return i;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.';
    if (!ok) return 0;
  }
  return 0;
}

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      size_t slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      size_t next = in.find('/', in.front() == '/' ? 1 : 0);
      out += in.substr(0, next);
      in = next == std::string_view::npos ? std::string_view() : in.substr(next);
    }
  }
  return out;
}

struct UrlParts {
  std::string_view scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

// RFC 3986 appendix B, without the fragment (cut before).
UrlParts split(std::string_view s) {
  UrlParts p;
  if (size_t n = scheme_length(s); n > 0) {
    p.scheme = s.substr(0, n);
    s.remove_prefix(n + 1);
  }
  if (s.starts_with("//")) {
    s.remove_prefix(2);
    size_t end = s.find_first_of("/?");
    p.authority = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  size_t q = s.find('?');
  p.path = s.substr(0, q);
  if (q != std::string_view::npos) p.query = s.substr(q + 1);
  return p;
}

bool clean(std::string_view s) {
  if (s.size() > kMaxUrlLength) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string whip_endpoint(std::string_view server) {
  std::string s(text::trim(server, " \t\r\n"));
  size_t scheme = s.find("://");
  size_t path = s.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return s + "/whip";
  if (path == s.size() - 1) return s + "whip";
  return s;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  reference = text::trim(reference, " \t\r\n");
  if (!clean(base) || !clean(reference)) return std::nullopt;
  base = base.substr(0, base.find('#'));
  reference = reference.substr(0, reference.find('#'));
  UrlParts b = split(base);
  UrlParts r = split(reference);
  if (b.scheme.empty() || !b.authority) return std::nullopt;
  // RFC 3986 section 5.2.2.
  std::string scheme, authority, path;
  std::optional<std::string_view> query;
  if (!r.scheme.empty()) {
    scheme = std::string(r.scheme);
    if (!r.authority) return std::nullopt;  // "http:path" names no host
    authority = std::string(*r.authority);
    path = remove_dot_segments(r.path);
    query = r.query;
  } else if (r.authority) {
    scheme = std::string(b.scheme);
    authority = std::string(*r.authority);
    path = remove_dot_segments(r.path);
    query = r.query;
  } else {
    scheme = std::string(b.scheme);
    authority = std::string(*b.authority);
    if (r.path.empty()) {
      path = std::string(b.path);
      query = r.query ? r.query : b.query;
    } else {
      if (r.path.front() == '/') {
        path = remove_dot_segments(r.path);
      } else {
        // Section 5.2.3: merge with the base path up to its last '/'.
        std::string merged;
        if (b.path.empty())
          merged = "/" + std::string(r.path);
        else
          merged = std::string(b.path.substr(0, b.path.rfind('/') + 1)) + std::string(r.path);
        path = remove_dot_segments(merged);
      }
      query = r.query;
    }
  }
  for (char& c : scheme)
    c = text::ascii_lower(c);
  if ((scheme != "http" && scheme != "https") || authority.empty()) return std::nullopt;
  if (path.empty()) path = "/";
  std::string out = scheme + "://" + authority + path;
  if (query) out += "?" + std::string(*query);
  if (out.size() > kMaxUrlLength) return std::nullopt;
  return out;
}

std::string url_host(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  size_t at = rest.find('@');
  size_t slash = rest.find('/');
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash))
    rest.remove_prefix(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? 0 : close - 1));
  }
  size_t end = rest.find_first_of(":/?#");
  return std::string(rest.substr(0, end));
}

}  // namespace cellrtc::whip
