#include "server/http_message.h"

#include <algorithm>

#include "core/common/http_status.h"
#include "core/common/json_text.h"
#include "core/common/text.h"

namespace cellrtc::server {
namespace {

using text::iequals;

const std::string* find_header(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

std::string_view HttpRequest::query_param(std::string_view name) const {
  std::string_view q = query();
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

void HttpResponse::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
}

const std::string* HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

HttpResponse HttpResponse::problem(int status, std::string_view detail) {
  HttpResponse r;
  r.status = status;
  r.set_header("Content-Type", "application/problem+json");
  r.body = "{\"type\":\"about:blank\",\"title\":";
  append_json_string(r.body, status_reason(status));
  r.body += ",\"status\":" + std::to_string(status) + ",\"detail\":";
  append_json_string(r.body, detail);
  r.body += "}";
  return r;
}

void append_json_string(std::string& out, std::string_view s) {
  json::append_string(out, s);
}

std::string_view status_reason(int status) {
  const std::string_view phrase = http::reason_phrase(status);
  return phrase.empty() ? "Unknown" : phrase;
}

}  // namespace cellrtc::server
