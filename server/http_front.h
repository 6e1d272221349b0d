#pragma once

// cellrtc-server's HTTP front end on Boost.Beast: HTTP/1.1 with keep-alive (HTTPS when a
// certificate is configured), one session object per connection, WebSocket event subscribers,
// and the routing of docs/protocol.md ("Signaling: HTTP API"):
//
//   /whip..., /whep..., /api/...  → the relay (WHIP/WHEP writes rate-limited per client first)
//   GET /healthz                  → "ok"
//   GET /metrics                  → Prometheus text: these counters, then the relay's
//   GET /ws                       → WebSocket: the devices snapshot, then every relay event
//   GET /, /web/...               → the viewer page's files
//
// Limits on everything a client controls: header size, body size (413), read timeouts,
// connections at once, a bounded queue per WebSocket subscriber (a slow one is dropped).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "core/common/result.h"
#include "runtime/clock.h"
#include "server/config.h"
#include "server/http_message.h"
#include "server/http_metrics.h"
#include "server/log.h"
#include "server/relay.h"

namespace cellrtc::server {

class MediaPlane;

struct FrontLimits {
  size_t max_header_bytes = 8 * 1024;
  Duration read_timeout = seconds(30);  // a request's headers and body, a TLS handshake
  Duration idle_timeout = seconds(60);  // a keep-alive connection between requests
  size_t websocket_queue_messages = 256;
  size_t websocket_max_incoming_bytes = 4 * 1024;
  size_t max_static_file_bytes = 16 << 20;
};

class HttpFront {
 public:
  HttpFront(boost::asio::io_context& io, const ServerConfig& config, Relay& relay,
            MediaPlane& media, const runtime::MonotonicClock& clock, Logger& log,
            FrontLimits limits = {});
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // Loads the TLS certificate and key when configured (an error names the file), binds
  // config.http.listen and starts accepting. Returns the bound address (the port chosen when
  // the configured one is 0).
  Result<boost::asio::ip::tcp::endpoint, std::string> start();
  bool tls() const;

  // One event to every WebSocket subscriber.
  void broadcast(const RelayEvent& event);

  // Stops accepting, closes HTTP connections and sends every WebSocket subscriber a close
  // frame (after the events already queued for it).
  void stop();

  // The response to one request, as the sessions produce it (without the socket).
  HttpResponse handle(const HttpRequest& request);

  const HttpMetrics& metrics() const;
  // Connections still open (HTTP and WebSocket), for a shutdown that waits for them.
  size_t open_connections() const;

  // The state the connections share (defined in http_front.cpp): each keeps it alive, so a
  // connection torn down after the front end is gone still has its counters to update.
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cellrtc::server
