#pragma once

// The relay: cellrtc-server's media and session logic, sans-IO. Devices publish with WHIP, viewers
// watch with WHEP; the relay is an ICE-lite WebRTC peer to each, on one UDP port for all sessions
// (demultiplexed by STUN username, then by remote address), and forwards every frame a device
// sends to each of its viewers through a per-viewer newest-frame-wins queue.
//
// Sans-IO like the core: the HTTP front end passes requests in and writes responses out, the
// runtime passes datagrams and time in and sends what poll_transmit() returns.
//
//   Relay relay(config, rng);
//   relay.add_media_socket(now, {"0.0.0.0", 8443});
//   auto response = relay.handle_http(now, request);   // /whip, /whep, /api/...
//   relay.handle_datagram(now, local, from, bytes);
//   while (auto t = relay.poll_transmit()) socket.send(*t);
//   while (auto e = relay.poll_event()) websocket.broadcast(e->json);
//   while (auto d = relay.poll_deferred_response()) answer_request(d->id, d->response);

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "server/config.h"
#include "server/http_message.h"

namespace cellrtc::dtls {
class Certificate;
}

namespace cellrtc::server {

// A live event for WebSocket subscribers: one JSON text (docs/protocol.md, "WebSocket events").
struct RelayEvent {
  std::string json;
};

// The answer to a request that handle_http deferred (HttpResponse::deferred): a direct-mode WHEP
// offer is answered once the device answers, falls back to the relay, or times out.
struct DeferredResponse {
  uint64_t id = 0;
  HttpResponse response;
};

class Relay {
 public:
  // `rng` must be a secure source (resource ids, ICE credentials); `certificate` outlives the
  // relay.
  Relay(const ServerConfig& config, Random& rng, const dtls::Certificate& certificate);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The wall clock, microseconds since the Unix epoch, for what the API shows as dates ("since")
  // and TURN credential expiry. Defaults to the system clock; tests set a fixed one.
  void set_unix_time(std::function<int64_t()> unix_time_us);

  // A bound UDP socket of the media plane (one per address family).
  Status add_media_socket(Instant now, const SocketAddress& bound);

  // Whether handle_http serves this path (/whip..., /whep..., /api/...).
  static bool serves(std::string_view path);
  HttpResponse handle_http(Instant now, const HttpRequest& request);

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data);

  // ICE-TCP (RFC 6544): a listener whose address every new session offers as a passive TCP
  // candidate (the HTTP(S) port when it is shared), and one message taken out of a
  // connection's RFC 4571 framing (`local` the listener's address, `from` the connection's
  // remote address). Returns whether it reached a session: a connection's first message must
  // be a Binding request that passes a session's MESSAGE-INTEGRITY (found by USERNAME), later
  // ones follow the connection (docs/protocol.md, "ICE-TCP").
  Status add_ice_tcp_listener(Instant now, const SocketAddress& bound);
  bool handle_stream_message(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView message);
  void handle_timeout(Instant now);
  std::optional<Transmit> poll_transmit();
  std::optional<Instant> next_timeout() const;
  std::optional<RelayEvent> poll_event();
  // Answers to deferred requests, after any input (a device's control message, a timeout).
  std::optional<DeferredResponse> poll_deferred_response();

  // The snapshot a new WebSocket subscriber gets first: {"type":"devices","devices":[...]}.
  std::string devices_event_json(Instant now) const;
  // Prometheus text for /metrics: sessions, frames and bytes in and out, drops, DTLS failures.
  void write_metrics(std::string& out) const;

  // Shutdown: closes every session (DTLS close_notify, SCTP abort). Send what poll_transmit()
  // still returns, then stop.
  void close_all(Instant now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellrtc::server
