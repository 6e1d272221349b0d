// A small blocking HTTP/WebSocket client on Boost.Beast for process tests: every call bounded by
// a timeout, loopback only.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellrtc::process {

struct ClientResponse {
  int status = 0;  // 0: no response (connection failed, timeout); see error
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;

  // The first header of that name (case-insensitive), or empty.
  std::string header(const std::string& name) const;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  bool tls = false;
  std::string tls_max_version{};  // "" or "1.1" (to check that old versions are refused)
  std::chrono::milliseconds timeout{10000};
};

ClientResponse http_request(uint16_t port, const ClientRequest& request);
inline ClientResponse http_get(uint16_t port, const std::string& target) {
  return http_request(port, {.target = target});
}

// A WebSocket subscriber (plain ws:// on loopback).
class WebSocketClient {
 public:
  WebSocketClient();
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Connects and upgrades "ws://127.0.0.1:<port><target>" (wss:// with `tls`, any
  // certificate); false and error() on failure.
  bool connect(uint16_t port, const std::string& target = "/ws", bool tls = false);
  // The next text message; nullopt on timeout, error or close (closed() tells which).
  std::optional<std::string> read(std::chrono::milliseconds timeout);
  bool closed() const { return closed_; }
  const std::string& error() const { return error_; }

 private:
  struct Impl;
  Impl* impl_;
  bool closed_ = false;
  std::string error_;
};

}  // namespace cellrtc::process
