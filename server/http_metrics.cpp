#include "server/http_metrics.h"

namespace cellrtc::server {
void write_metric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, uint64_t value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void HttpMetrics::write(std::string& out) const {
  out += "# HELP cellrtc_http_requests_total HTTP requests answered, by status code.\n";
  out += "# TYPE cellrtc_http_requests_total counter\n";
  for (const auto& [status, count] : responses_by_status) {
    out += "cellrtc_http_requests_total{status=\"" + std::to_string(status) + "\"} " +
           std::to_string(count) + "\n";
  }
  write_metric(out, "cellrtc_http_connections_total", "counter", "TCP connections accepted.",
               connections_total);
  write_metric(out, "cellrtc_http_connections_active", "gauge", "TCP connections open now.",
               connections_active);
  write_metric(out, "cellrtc_http_connections_refused_total", "counter",
               "TCP connections closed at once because the limit was reached.",
               connections_refused);
  write_metric(out, "cellrtc_http_rate_limited_total", "counter",
               "WHIP/WHEP requests refused with 429.", rate_limited_total);
  write_metric(out, "cellrtc_websocket_subscribers", "gauge", "WebSocket event subscribers now.",
               websocket_subscribers);
  write_metric(out, "cellrtc_websocket_messages_total", "counter",
               "WebSocket event messages queued to subscribers.", websocket_messages_total);
  write_metric(out, "cellrtc_websocket_dropped_total", "counter",
               "WebSocket subscribers dropped for not keeping up.", websocket_dropped_total);
  write_metric(out, "cellrtc_ice_tcp_handed_over_total", "counter",
               "Connections on the HTTP(S) port that were ICE-TCP (shared port).",
               ice_tcp_handed_over);
}

}  // namespace cellrtc::server
