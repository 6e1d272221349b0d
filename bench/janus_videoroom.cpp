#include "bench/janus_videoroom.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace cellrtc::bench {
namespace {

constexpr const char* kJanusLibDir = "/usr/lib/x86_64-linux-gnu/janus";
constexpr size_t kMaxResponseBytes = 1 << 20;

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

size_t collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxResponseBytes) return 0;  // aborts the transfer
  body->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One HTTP exchange with a JSON answer; `body` null for GET.
JanusResult<nlohmann::json> exchange(const std::string& url, const nlohmann::json* body,
                                     Duration timeout) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return JanusError{"curl_easy_init failed"};
  std::string response;
  std::string payload;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count() / 1000));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
  if (body) {
    payload = body->dump();
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return JanusError{url + ": " + curl_easy_strerror(rc)};
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return JanusError{url + ": HTTP " + std::to_string(status) + " " + response};
  auto json = nlohmann::json::parse(response, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return JanusError{url + ": not JSON: " + response.substr(0, 200)};
  return json;
}

// Janus's own error object ({"janus":"error","error":{"code","reason"}}), or the plugin's
// ({"plugindata":{"data":{"error_code","error"}}}), as text; empty when there is none.
std::string error_of(const nlohmann::json& message) {
  if (message.value("janus", "") == "error") {
    return "Janus error " + message["error"].dump();
  }
  if (message.contains("plugindata")) {
    const auto& data = message["plugindata"]["data"];
    if (data.contains("error")) return "VideoRoom error " + data.dump();
  }
  return {};
}

}  // namespace

std::optional<JanusConfig> JanusConfig::write(uint16_t http_port, std::string* error) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "relay-load-janus-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    *error = "cannot create a temporary directory for Janus's configuration";
    return std::nullopt;
  }
  JanusConfig config(tmpl);
  fs::path dir(tmpl);
  std::error_code ec;
  for (const char* sub : {"plugins", "transports", "none"})
    fs::create_directory(dir / sub, ec);
  fs::create_symlink(fs::path(kJanusLibDir) / "plugins/libjanus_videoroom.so",
                     dir / "plugins/libjanus_videoroom.so", ec);
  fs::create_symlink(fs::path(kJanusLibDir) / "transports/libjanus_http.so",
                     dir / "transports/libjanus_http.so", ec);
  if (ec) {
    *error = "cannot link Janus's plugins into " + tmpl + ": " + ec.message();
    return std::nullopt;
  }
  // No STUN/TURN server (nat has none), host candidates on lo only, no event handlers; the
  // session timeout is longer than a benchmark run so idle sessions are not reaped mid-run.
  std::string main = "general: {\n  configs_folder = \"" + tmpl + "\"\n  plugins_folder = \"" +
                     tmpl + "/plugins\"\n  transports_folder = \"" + tmpl +
                     "/transports\"\n  events_folder = \"" + tmpl +
                     "/none\"\n  loggers_folder = \"" + tmpl +
                     "/none\"\n  debug_level = 3\n  session_timeout = 600\n}\n"
                     "media: {\n}\n"
                     "nat: {\n  ice_enforce_list = \"relayload0\"\n}\n"
                     "events: {\n  broadcast = false\n}\n";
  std::string http =
      "general: {\n  json = \"plain\"\n  base_path = \"/janus\"\n  http = true\n"
      "  port = " +
      std::to_string(http_port) +
      "\n  ip = \"127.0.0.1\"\n  https = false\n}\n"
      "admin: {\n  admin_http = false\n  admin_https = false\n}\n";
  // bitrate 0: no REMB cap (there is no media, only the data channel).
  std::string room = "general: {\n}\nroom-" + std::to_string(kJanusRoom) +
                     ": {\n  description = \"relay load\"\n  publishers = 1\n  bitrate = 0\n}\n";
  if (!write_file(dir / "janus.jcfg", main) ||
      !write_file(dir / "janus.transport.http.jcfg", http) ||
      !write_file(dir / "janus.plugin.videoroom.jcfg", room)) {
    *error = "cannot write Janus's configuration into " + tmpl;
    return std::nullopt;
  }
  return config;
}

JanusConfig::~JanusConfig() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

JanusResult<nlohmann::json> JanusHttp::post(const std::string& url, const nlohmann::json& body,
                                            Duration timeout) {
  return exchange(url, &body, timeout);
}

JanusResult<nlohmann::json> JanusHttp::get(const std::string& url, Duration timeout) {
  return exchange(url, nullptr, timeout);
}

JanusResult<std::string> JanusHttp::info() {
  auto r = get(base_ + "/info", milliseconds(500));
  if (!r) return r.error();
  if (r->value("janus", "") != "server_info") return JanusError{"unexpected answer " + r->dump()};
  return r->value("name", std::string("Janus")) + " " + r->value("version_string", "?");
}

JanusResult<uint64_t> JanusHttp::create_session() {
  auto r = post(base_, {{"janus", "create"}, {"transaction", next_transaction()}}, seconds(5));
  if (!r) return r.error();
  if (auto e = error_of(*r); !e.empty()) return JanusError{e};
  if (!(*r)["data"]["id"].is_number_unsigned()) return JanusError{"no session id: " + r->dump()};
  return (*r)["data"]["id"].get<uint64_t>();
}

JanusResult<uint64_t> JanusHttp::attach(uint64_t session, const std::string& plugin) {
  auto r = post(base_ + "/" + std::to_string(session),
                {{"janus", "attach"}, {"plugin", plugin}, {"transaction", next_transaction()}},
                seconds(5));
  if (!r) return r.error();
  if (auto e = error_of(*r); !e.empty()) return JanusError{e};
  if (!(*r)["data"]["id"].is_number_unsigned()) return JanusError{"no handle id: " + r->dump()};
  return (*r)["data"]["id"].get<uint64_t>();
}

JanusResult<nlohmann::json> JanusHttp::request(uint64_t session, uint64_t handle,
                                               const nlohmann::json& body,
                                               const std::optional<nlohmann::json>& jsep,
                                               Duration timeout) {
  std::string transaction = next_transaction();
  nlohmann::json message = {{"janus", "message"}, {"transaction", transaction}, {"body", body}};
  if (jsep) message["jsep"] = *jsep;
  std::string session_url = base_ + "/" + std::to_string(session);
  auto r = post(session_url + "/" + std::to_string(handle), message, seconds(5));
  if (!r) return r.error();
  if (auto e = error_of(*r); !e.empty()) return JanusError{e};
  if (r->value("janus", "") == "event") return *r;  // answered at once, no ack
  if (r->value("janus", "") != "ack") return JanusError{"unexpected answer " + r->dump()};

  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout.count());
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (it->value("transaction", "") != transaction) continue;
      nlohmann::json event = std::move(*it);
      events_.erase(it);
      if (auto e = error_of(event); !e.empty()) return JanusError{e};
      return event;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return JanusError{"no answer to " + body.dump() + " in time"};
    // Janus holds the long-poll up to 30 s when nothing happens; this waits at most `left`.
    auto polled = get(session_url + "?maxev=10", milliseconds(left.count()) + milliseconds(100));
    if (!polled) {
      if (std::chrono::steady_clock::now() >= deadline) continue;
      return polled.error();
    }
    // Only answers to requests are kept (notifications carry no transaction), at most 256.
    auto keep = [&](nlohmann::json& e) {
      if (e.value("janus", "") == "event" && e.contains("transaction") && events_.size() < 256) {
        events_.push_back(std::move(e));
      }
    };
    if (polled->is_array()) {
      for (auto& e : *polled)
        keep(e);
    } else {
      keep(*polled);
    }
  }
}

void JanusHttp::destroy_session(uint64_t session) {
  (void)post(base_ + "/" + std::to_string(session),
             {{"janus", "destroy"}, {"transaction", next_transaction()}}, seconds(2));
}

}  // namespace cellrtc::bench
