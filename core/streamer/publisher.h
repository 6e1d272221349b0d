// The device's streaming supervisor: keeps one WHIP session (RFC 9725) to cellrtc-server alive
// and streams the camera over it. Sans-IO and portable (the Linux agent and the ESP32 firmware
// run the same one): time, HTTP responses, the PeerConnection's datagrams and camera frames
// in; HTTP requests to perform, state changes and log lines as values, and the next deadline
// out. No threads, sockets, HTTP library or exceptions.
//
//   connecting --201--> waiting --channels open--> streaming
//        ^                 |  (not connected in time)   | ICE disconnected for a while
//        |                 v                            v
//     backoff <------- torn down <--404/failed--- restarting (ICE restart by PATCH)
//        (exponential with jitter; 401/403 stop: a wrong token does not heal)
//
// A session is torn down (and DELETEd, without waiting for the answer) when the connection
// fails (ICE failure, consent lost, a DTLS alert, SCTP abort), a channel closes, the ICE
// restart is refused or does not connect in time. Streaming for stable_after resets the
// backoff.
//
//   struct Glue : PublisherHost {                  // the platform's sockets
//     std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) override {
//       bind a UDP socket, pc.add_host_socket(now, bound); return nullopt (or why not)
//     }
//     void close_session(Instant now, peer::PeerConnection& pc) override {
//       send what pc still has to send (its close), then release the sockets
//     }
//   };
//   Publisher pub(config, rng, certificate, glue);
//   pub.start(now);
//   loop:
//     while (auto r = pub.poll_request()) perform r->request (method, url, headers, body,
//       r->request.timeout) in the background; later:
//       pub.handle_response(now, r->id, response);        // or a WhipError (DNS, connect...)
//     datagram in:  pub.peer()->handle_datagram(now, local, from, data);
//                   pub.handle_peer_activity(now);
//     out:          while (auto t = pub.peer()->poll_transmit()) send it;
//     at pub.peer_timeout():  pub.handle_peer_timeout(now);
//     at pub.next_timeout():  pub.handle_timeout(now);   // never inside a socket callback
//     camera frame: pub.offer_frame(now, frame)  (or CameraMode::pull: host.capture())
//     while (auto e = pub.poll_event()) log it: event::StateChanged, event::Log, event::Fatal
//   pub.stop(now);   // asks for the DELETE; the PeerConnection closes once it is answered
//                    // (or timed out); perform it, keep feeding the peer, until done()
//
// Calls that may replace the session (and so call close_session, destroying the
// PeerConnection): start, stop, abort, handle_timeout, handle_response. The glue calls them
// outside its socket callbacks for the session. handle_peer_activity and handle_peer_timeout
// never replace it; they only note what to do, which the next handle_timeout does (at once:
// next_timeout() is then now).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/common/backoff.h"
#include "core/common/random.h"
#include "core/common/time.h"
#include "core/dtls/certificate.h"
#include "core/media/streaming_session.h"
#include "core/peer/peer_connection.h"
#include "core/whip/whip_messages.h"

namespace cellrtc::streamer {

struct PublisherConfig {
  // The WHIP endpoint (whip::whip_endpoint() of the --server value) and the device token.
  std::string endpoint;
  std::string token;
  media::StreamingSessionConfig session;
  // Every session's SCTP limits (buffers, window, message sizes, streams): a small device
  // sizes them to its RAM; ports and the peer's message size still follow the SDP.
  sctp::SctpConfig sctp;
  BackoffConfig backoff{seconds(1), seconds(30), 0.3};
  // RFC 7675 consent checks on the path in use, which also keep NAT mappings alive: 15 s stays
  // below the 30 s UDP timeouts of carrier NATs.
  Duration keepalive_interval = seconds(15);
  // From the answer to open channels (or from an ICE restart's answer to connected); longer
  // and the session is torn down.
  Duration setup_timeout = seconds(20);
  // ICE disconnected (no consent answers) this long while streaming: restart ICE by PATCH.
  Duration disconnected_grace = seconds(2);
  bool ice_restart = true;
  // How long each request may take; a request the glue has not answered by then plus
  // answer_margin counts as timed out.
  Duration request_timeout = seconds(20);
  Duration delete_timeout = seconds(3);
  Duration answer_margin = seconds(5);
  // Streaming this long resets the backoff.
  Duration stable_after = seconds(30);
  // The waiting state's line says how long UDP may take before a TCP pair carries the stream
  // (set when the host offers both UDP and ICE-TCP candidates).
  bool report_udp_grace = false;
  whip::WhipLimits limits;
};

enum class PublisherState : uint8_t {
  connecting,
  waiting,
  streaming,
  restarting,
  backoff,
  stopped
};
// "connecting", "waiting", "streaming", "restarting-ice", "backoff", "stopped".
const char* to_string(PublisherState state);

namespace event {
// One line per state change; detail says why ("answer received; ...", "HTTP 503 ...; next try
// in 2.0 s").
struct StateChanged {
  PublisherState state;
  std::string detail;
};
// A line for the log: kind is "session", "failure", "warning", "peer", "relay" or "fatal";
// fields are extra JSON members for structured logs (values already JSON: "\"udp\"", "3").
struct Log {
  std::string kind;
  std::string text;
  std::vector<std::pair<std::string, std::string>> fields;
};
// The publisher stopped for good: 401/403 (a wrong token), or something the configuration
// makes impossible (no data channels, no offer). The reason was logged as "fatal".
struct Fatal {
  std::string reason;
};
// The current session sent its first frame: its setup timeline is complete (timeline()).
struct FirstFrame {};
}  // namespace event
using PublisherEvent =
    std::variant<event::StateChanged, event::Log, event::Fatal, event::FirstFrame>;

// A request for the glue to perform; its answer comes back through handle_response with id.
struct PendingRequest {
  uint64_t id = 0;
  whip::WhipRequest request;
};

struct PublisherStats {
  uint64_t publishes = 0;     // POSTs tried
  uint64_t sessions = 0;      // sessions the server accepted (201)
  uint64_t ice_restarts = 0;  // PATCHes the server accepted
  uint64_t failures = 0;      // sessions torn down on a failure
  uint64_t frames_sent = 0;   // over all sessions, the current one included
  uint64_t bytes_sent = 0;
  uint64_t frames_dropped = 0;     // replaced unsent, or refused by the channel
  uint64_t frames_offered = 0;     // offer_frame() calls, and frames host.capture() gave
  uint64_t frames_not_wanted = 0;  // offered when no session wanted one (newest frame wins)
  uint64_t trickles = 0;           // trickle PATCHes asked for
  std::vector<Duration> backoffs;  // every backoff waited, in order (bounded to 64)
};

// The current session's setup, in the publisher's time: from the POST to the channels.
struct PublisherTimeline {
  std::optional<Instant> started;  // start()
  std::optional<Instant> post_sent;
  std::optional<Instant> answered;
  std::optional<Instant> channels_open;
};

// Frames from the camera: push (the camera makes frames at its own rate; offer_frame() keeps
// the ones the session wants) or pull (host.capture() is asked when the session wants one, for
// sources that encode on demand).
enum class CameraMode : uint8_t { push, pull };

// What the publisher needs from the platform for each session's PeerConnection.
class PublisherHost {
 public:
  virtual ~PublisherHost() = default;
  // A new session's PeerConnection, before its offer: bind sockets and add local candidates
  // (add_host_socket, add_local_candidate). nullopt when it can send; otherwise why not (the
  // publisher backs off and tries again).
  virtual std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) = 0;
  // The server's answer was applied (and again after an ICE restart's answer, with restarted
  // set): connect ICE-TCP toward its candidates, start TURN relays from session.ice_servers.
  virtual void session_answered(Instant /*now*/, peer::PeerConnection& /*pc*/,
                                const whip::WhipSession& /*session*/, bool /*restarted*/) {}
  // The session ends: pc is closed; send what it has left to send, then release its sockets.
  // The PeerConnection is destroyed right after this returns.
  virtual void close_session(Instant now, peer::PeerConnection& pc) = 0;
  // CameraMode::pull: a frame for `request` (quality, size, snapshot), or nullopt.
  virtual std::optional<media::EncodedFrame> capture(Instant /*now*/,
                                                     const media::CaptureRequest& /*request*/) {
    return std::nullopt;
  }
};

class Publisher {
 public:
  // `rng` and `certificate` (the DTLS identity of every session) and `host` outlive it.
  Publisher(PublisherConfig config, Random& rng, const dtls::Certificate& certificate,
            PublisherHost& host, CameraMode camera = CameraMode::push);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Starts publishing (a POST is asked for at once); after stop() or abort(), starts again
  // with a fresh backoff (a firmware whose network came back).
  void start(Instant now);
  // Ends the session (a DELETE is asked for) and stops until start(). end_session: the
  // PeerConnection stays open until the DELETE is answered (or times out), so the server sees
  // the device leave rather than lose its link; drop: it closes at once and every frame it held
  // goes (the network is gone and the DELETE will most likely fail).
  enum class StopMode : uint8_t { end_session, drop };
  void stop(Instant now, StopMode mode = StopMode::end_session);
  // Stops for good because of something outside (a broken camera): logged as "fatal", the
  // session DELETEd, no Fatal event (the caller knows).
  void abort(Instant now, const std::string& reason);

  // The answer to request `id`: the response, or the transport's error (DNS, connect, TLS,
  // timeout, cancelled). Answers to requests no longer wanted are ignored.
  void handle_response(Instant now, uint64_t id, const whip::WhipResult<whip::HttpResponse>& r);
  // The publisher's own deadlines: retries, setup and restart limits, supervision decisions.
  void handle_timeout(Instant now);
  std::optional<Instant> next_timeout() const;

  // The current session's PeerConnection (nullptr between sessions): feed it datagrams and
  // stream bytes, drain its transmits and stream commands.
  peer::PeerConnection* peer();
  const peer::PeerConnection* peer() const;
  // After feeding the PeerConnection: drains its events into the session, sends, supervises.
  void handle_peer_activity(Instant now);
  // The PeerConnection's and the streaming session's deadlines (and a pull camera's).
  std::optional<Instant> peer_timeout() const;
  void handle_peer_timeout(Instant now);

  // A camera frame (CameraMode::push): kept when the session wants one now (true), else
  // dropped (newest frame wins).
  bool offer_frame(Instant now, media::EncodedFrame frame);
  // Whether a frame offered now would be kept.
  bool wants_frame(Instant now) const;
  // The modem's state and the device's memory for telemetry (this session and the next ones).
  void set_modem(std::optional<media::ModemTelemetry> modem);
  void set_device_health(std::optional<media::DeviceHealth> health);

  std::optional<PendingRequest> poll_request();
  bool has_requests() const { return !requests_.empty(); }
  std::optional<PublisherEvent> poll_event();

  PublisherState state() const { return state_; }
  // Stopped and no request left to perform (nor a PeerConnection waiting for its DELETE).
  bool done() const;
  const media::StreamingSession* session() const;
  media::StreamingSession* session();
  const std::optional<whip::WhipSession>& whip_session() const { return whip_session_; }
  // Counts every session so far.
  PublisherStats stats() const;
  const PublisherTimeline& timeline() const { return timeline_; }
  const std::string& last_error() const { return last_error_; }
  // Sessions created so far; the current one's number.
  uint64_t generation() const { return generation_; }
  const PublisherConfig& config() const { return config_; }

 private:
  struct Session;
  enum class Action : uint8_t { none, replace, restart_ice };

  void set_state(Instant now, PublisherState s, const std::string& detail = {});
  void log(std::string kind, std::string text,
           std::vector<std::pair<std::string, std::string>> fields = {});
  uint64_t ask(whip::WhipRequest request, Duration timeout);
  void connect(Instant now);
  void on_published(Instant now, whip::WhipResult<whip::WhipSession> published);
  void restart_ice(Instant now);
  void on_restarted(Instant now, const whip::WhipRequest& request,
                    const whip::WhipResult<whip::HttpResponse>& r);
  void end(Instant now, const whip::WhipSession& session);
  void send_trickle(Instant now);
  void on_trickled(const whip::WhipResult<whip::HttpResponse>& r);
  // Ends the session: its PeerConnection closed and released, its resource DELETEd. With
  // close_after_delete (stopping) the DELETE goes first and the PeerConnection closes when it
  // is answered: a server that sees the close first would take it for a link to wait for.
  void tear_down(Instant now, const std::string& reason, bool failure,
                 bool close_after_delete = false);
  void finish_closing(Instant now);
  void schedule_retry(Instant now, const std::string& reason);
  void fatal(Instant now, const std::string& reason);
  void step(Instant now);
  void capture(Instant now);

  PublisherConfig config_;
  Random& rng_;
  const dtls::Certificate& certificate_;
  PublisherHost& host_;
  CameraMode camera_;
  ExponentialBackoff backoff_;

  std::unique_ptr<Session> session_;
  std::unique_ptr<Session> closing_;  // stopped, open until its DELETE is answered
  std::optional<uint64_t> closing_delete_;
  std::optional<whip::WhipSession> whip_session_;
  PublisherState state_ = PublisherState::connecting;
  bool started_ = false;
  bool stopped_ = false;
  std::optional<Instant> state_since_;
  std::optional<Instant> retry_at_;
  std::optional<Instant> setup_deadline_;
  std::optional<Instant> disconnected_since_;
  bool restarted_ice_ = false;  // this session's ICE restart is used up
  Action action_ = Action::none;
  Instant action_at_;
  std::string action_reason_;
  uint64_t generation_ = 0;
  uint32_t next_sequence_ = 0;  // frame sequence numbers go on across sessions
  std::optional<media::ModemTelemetry> modem_;
  std::optional<media::DeviceHealth> device_health_;
  PublisherTimeline timeline_;
  bool first_frame_reported_ = false;

  // Requests: the publish or ICE restart the session waits for, a trickle, DELETEs.
  struct Outstanding {
    uint64_t id = 0;
    whip::WhipRequest request;
    Instant deadline;
    uint64_t generation = 0;
  };
  std::optional<Outstanding> main_request_;
  std::optional<Outstanding> trickle_request_;
  std::vector<Outstanding> end_requests_;
  std::vector<Outstanding> abandoned_posts_;  // POSTs in flight when their session ended
  size_t trickle_sent_count_ = 0;             // candidates in the trickle PATCH in flight
  std::vector<std::string> trickle_pending_;  // relayed candidates not PATCHed yet
  uint64_t next_request_id_ = 1;
  std::deque<PendingRequest> requests_;
  std::deque<PublisherEvent> events_;

  PublisherStats stats_;  // finished sessions' frame counts; the rest as they happen
  std::string last_error_;
};

}  // namespace cellrtc::streamer
