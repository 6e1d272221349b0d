#include "device/agent.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/common/json_text.h"
#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "core/streamer/ice_tcp.h"
#include "core/streamer/stream_path.h"
#include "core/whip/whip_url.h"
#include "runtime/endpoint_driver.h"
#include "runtime/interfaces.h"
#include "runtime/os_random.h"

namespace cellrtc::device {

namespace {

std::string wall_clock() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string millis(Duration d) {
  return std::to_string(d.count() / 1000) + " ms";
}

using whip::url_host;

}  // namespace

// The transport of one session: its sockets and ICE-TCP connections (the driver), feeding the
// publisher's PeerConnection. Every input is followed by the agent's after_peer_activity.
class Agent::Connection : public DatagramEndpoint {
 public:
  explicit Connection(Agent& agent) : agent_(agent), driver(*agent.loop_, *this) {}

  // The publisher's current PeerConnection; none once this connection only deallocates.
  peer::PeerConnection* pc() const { return closing_relays ? nullptr : agent_.publisher_->peer(); }

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (closing_relays) {
      closing_relays->handle_datagram(now, local, from, data);
      return agent_.after_closing_activity(*this);
    }
    if (auto* p = pc()) p->handle_datagram(now, local, from, data);
    agent_.after_peer_activity(now);
  }
  // One RFC 4571 message out of an ICE-TCP connection the driver opened (RFC 6544).
  void handle_stream_message(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView data) override {
    if (closing_relays) return;
    if (auto* p = pc()) p->handle_datagram(now, local, from, data, TransportProtocol::tcp);
    agent_.after_peer_activity(now);
  }
  void handle_timeout(Instant now) override {
    if (closing_relays) {
      closing_relays->handle_timeout(now);
      return agent_.after_closing_activity(*this);
    }
    if (auto* p = pc()) p->handle_timeout(now);
    agent_.after_peer_activity(now);
  }
  std::optional<Transmit> poll_transmit() override {
    if (closing_relays) return closing_relays->poll_transmit();
    auto* p = pc();
    return p ? p->poll_transmit() : std::nullopt;
  }
  // TURN over TCP/TLS: the connections to the servers are the driver's, the bytes the core's.
  std::optional<StreamCommand> poll_stream_command() override {
    if (closing_relays) return closing_relays->poll_stream_command();
    auto* p = pc();
    return p ? p->poll_stream_command() : std::nullopt;
  }
  void handle_stream_connected(Instant now, uint32_t stream) override {
    if (closing_relays) {
      closing_relays->handle_stream_connected(now, stream);
      return agent_.after_closing_activity(*this);
    }
    if (auto* p = pc()) p->handle_stream_connected(now, stream);
    agent_.after_peer_activity(now);
  }
  void handle_stream_data(Instant now, uint32_t stream, ByteView data) override {
    if (closing_relays) {
      closing_relays->handle_stream_data(now, stream, data);
      return agent_.after_closing_activity(*this);
    }
    if (auto* p = pc()) p->handle_stream_data(now, stream, data);
    agent_.after_peer_activity(now);
  }
  void handle_stream_closed(Instant now, uint32_t stream) override {
    if (closing_relays) {
      closing_relays->handle_stream_closed(now, stream);
      return agent_.after_closing_activity(*this);
    }
    if (auto* p = pc()) p->handle_stream_closed(now, stream);
    agent_.after_peer_activity(now);
  }
  // TURN over UDP answered 437: a new local port for that server (RFC 8656 section 7.4).
  std::optional<SocketRequest> poll_socket_request() override {
    if (closing_relays) return std::nullopt;
    auto* p = pc();
    return p ? p->poll_socket_request() : std::nullopt;
  }
  void handle_socket_bound(Instant now, uint32_t id,
                           const std::optional<SocketAddress>& bound) override {
    if (closing_relays) return;
    if (auto* p = pc()) p->handle_socket_bound(now, id, bound);
    agent_.after_peer_activity(now);
  }
  std::optional<Instant> next_timeout() const override {
    if (closing_relays) return closing_relays->next_timeout();
    return earliest(agent_.publisher_->peer_timeout(), agent_.capture_at_);
  }

  Agent& agent_;
  std::optional<SocketAddress> turn_socket;  // the UDP socket TURN over UDP goes out of
  // ICE-TCP: the (active local, passive remote) connections asked of the driver.
  streamer::TcpCandidateConnector tcp;
  // After its session closed: the relays still deallocating (PeerConnection::take_relays),
  // driven through these sockets until they are done (at most their close_timeout).
  std::unique_ptr<turn::RelayGatherer> closing_relays;
  bool dropping = false;           // closing and done: destruction scheduled
  runtime::EndpointDriver driver;  // last: destroyed first, before what it drives
};

Result<std::unique_ptr<Agent>, std::string> Agent::create(AgentConfig config,
                                                          std::unique_ptr<FrameSource> source,
                                                          LogSink log) {
  if (!source) return std::string("no camera source");
  if (config.whip.url.empty()) return std::string("no server URL");
  auto loop = runtime::EventLoop::create();
  if (!loop) return std::string("cannot create the event loop: ") + loop.error().message();
  std::unique_ptr<Agent> agent(
      new Agent(std::move(config), std::move(*loop), std::move(source), std::move(log)));
  auto cert = dtls::Certificate::generate(*agent->rng_, "cellrtc-device");
  if (!cert) return std::string("cannot make the DTLS certificate: ") + cert.error().reason;
  agent->certificate_ = std::make_unique<dtls::Certificate>(std::move(*cert));
  {
    const AgentConfig& c = agent->config_;
    streamer::PublisherConfig p;
    p.endpoint = agent->whip_.endpoint();
    p.token = c.whip.token;
    p.session = c.session;
    p.backoff = c.backoff;
    p.keepalive_interval = c.keepalive_interval;
    p.setup_timeout = c.setup_timeout;
    p.disconnected_grace = c.disconnected_grace;
    p.ice_restart = c.ice_restart;
    p.request_timeout = c.whip.request_timeout;
    p.delete_timeout = c.delete_timeout;
    p.stable_after = c.stable_after;
    p.report_udp_grace = c.transport == IceTransport::automatic;
    p.limits = agent->whip_.limits();
    agent->publisher_ = std::make_unique<streamer::Publisher>(
        std::move(p), *agent->rng_, *agent->certificate_,
        static_cast<streamer::PublisherHost&>(*agent),
        // The agent runs the camera itself: it serves the direct viewers too.
        streamer::CameraMode::push);
  }
  {
    Agent* self = agent.get();
    DirectViewersConfig direct = agent->config_.direct;
    if (direct.bind.empty()) direct.bind = agent->local_addresses();
    direct.relay = agent->config_.relay;  // TURN and --ice-transport-policy as for the session
    direct.turn_bind = agent->turn_socket_address();
    // A device that must never send UDP refuses direct viewers: the relay serves them.
    if (agent->config_.transport == IceTransport::tcp) direct.max_viewers = 0;
    direct.session.pacing = media::Pacing::adaptive;
    agent->direct_ =
        std::make_unique<DirectViewers>(*agent->loop_, *agent->rng_, *agent->certificate_,
                                        std::move(direct), [self](const std::string& text) {
                                          auto* session = self->publisher_->session();
                                          if (!session) return;
                                          session->send_control_text(self->loop_->now(), text);
                                          self->flush(true);
                                        });
    agent->direct_->set_log([self](const std::string& line) { self->log_line("direct", line); });
  }
  if (!agent->config_.modem.port.empty()) {
    Agent* self = agent.get();
    agent->modem_poller_ = std::make_unique<ModemPoller>(
        agent->config_.modem,
        [self](std::optional<media::ModemTelemetry> telemetry, const std::string& error) {
          self->loop_->post([self, telemetry, error] {
            if (!telemetry && error != self->modem_error_)
              self->log_line("modem", "no telemetry: " + error);
            if (telemetry && !self->modem_)
              self->log_line(
                  "modem", telemetry->tech + " " + telemetry->operator_name + " " +
                               (telemetry->rssi_dbm ? std::to_string(*telemetry->rssi_dbm) + " dBm"
                                                    : std::string("no signal")));
            self->modem_error_ = error;
            self->modem_ = telemetry;
            self->publisher_->set_modem(telemetry);
          });
        });
  }
  if (int fd = agent->source_->poll_fd(); fd >= 0) {
    Agent* self = agent.get();
    if (auto s =
            agent->loop_->watch(fd, {}, [self](runtime::Readiness) { self->on_source_readable(); });
        !s)
      return std::string("cannot watch the camera: ") + s.error().message();
  }
  return agent;
}

Agent::Agent(AgentConfig config, std::unique_ptr<runtime::EventLoop> loop,
             std::unique_ptr<FrameSource> source, LogSink log)
    : config_(std::move(config)),
      loop_(std::move(loop)),
      source_(std::move(source)),
      log_(std::move(log)),
      rng_(std::make_unique<runtime::OsRandom>()),
      whip_(config_.whip) {
  if (!log_)
    log_ = [](const std::string& line) {
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
}

Agent::~Agent() {
  requester_.reset();     // cancels a request in progress and joins its thread
  modem_poller_.reset();  // joins its thread; what it posted is dropped with the loop
  direct_.reset();
  if (int fd = source_ ? source_->poll_fd() : -1; fd >= 0) loop_->unwatch(fd);
  if (connection_) {
    if (auto* pc = connection_->pc()) pc->close(loop_->now());
    connection_->driver.wake();
    connection_.reset();
  }
  closing_connections_.clear();
  publisher_.reset();
}

const media::StreamingSession* Agent::session() const {
  return publisher_->session();
}

const std::optional<WhipSession>& Agent::whip_session() const {
  return publisher_->whip_session();
}

void Agent::log_line(const std::string& event, const std::string& text,
                     const std::vector<std::pair<std::string, std::string>>& fields) {
  if (config_.log_format == LogFormat::json) {
    std::string line = "{\"time\":\"" + wall_clock() +
                       "\",\"event\":" + json::string_literal(event) +
                       ",\"message\":" + json::string_literal(text);
    for (const auto& [k, v] : fields)
      line += "," + json::string_literal(k) + ":" + v;
    line += "}";
    log_(line);
  } else {
    log_(wall_clock() + " " + event + ": " + text);
  }
}

std::vector<SocketAddress> Agent::local_addresses() const {
  std::vector<SocketAddress> out;
  if (!config_.bind.empty()) {
    for (const auto& ip : config_.bind)
      out.emplace_back(ip, 0);
    return out;
  }
  if (auto interfaces = runtime::list_interfaces()) {
    for (const auto& i : *interfaces)
      out.emplace_back(i.address, 0);
  }
  std::string host = url_host(whip_.endpoint());
  if (host == "localhost" || host.rfind("127.", 0) == 0)
    out.emplace_back(IpAddress::loopback_v4(), 0);
  if (host == "::1" || host == "localhost") out.emplace_back(IpAddress::loopback_v6(), 0);
  return out;
}

std::optional<std::string> Agent::open_session(Instant now, peer::PeerConnection& pc) {
  log_events();
  connection_ = std::make_unique<Connection>(*this);
  Connection& conn = *connection_;
  size_t sockets = 0;
  // --transport tcp: no UDP socket at all, so not one datagram leaves (modems that drop their
  // PPP link under UDP traffic); that includes TURN over UDP.
  if (config_.transport != IceTransport::tcp) {
    if (auto turn = conn.driver.add_socket(turn_socket_address()))
      conn.turn_socket = *turn;
    else
      log_line("warning", "cannot bind the TURN socket: " + turn.error().message());
  }
  // RTCIceTransportPolicy "relay": no host candidate, every path goes through a TURN server.
  for (const auto& address :
       config_.relay.relay_only ? std::vector<SocketAddress>{} : local_addresses()) {
    if (config_.transport == IceTransport::tcp) break;
    auto bound = conn.driver.add_socket(address);
    if (!bound) {
      log_line("warning", "cannot bind " + address.to_string() + ": " + bound.error().message());
      continue;
    }
    if (pc.add_host_socket(now, *bound).ok()) ++sockets;
  }
  stats_.udp_sockets += sockets;
  if (config_.transport != IceTransport::udp && !config_.relay.relay_only)
    sockets += add_tcp_candidates(pc, now);
  if (sockets == 0 && !config_.relay.relay_only)
    return std::string("no local address to send from");
  return std::nullopt;
}

void Agent::session_answered(Instant now, peer::PeerConnection& pc, const WhipSession& session,
                             bool restarted) {
  log_events();  // the session's line before what follows from it
  if (!restarted)
    for (const auto& note : direct_->set_ice_servers(session.ice_servers))
      log_line("direct", note);
  if (!connection_) return;
  // After an ICE restart, connections the server closed meanwhile may be opened again toward
  // the new candidates.
  if (restarted) connection_->tcp.forget();
  connect_tcp_candidates(*connection_, pc);
  if (!restarted) start_relays(*connection_, pc, session, now);
}

void Agent::close_session(Instant, peer::PeerConnection& pc) {
  log_events();
  log_relay_events(pc);
  if (!connection_) return;
  connection_->driver.wake();  // what the closed connection still sends
  count_transport(*connection_);
  // RFC 8656 section 7.2: the relays' deallocations are retransmitted like any request until
  // their close_timeout; the connection's sockets stay for them after the session is gone.
  if (auto relays = pc.take_relays()) {
    connection_->closing_relays = std::move(relays);
    connection_->driver.wake();
    closing_connections_.push_back(std::move(connection_));
  }
  connection_.reset();
}

void Agent::after_closing_activity(Connection& c) {
  if (c.dropping || !c.closing_relays->closed()) return;
  c.dropping = true;
  // Never inside the connection's own driver callback.
  Connection* raw = &c;
  loop_->add_timer(loop_->now(), [this, raw] {
    closing_connections_.erase(
        std::remove_if(closing_connections_.begin(), closing_connections_.end(),
                       [raw](const auto& x) { return x.get() == raw; }),
        closing_connections_.end());
  });
}

void Agent::after_peer_activity(Instant now) {
  auto* pc = publisher_->peer();
  if (!pc) return flush(false);
  publisher_->handle_peer_activity(now);
  capture_if_due(now);
  if (connection_ && connection_->tcp.has_news(*pc)) connect_tcp_candidates(*connection_, *pc);
  log_relay_events(*pc);
  if (auto* session = publisher_->session())
    while (auto m = session->poll_direct_message())
      direct_->handle(now, *m);
  flush(false);
}

void Agent::log_events() {
  while (auto e = publisher_->poll_event()) {
    if (const auto* s = std::get_if<streamer::event::StateChanged>(&*e)) {
      log_line("state",
               std::string(to_string(s->state)) + (s->detail.empty() ? "" : " (" + s->detail + ")"),
               {{"state", "\"" + std::string(to_string(s->state)) + "\""}});
    } else if (const auto* l = std::get_if<streamer::event::Log>(&*e)) {
      log_line(l->kind, l->text, l->fields);
    } else if (std::get_if<streamer::event::Fatal>(&*e)) {
      // 401/403 or a configuration that cannot work: what is left to send goes, then run()
      // returns.
      if (exit_code_ == 0) exit_code_ = 2;
      stopped_ = true;
      loop_->stop();
    } else if (std::get_if<streamer::event::FirstFrame>(&*e)) {
      log_timeline(loop_->now());
    }
  }
}

void Agent::flush(bool wake) {
  log_events();
  if (!publisher_->last_error().empty() && exit_code_ != 1) last_error_ = publisher_->last_error();
  streamer::PublisherStats p = publisher_->stats();
  stats_.publishes = p.publishes;
  stats_.sessions = p.sessions;
  stats_.ice_restarts = p.ice_restarts;
  stats_.failures = p.failures;
  stats_.frames_sent = p.frames_sent;
  stats_.bytes_sent = p.bytes_sent;
  stats_.frames_dropped = p.frames_dropped;
  stats_.backoffs = p.backoffs;
  // The requests run as their own task, never inside the driver's callback that is using the
  // session: their answers may end it.
  if (!requests_scheduled_ && publisher_->has_requests()) {
    requests_scheduled_ = true;
    loop_->add_timer(loop_->now(), [this] { perform_requests(); });
  }
  std::optional<Instant> next = publisher_->next_timeout();
  if (next != publisher_timer_at_) {
    if (publisher_timer_) loop_->cancel_timer(*publisher_timer_);
    publisher_timer_.reset();
    publisher_timer_at_ = next;
    if (next)
      publisher_timer_ = loop_->add_timer(*next, [this] {
        publisher_timer_.reset();
        publisher_timer_at_.reset();
        publisher_->handle_timeout(loop_->now());
        flush(true);
      });
  }
  if (wake && connection_) connection_->driver.wake();
}

void Agent::perform_requests() {
  requests_scheduled_ = false;
  if (!requester_)
    requester_ = std::make_unique<WhipRequester>(
        whip_, *loop_,
        [this](uint64_t id, const whip::WhipResult<whip::HttpResponse>& r) { on_response(id, r); });
  while (auto r = publisher_->poll_request())
    requester_->submit(r->id, std::move(r->request));
}

void Agent::on_response(uint64_t id, const whip::WhipResult<whip::HttpResponse>& response) {
  // Stopping: once the cancelled requests are back, the publisher stops first, so a session
  // the server made anyway is ended.
  if (stop_requested_.load() && !stopped_ && requester_->in_flight() == 0) finish_stop();
  publisher_->handle_response(loop_->now(), id, response);
  flush(true);
}

void Agent::drain_requests() {
  // Each request is bounded by its own timeout, and a closed session's TURN deallocations by
  // their close_timeout (they go on while the DELETE is out, or after); this bounds the wait
  // for them all.
  Instant deadline = loop_->now() + config_.whip.request_timeout + seconds(1);
  auto done = [this] { return requester_->in_flight() == 0 && closing_connections_.empty(); };
  for (;;) {
    perform_requests();
    if (done() || loop_->now() >= deadline) return;
    // Returns early when something stops the loop again (a stop after a late answer).
    loop_->run_until(done, deadline);
  }
}

void Agent::finish_stop() {
  if (stopped_) return;
  // The requests cancelled by stop() come back first (on_response finishes the stop), so that
  // the cancel does not reach the DELETE.
  if (requester_ && requester_->in_flight() > 0) return;
  whip_.reset_cancel();
  stopped_ = true;
  log_summary();
  publisher_->stop(loop_->now());
  flush(true);
  loop_->stop();
}

void Agent::fatal(int code, const std::string& reason) {
  if (stopped_) return;
  exit_code_ = code;
  last_error_ = reason;
  stopped_ = true;
  publisher_->abort(loop_->now(), reason);
  flush(true);
  loop_->stop();
}

// One active ICE-TCP candidate per address family (streamer::add_active_tcp_candidates):
// loopback when the server is on loopback, otherwise the first other address (of --bind, or
// the interfaces).
size_t Agent::add_tcp_candidates(peer::PeerConnection& pc, Instant now) {
  std::string host = url_host(whip_.endpoint());
  bool server_on_loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  std::vector<IpAddress> addresses;
  for (const auto& address : local_addresses()) {
    if (config_.bind.empty() && address.ip().is_loopback() != server_on_loopback) continue;
    addresses.push_back(address.ip());
  }
  return streamer::add_active_tcp_candidates(now, pc, addresses);
}

// Opens a connection from each active candidate to each passive one of its family that the
// ICE agent knows (from the answer or trickled), once per pair; the agent's checks then run
// over it.
void Agent::connect_tcp_candidates(Connection& c, const peer::PeerConnection& pc) {
  for (const auto& pair : c.tcp.take_new(pc)) {
    // Refused with EINVAL when one to the same place is still open after an ICE restart:
    // that one goes on carrying the checks.
    if (auto s = c.driver.add_tcp_connection(pair.local, pair.remote); s)
      ++stats_.tcp_connections;
    else if (s.error().code != EINVAL)
      log_line("warning", "cannot connect to " + pair.remote.to_string() +
                              " (ICE-TCP): " + s.error().message());
  }
}

// The session's transport counters, added to the agent's when the session ends.
void Agent::count_transport(const Connection& c) {
  stats_.udp_datagrams_sent += c.driver.counters().datagrams_sent;
  stats_.tcp_messages_sent += c.driver.counters().tcp_messages_sent;
}

// ---------------------------------------------------------------------------------------------
// TURN relays

SocketAddress Agent::turn_socket_address() const {
  // The first --bind address when there is one, else any (the kernel picks the route).
  if (!config_.bind.empty()) return SocketAddress(config_.bind.front(), 0);
  std::string host = url_host(whip_.endpoint());
  if (host == "::1") return SocketAddress(IpAddress::loopback_v6(), 0);
  return SocketAddress(IpAddress(), 0);
}

void Agent::start_relays(Connection& c, peer::PeerConnection& pc, const WhipSession& session,
                         Instant now) {
  auto plan = plan_relays(session.ice_servers, config_.relay, c.turn_socket);
  if (!plan) {
    // Without a TURN server the session goes on with its host candidates; with the relay
    // policy it cannot connect, and the setup timeout says so.
    if (!session.ice_servers.empty() || !config_.relay.turn_urls.empty() ||
        config_.relay.relay_only)
      log_line("relay", "no relays: " + plan.error());
    return;
  }
  for (const auto& note : plan->notes)
    log_line("relay", "skipped " + note);
  std::string names;
  for (const auto& s : plan->gatherer.servers)
    names += (names.empty() ? "" : ", ") + s.uri.to_string() + " (" + s.address.to_string() + ")";
  log_line("relay", "allocating on " + names);
  if (auto s = pc.start_relays(now, std::move(plan->gatherer)); !s)
    log_line("relay", std::string("cannot start: ") + s.error().reason);
}

void Agent::log_relay_events(peer::PeerConnection& pc) {
  while (auto e = pc.poll_relay_event()) {
    if (const auto* got = std::get_if<turn::event::RelayedCandidate>(&*e)) {
      log_line("relay",
               "allocated " + got->candidate.address.to_string() + " on " + got->uri + " in " +
                   millis(got->took),
               {{"relayed", json::string_literal(got->candidate.address.to_string())},
                {"allocation_ms", std::to_string(got->took.count() / 1000)}});
    } else if (const auto* failed = std::get_if<turn::event::ServerFailed>(&*e)) {
      log_line("relay", failed->uri + " failed: " + failed->reason,
               {{"relay_failed", json::string_literal(failed->uri)}});
    } else if (std::get_if<turn::event::GatheringDone>(&*e)) {
      log_line("relay", "every TURN server answered or was given up");
    }
  }
}

std::optional<media::EncodedFrame> Agent::take_frame(Instant now, const CaptureSettings& settings) {
  auto frame = source_->next(now, settings);
  while (auto note = source_->poll_note())
    log_line("camera", *note);
  if (!frame) {
    if (frame.error().fatal) {
      // Not inside the publisher's call: the stop ends the session.
      std::string reason = "camera: " + frame.error().message;
      loop_->add_timer(now, [this, reason] { fatal(1, reason); });
    }
    return std::nullopt;
  }
  ++stats_.camera_frames;
  if (settings.width == 0) {
    native_width_ = frame->width;
    native_height_ = frame->height;
  }
  media::EncodedFrame encoded;
  encoded.message = std::move(frame->message);
  encoded.width = frame->width;
  encoded.height = frame->height;
  encoded.quality = frame->quality;
  encoded.flags = frame->flags;
  encoded.capture_time = frame->capture_time;
  return encoded;
}

// A source that makes frames on demand: the camera runs for the relay session and the direct
// viewers, whichever is due first, at the widest request of the due ones.
void Agent::capture_if_due(Instant now) {
  capture_at_.reset();
  const media::StreamingSession* session = publisher_->session();
  if (source_->poll_fd() >= 0 || !session) return;
  const bool relay_due = publisher_->wants_frame(now);
  if (relay_due || direct_->capture_due(now)) {
    media::CaptureRequest request =
        direct_->capture_request(now, session->capture_request(), relay_due);
    CaptureSettings settings;
    settings.quality = request.quality;
    settings.wait = Duration(0);
    // Viewer or configured size limits: the largest size within them with the source's own
    // aspect ratio, never larger than the source's own.
    if ((request.width || request.height) && native_width_ && native_height_) {
      double sx = request.width ? static_cast<double>(request.width) / native_width_ : 1.0;
      double sy = request.height ? static_cast<double>(request.height) / native_height_ : 1.0;
      double scale = std::min({sx, sy, 1.0});
      if (scale < 1.0) {
        settings.width = static_cast<uint16_t>(std::max(16.0, native_width_ * scale));
        settings.height = static_cast<uint16_t>(std::max(16.0, native_height_ * scale));
      }
    }
    if (auto frame = take_frame(now, settings)) {
      direct_->offer_frame(now, *frame);
      if (relay_due) publisher_->offer_frame(now, std::move(*frame));
    }
  }
  session = publisher_->session();
  if (session && session->video_open())
    capture_at_ =
        earliest(std::optional<Instant>(session->next_capture(now)), direct_->next_capture(now));
}

// A source that makes frames at its own rate (a pipe, a V4L2 device).
void Agent::on_source_readable() {
  Instant now = loop_->now();
  CaptureSettings settings;
  settings.wait = Duration(0);
  const media::StreamingSession* session = publisher_->session();
  const bool relay_due = publisher_->wants_frame(now);
  if (session)
    settings.quality = direct_->capture_request(now, session->capture_request(), relay_due).quality;
  auto frame = take_frame(now, settings);
  if (!frame) return;
  if (!session || (!relay_due && !direct_->capture_due(now))) {
    ++stats_.camera_skipped;  // newest frame wins: a frame not wanted now is dropped
    return;
  }
  direct_->offer_frame(now, *frame);
  if (relay_due) publisher_->offer_frame(now, std::move(*frame));
  flush(true);
}

void Agent::print_stats() {
  stats_timer_ = loop_->add_timer(loop_->now() + config_.stats_interval, [this] { print_stats(); });
  const media::StreamingSession* session = publisher_->session();
  if (config_.quiet || !session || publisher_->state() != AgentState::streaming) return;
  Instant now = loop_->now();
  const auto& s = session->stats();
  double elapsed = std::chrono::duration<double>(now - stats_from_).count();
  if (s.frames_sent < stats_frames_from_) stats_frames_from_ = stats_bytes_from_ = 0;
  double fps = elapsed > 0 ? static_cast<double>(s.frames_sent - stats_frames_from_) / elapsed : 0;
  double kbps =
      elapsed > 0 ? static_cast<double>(s.bytes_sent - stats_bytes_from_) * 8 / elapsed / 1000 : 0;
  stats_from_ = now;
  stats_frames_from_ = s.frames_sent;
  stats_bytes_from_ = s.bytes_sent;
  media::TelemetryMessage t = session->telemetry(now);
  std::string rtt = t.rtt_ms ? std::to_string(*t.rtt_ms) + " ms" : "-";
  std::string latency = s.last_report && s.last_report->latency_ms
                            ? std::to_string(*s.last_report->latency_ms) + " ms"
                            : "-";
  // How the SCTP associations recovered from loss and outages so far (RFC 9260 section 7.2.4
  // fast retransmits, section 6.3.3 T3-rtx expirations, and the HEARTBEATs that probe a path
  // while T3 is backed off): the relay session's, and the direct viewers' summed.
  const peer::PeerConnection* pc = publisher_->peer();
  const sctp::SctpStats relay = pc ? pc->stats().sctp : sctp::SctpStats{};
  const sctp::SctpStats direct = direct_->sctp_counters();
  auto recovery = [](const sctp::SctpStats& a) {
    return "fast rtx " + std::to_string(a.fast_retransmits) + ", T3 " +
           std::to_string(a.rto_expirations) + ", probes " + std::to_string(a.backoff_probes);
  };
  log_line("stats",
           fixed(fps, 1) + " fps, " + fixed(kbps, 0) + " kbit/s, rtt " + rtt + ", quality " +
               std::to_string(t.quality) + ", " + std::to_string(t.width) + "x" +
               std::to_string(t.height) + ", sent " + std::to_string(s.frames_sent) + ", dropped " +
               std::to_string(s.frames_replaced + s.send_failures) + ", latency " + latency +
               ", sctp " + recovery(relay) +
               (direct_->size() ? ", direct sctp " + recovery(direct) : std::string()),
           {{"fps", fixed(fps, 1)},
            {"kbps", fixed(kbps, 0)},
            {"rtt_ms", t.rtt_ms ? std::to_string(*t.rtt_ms) : "null"},
            {"quality", std::to_string(t.quality)},
            {"sent", std::to_string(s.frames_sent)},
            {"dropped", std::to_string(s.frames_replaced + s.send_failures)},
            {"sctp_fast_retransmits", std::to_string(relay.fast_retransmits)},
            {"sctp_retransmitted_chunks", std::to_string(relay.retransmitted_chunks)},
            {"sctp_t3_timeouts", std::to_string(relay.rto_expirations)},
            {"sctp_backoff_probes", std::to_string(relay.backoff_probes)},
            {"direct_viewers", std::to_string(direct_->size())},
            {"direct_sctp_fast_retransmits", std::to_string(direct.fast_retransmits)},
            {"direct_sctp_retransmitted_chunks", std::to_string(direct.retransmitted_chunks)},
            {"direct_sctp_t3_timeouts", std::to_string(direct.rto_expirations)},
            {"direct_sctp_backoff_probes", std::to_string(direct.backoff_probes)}});
}

int64_t Agent::wall_us(Instant t) const {
  auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return wall - (loop_->now() - t).count();
}

// When each setup phase of this session ended, on the wall clock (so other processes on the
// machine can line them up with theirs), and the offset that turns the frames' capture times
// (this loop's clock, docs/protocol.md) into wall-clock time. Once per session, with its first
// frame.
void Agent::log_timeline(Instant now) {
  const peer::PeerConnection* pc = publisher_->peer();
  if (!pc) return;
  const peer::PeerTimeline& t = pc->stats().timeline;
  const streamer::PublisherTimeline& p = publisher_->timeline();
  auto at = [this](const std::optional<Instant>& i) {
    return i ? std::to_string(wall_us(*i)) : std::string("null");
  };
  auto span = [](const std::optional<Instant>& from, const std::optional<Instant>& to) {
    return from && to ? millis(*to - *from) : std::string("-");
  };
  std::string pacing = config_.session.pacing == media::Pacing::fixed ? "fixed" : "adaptive";
  log_line(
      "timeline",
      "POST to answer " + span(p.post_sent, p.answered) + ", ICE " +
          span(p.answered, t.ice_connected) + ", DTLS " + span(t.ice_connected, t.dtls_connected) +
          ", SCTP " + span(t.dtls_connected, t.sctp_connected) + ", channels " +
          span(t.sctp_connected, p.channels_open) + ", first frame " + span(p.channels_open, now),
      {{"pacing", "\"" + pacing + "\""},
       {"transport", "\"" + streamer::selected_path(*pc) + "\""},
       {"session", std::to_string(stats_.sessions)},
       {"started_us", at(p.started)},
       {"post_sent_us", at(p.post_sent)},
       {"answered_us", at(p.answered)},
       {"ice_connected_us", at(t.ice_connected)},
       {"dtls_connected_us", at(t.dtls_connected)},
       {"sctp_connected_us", at(t.sctp_connected)},
       {"first_channel_open_us", at(t.first_channel_open)},
       {"channels_open_us", at(p.channels_open)},
       {"first_frame_sent_us", at(now)},
       {"clock_offset_us", std::to_string(wall_us(now) - now.us())}});
}

// Counters over every session, when the agent stops.
void Agent::log_summary() {
  log_line("summary",
           "camera " + std::to_string(stats_.camera_frames) + ", sent " +
               std::to_string(stats_.frames_sent) + ", dropped " +
               std::to_string(stats_.frames_dropped) + ", sessions " +
               std::to_string(stats_.sessions) + ", ICE restarts " +
               std::to_string(stats_.ice_restarts),
           {{"camera_frames", std::to_string(stats_.camera_frames)},
            {"camera_skipped", std::to_string(stats_.camera_skipped)},
            {"frames_sent", std::to_string(stats_.frames_sent)},
            {"bytes_sent", std::to_string(stats_.bytes_sent)},
            {"frames_dropped", std::to_string(stats_.frames_dropped)},
            {"publishes", std::to_string(stats_.publishes)},
            {"sessions", std::to_string(stats_.sessions)},
            {"ice_restarts", std::to_string(stats_.ice_restarts)},
            {"failures", std::to_string(stats_.failures)},
            {"udp_datagrams_sent", std::to_string(stats_.udp_datagrams_sent)},
            {"tcp_messages_sent", std::to_string(stats_.tcp_messages_sent)}});
}

int Agent::run(std::optional<Instant> deadline, const std::function<bool()>& done) {
  if (!stopped_ && publisher_->stats().publishes == 0 && !publisher_timer_)
    loop_->add_timer(loop_->now(), [this] {
      if (stopped_ || stop_requested_.load()) return;
      publisher_->start(loop_->now());
      flush(true);
    });
  if (!stats_timer_) {
    stats_from_ = loop_->now();
    stats_timer_ =
        loop_->add_timer(loop_->now() + config_.stats_interval, [this] { print_stats(); });
  }
  auto finished = [&] { return stopped_ || (done && done()); };
  while (!finished()) {
    Instant until = loop_->now() + seconds(3600);
    if (deadline) {
      if (loop_->now() >= *deadline) break;
      until = std::min(until, *deadline);
    }
    loop_->run_until(finished, until);
  }
  // What a stop or a fatal error left to send (the DELETE) goes before returning.
  if (stopped_) drain_requests();
  return exit_code_;
}

void Agent::stop() {
  stop_requested_.store(true);
  whip_.cancel();
  loop_->post([this] { finish_stop(); });
}

}  // namespace cellrtc::device
