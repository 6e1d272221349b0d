#pragma once

// The front end's own counters for /metrics (Prometheus text exposition format 0.0.4); the
// relay appends its sessions, frames and bytes after them.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace cellrtc::server {

// One sample with its HELP and TYPE lines: "# HELP name help", "# TYPE name type", "name value".
void write_metric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, uint64_t value);

struct HttpMetrics {
  std::map<int, uint64_t> responses_by_status;  // cellrtc_http_requests_total{status="..."}
  uint64_t connections_total = 0;
  uint64_t connections_active = 0;
  uint64_t connections_refused = 0;  // over the connection limit
  uint64_t rate_limited_total = 0;   // 429s
  uint64_t websocket_subscribers = 0;
  uint64_t websocket_messages_total = 0;
  uint64_t websocket_dropped_total = 0;  // subscribers dropped for not keeping up
  uint64_t ice_tcp_handed_over = 0;      // shared port: connections that were ICE-TCP

  void count_response(int status) { ++responses_by_status[status]; }
  void write(std::string& out) const;
};

}  // namespace cellrtc::server
