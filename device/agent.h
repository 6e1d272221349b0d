// The Linux device agent: keeps one streaming session to cellrtc-server alive. The decisions are
// the portable streamer::Publisher's (core/streamer/publisher.h, the same the ESP32 firmware
// runs); the agent is its glue: an EventLoop, UDP sockets and ICE-TCP connections per session
// (EndpointDriver), TURN relays, libcurl performing the WHIP requests the publisher asks for,
// the camera source, the modem poller, direct-mode viewers and the console/JSON log. The
// publisher's states:
//
//   connecting --201--> waiting --channels open--> streaming
//        ^                 |  (not connected in time)   | ICE disconnected for a while
//        |                 v                            v
//     backoff <------- torn down <--404/failed--- ICE restart (PATCH, same session)
//        (exponential with jitter; 401/403 stop the agent: a wrong token does not heal)
//
// A session is torn down (and DELETEd, best effort) when the connection fails (ICE failure,
// consent lost, a DTLS alert, SCTP abort), a channel closes, the ICE restart is refused or does
// not connect in time. Console: one line per state change, a stats line every few seconds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/backoff.h"
#include "core/common/socket_address.h"
#include "core/media/streaming_session.h"
#include "core/streamer/ice_transport.h"
#include "core/streamer/publisher.h"
#include "device/direct_viewers.h"
#include "device/frame_source.h"
#include "device/modem_poller.h"
#include "device/relay_setup.h"
#include "device/whip_client.h"
#include "device/whip_requester.h"
#include "runtime/event_loop.h"

namespace cellrtc::device {

enum class LogFormat : uint8_t { text, json };

// Which transports the device's ICE candidates use toward the server: udp, tcp or auto
// (core/streamer/ice_transport.h, the firmware's setting too).
using streamer::IceTransport;
using streamer::parse_ice_transport;

struct AgentConfig {
  WhipClientConfig whip;
  media::StreamingSessionConfig session;
  BackoffConfig backoff{seconds(1), seconds(30), 0.3};
  // Local addresses to bind, one UDP socket and host candidate each. Empty: every interface
  // address that is up (runtime/interfaces.h), plus loopback when the server is on loopback.
  std::vector<IpAddress> bind;
  // tcp never opens a UDP socket (modems whose PPP link drops under UDP traffic); auto offers
  // both and lets the ICE agent fall back to TCP when UDP does not answer in time.
  IceTransport transport = IceTransport::automatic;
  // RFC 7675 consent checks on the path in use, which also keep NAT mappings alive: 15 s stays
  // below the 30 s UDP timeouts of carrier NATs (a lost check is followed by another within
  // 2 s, core/ice IceConfig::consent_retry); consent still expires after 30 s unanswered.
  Duration keepalive_interval = seconds(15);
  // From the answer to open channels; longer and the session is torn down.
  Duration setup_timeout = seconds(20);
  // ICE disconnected (no consent answers) this long: restart ICE through a PATCH.
  Duration disconnected_grace = seconds(2);
  bool ice_restart = true;
  // How long DELETE may take when a session is replaced or the agent stops.
  Duration delete_timeout = seconds(3);
  // Streaming this long resets the backoff.
  Duration stable_after = seconds(30);
  Duration stats_interval = seconds(5);
  // The modem's AT port, asked every 30 s for the telemetry's "modem" object; empty: none.
  ModemPollerConfig modem;
  // TURN relays from the ICE servers of each WHIP answer (relay_setup.h).
  RelayConfig relay;
  // Direct mode: viewers the server hands over (docs/protocol.md); its `bind` defaults to the
  // addresses the session uses.
  DirectViewersConfig direct;
  LogFormat log_format = LogFormat::text;
  bool quiet = false;  // no stats lines
};

// connecting, waiting, streaming, restarting, backoff, stopped (streamer::to_string).
using AgentState = streamer::PublisherState;
using streamer::to_string;

struct AgentStats {
  uint64_t publishes = 0;       // POSTs tried
  uint64_t sessions = 0;        // sessions the server accepted (201)
  uint64_t ice_restarts = 0;    // PATCHes the server accepted
  uint64_t failures = 0;        // sessions torn down on a failure
  uint64_t camera_frames = 0;   // frames the source handed over
  uint64_t camera_skipped = 0;  // frames read but not wanted (not due, or no session)
  uint64_t frames_sent = 0;     // over all sessions
  uint64_t bytes_sent = 0;
  uint64_t frames_dropped = 0;  // over all sessions: replaced unsent, or refused by the channel
  // Over all sessions, from the sessions' drivers: UDP datagrams and ICE-TCP messages sent.
  uint64_t udp_sockets = 0;
  uint64_t udp_datagrams_sent = 0;
  uint64_t tcp_connections = 0;
  uint64_t tcp_messages_sent = 0;
  std::vector<Duration> backoffs;  // every backoff waited, in order (bounded to 64)
};

class Agent : private streamer::PublisherHost {
 public:
  using LogSink = std::function<void(const std::string& line)>;

  // Opens the event loop; the source is opened by the caller (open_source()).
  static Result<std::unique_ptr<Agent>, std::string> create(AgentConfig config,
                                                            std::unique_ptr<FrameSource> source,
                                                            LogSink log = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until stop() or a fatal error (401/403, a broken camera), or `done` holds or
  // `deadline` passes. Returns the exit code: 0 stopped or still running, 2 not authorized or
  // misconfigured, 1 the camera failed.
  int run(std::optional<Instant> deadline = std::nullopt, const std::function<bool()>& done = {});
  // Thread-safe (a signal thread): ends the session (DELETE) and makes run() return.
  void stop();

  AgentState state() const { return publisher_->state(); }
  const AgentStats& stats() const { return stats_; }
  // The session's streaming state, while one exists.
  const media::StreamingSession* session() const;
  const std::optional<WhipSession>& whip_session() const;
  const std::string& last_error() const { return last_error_; }
  const std::optional<media::ModemTelemetry>& modem() const { return modem_; }
  const DirectViewers* direct_viewers() const { return direct_.get(); }
  // Closed sessions whose TURN deallocations are still in flight (at most close_timeout each).
  size_t closing_sessions() const { return closing_connections_.size(); }
  runtime::EventLoop& loop() { return *loop_; }
  Instant now() const { return loop_->now(); }

 private:
  class Connection;
  Agent(AgentConfig config, std::unique_ptr<runtime::EventLoop> loop,
        std::unique_ptr<FrameSource> source, LogSink log);

  // streamer::PublisherHost: a session's sockets, ICE-TCP connections and TURN relays.
  std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) override;
  void session_answered(Instant now, peer::PeerConnection& pc, const WhipSession& session,
                        bool restarted) override;
  void close_session(Instant now, peer::PeerConnection& pc) override;

  // After the publisher was called: its events logged, its requests scheduled, its timer set;
  // `wake` the session's driver (not from inside the driver's own callbacks).
  void flush(bool wake);
  void log_events();
  // After the PeerConnection was fed: ICE-TCP toward new candidates, TURN events, direct-mode
  // messages, then flush.
  void after_peer_activity(Instant now);
  // After a closed session's relays were fed: the connection goes once they are done.
  void after_closing_activity(Connection& c);
  // Hands the publisher's requests to the requester (a worker thread: the loop keeps running);
  // their responses come back to on_response on the loop.
  void perform_requests();
  void on_response(uint64_t id, const whip::WhipResult<whip::HttpResponse>& response);
  // After the loop stopped: the requests still in flight and what the stop left to send (the
  // DELETE, the TURN deallocations), each bounded by its timeout.
  void drain_requests();
  void finish_stop();
  void log_line(const std::string& event, const std::string& text,
                const std::vector<std::pair<std::string, std::string>>& fields = {});
  void start_relays(Connection& c, peer::PeerConnection& pc, const WhipSession& session,
                    Instant now);
  void log_relay_events(peer::PeerConnection& pc);
  void fatal(int code, const std::string& reason);
  std::optional<media::EncodedFrame> take_frame(Instant now, const CaptureSettings& settings);
  void on_source_readable();
  void capture_if_due(Instant now);
  void print_stats();
  void log_timeline(Instant now);
  void log_summary();
  // An instant of the loop's clock on the wall clock (system_clock), in µs since the epoch.
  int64_t wall_us(Instant t) const;
  std::vector<SocketAddress> local_addresses() const;
  SocketAddress turn_socket_address() const;
  // ICE-TCP (RFC 6544): the session's active candidates, and connections to the server's
  // passive candidates once they are known (answer or trickle).
  size_t add_tcp_candidates(peer::PeerConnection& pc, Instant now);
  void connect_tcp_candidates(Connection& c, const peer::PeerConnection& pc);
  void count_transport(const Connection& c);

  AgentConfig config_;
  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<FrameSource> source_;
  LogSink log_;
  std::unique_ptr<Random> rng_;
  std::unique_ptr<dtls::Certificate> certificate_;
  WhipClient whip_;
  std::unique_ptr<streamer::Publisher> publisher_;  // after rng_, certificate_: uses them
  std::unique_ptr<Connection> connection_;          // the publisher's session's transport
  // Transports of closed sessions whose TURN deallocations are still in flight.
  std::vector<std::unique_ptr<Connection>> closing_connections_;

  uint16_t native_width_ = 0;  // the source's own frame size, from frames taken at it
  uint16_t native_height_ = 0;
  std::optional<Instant> capture_at_;  // a source that makes frames on demand: when next
  std::optional<runtime::TimerId> publisher_timer_;
  std::optional<Instant> publisher_timer_at_;
  bool requests_scheduled_ = false;
  std::optional<runtime::TimerId> stats_timer_;
  std::atomic<bool> stop_requested_{false};
  bool stopped_ = false;
  int exit_code_ = 0;
  std::string last_error_;
  AgentStats stats_;
  std::optional<media::ModemTelemetry> modem_;
  std::string modem_error_;
  std::unique_ptr<DirectViewers> direct_;      // after loop_, rng_, certificate_: uses them
  std::unique_ptr<ModemPoller> modem_poller_;  // after loop_: its callback posts to the loop
  std::unique_ptr<WhipRequester> requester_;   // after loop_, whip_: uses them
  uint64_t stats_frames_from_ = 0;
  uint64_t stats_bytes_from_ = 0;
  Instant stats_from_;
};

}  // namespace cellrtc::device
