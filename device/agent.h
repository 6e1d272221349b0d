// The Linux device agent: keeps one streaming session to cellrtc-server alive. It publishes
// with WHIP, drives the PeerConnection from UDP sockets on an EventLoop, feeds camera frames
// to the StreamingSession at the rate it asks for, and supervises:
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
#include "device/direct_viewers.h"
#include "device/frame_source.h"
#include "device/modem_poller.h"
#include "device/relay_setup.h"
#include "device/whip_client.h"
#include "runtime/event_loop.h"

namespace cellrtc::device {

enum class LogFormat : uint8_t { text, json };

// Which transports the device's ICE candidates use toward the server (docs/architecture.md,
// "Transports"): UDP host candidates, an active ICE-TCP candidate (RFC 6544) toward the
// server's passive ones, or both, with UDP preferred.
enum class IceTransport : uint8_t { udp, tcp, automatic };
const char* to_string(IceTransport transport);
// "udp", "tcp" or "auto".
std::optional<IceTransport> parse_ice_transport(std::string_view text);

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

enum class AgentState : uint8_t { connecting, waiting, streaming, restarting, backoff, stopped };
const char* to_string(AgentState state);

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

class Agent {
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

  AgentState state() const { return state_; }
  const AgentStats& stats() const { return stats_; }
  // The session's streaming state, while one exists.
  const media::StreamingSession* session() const;
  const std::optional<WhipSession>& whip_session() const { return whip_session_; }
  const std::string& last_error() const { return last_error_; }
  const std::optional<media::ModemTelemetry>& modem() const { return modem_; }
  const DirectViewers* direct_viewers() const { return direct_.get(); }
  runtime::EventLoop& loop() { return *loop_; }
  Instant now() const { return loop_->now(); }

 private:
  class Connection;
  Agent(AgentConfig config, std::unique_ptr<runtime::EventLoop> loop,
        std::unique_ptr<FrameSource> source, LogSink log);

  void set_state(AgentState s, const std::string& detail = {});
  void log_line(const std::string& event, const std::string& text,
                const std::vector<std::pair<std::string, std::string>>& fields = {});
  void connect();
  void on_connection_step(Instant now);
  void restart_ice(Instant now);
  // TURN: relays for the session, relayed candidates trickled by PATCH, what each server did.
  SocketAddress turn_socket_address() const;
  void start_relays(Connection& c, Instant now);
  void note_local_candidate(Connection& c, const peer::PeerEvent& e);
  void log_relay_events(Connection& c);
  void trickle_candidates(uint64_t generation);
  void tear_down(const std::string& reason, bool failure);
  void schedule_retry(const std::string& reason);
  void fatal(int code, const std::string& reason);
  void capture(Instant now);
  void on_source_readable();
  void arm_capture_timer();
  void print_stats();
  void log_timeline(Instant now);
  void log_summary();
  // An instant of the loop's clock on the wall clock (system_clock), in µs since the epoch.
  int64_t wall_us(Instant t) const;
  std::vector<SocketAddress> local_addresses() const;
  // ICE-TCP (RFC 6544): the session's active candidates, and connections to the server's
  // passive candidates once they are known (answer or trickle).
  size_t add_tcp_candidates(Connection& c, Instant now);
  void connect_tcp_candidates(Connection& c);
  void count_transport(const Connection& c);

  AgentConfig config_;
  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<FrameSource> source_;
  LogSink log_;
  std::unique_ptr<Random> rng_;
  std::unique_ptr<dtls::Certificate> certificate_;
  WhipClient whip_;
  ExponentialBackoff backoff_;

  std::unique_ptr<Connection> connection_;
  std::optional<WhipSession> whip_session_;
  AgentState state_ = AgentState::connecting;
  std::optional<Instant> state_since_;
  std::optional<Instant> setup_deadline_;
  std::optional<Instant> disconnected_since_;
  uint64_t connections_made_ = 0;
  uint32_t next_sequence_ = 0;  // frame sequence numbers go on across sessions
  uint16_t native_width_ = 0;   // the source's own frame size, from frames taken at it
  uint16_t native_height_ = 0;
  bool restarted_ice_ = false;  // this session's ICE restart is used up
  // The setup timeline of the current session (--json-log "timeline" record).
  std::optional<Instant> started_at_;
  std::optional<Instant> post_sent_at_;
  std::optional<Instant> answered_at_;
  std::optional<Instant> channels_open_at_;
  bool timeline_logged_ = false;
  std::optional<runtime::TimerId> retry_timer_;
  std::optional<runtime::TimerId> capture_timer_;
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
  uint64_t stats_frames_from_ = 0;
  uint64_t stats_bytes_from_ = 0;
  Instant stats_from_;
};

}  // namespace cellrtc::device
