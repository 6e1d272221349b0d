#include "device/agent.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "runtime/endpoint_driver.h"
#include "runtime/interfaces.h"
#include "runtime/os_random.h"

namespace cellrtc::device {

namespace {

std::string json_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

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

std::string seconds_text(Duration d) {
  return fixed(std::chrono::duration<double>(d).count(), 1) + " s";
}

// The host of a URL, without brackets: "127.0.0.1", "::1", "example.com".
std::string url_host(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  size_t at = rest.find('@');
  size_t slash = rest.find('/');
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash))
    rest.remove_prefix(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? 0 : close - 1));
  }
  size_t end = rest.find_first_of(":/?#");
  return std::string(rest.substr(0, end));
}

// The transport of the selected candidate pair: "udp", "tcp" (ICE-TCP), or "-" before one.
std::string selected_transport(const peer::PeerConnection& pc) {
  const auto& pair = pc.ice().selected_pair();
  if (!pair) return "-";
  return pair->local.transport == TransportProtocol::udp ? "udp" : "tcp";
}

}  // namespace

const char* to_string(IceTransport transport) {
  switch (transport) {
    case IceTransport::udp:
      return "udp";
    case IceTransport::tcp:
      return "tcp";
    case IceTransport::automatic:
      return "auto";
  }
  return "?";
}

std::optional<IceTransport> parse_ice_transport(std::string_view text) {
  if (text == "udp") return IceTransport::udp;
  if (text == "tcp") return IceTransport::tcp;
  if (text == "auto") return IceTransport::automatic;
  return std::nullopt;
}

const char* to_string(AgentState state) {
  switch (state) {
    case AgentState::connecting:
      return "connecting";
    case AgentState::waiting:
      return "waiting";
    case AgentState::streaming:
      return "streaming";
    case AgentState::restarting:
      return "restarting-ice";
    case AgentState::backoff:
      return "backoff";
    case AgentState::stopped:
      return "stopped";
  }
  return "?";
}

// One session's PeerConnection, StreamingSession and sockets, as the driver's endpoint. Every
// input is followed by the agent's step, which drains events, feeds the camera and supervises.
class Agent::Connection : public DatagramEndpoint {
 public:
  Connection(Agent& agent, peer::PeerConfig config, Random& rng,
             media::StreamingSessionConfig session_config)
      : agent_(agent),
        pc(std::move(config), rng),
        session(pc, session_config),
        driver(*agent.loop_, *this) {}

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    pc.handle_datagram(now, local, from, data);
    agent_.on_connection_step(now);
  }
  // One RFC 4571 message out of an ICE-TCP connection the driver opened (RFC 6544).
  void handle_stream_message(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView data) override {
    pc.handle_datagram(now, local, from, data, TransportProtocol::tcp);
    agent_.on_connection_step(now);
  }
  void handle_timeout(Instant now) override {
    pc.handle_timeout(now);
    agent_.on_connection_step(now);
  }
  std::optional<Transmit> poll_transmit() override { return pc.poll_transmit(); }
  // TURN over TCP/TLS: the connections to the servers are the driver's, the bytes the core's.
  std::optional<StreamCommand> poll_stream_command() override { return pc.poll_stream_command(); }
  void handle_stream_connected(Instant now, uint32_t stream) override {
    pc.handle_stream_connected(now, stream);
    agent_.on_connection_step(now);
  }
  void handle_stream_data(Instant now, uint32_t stream, ByteView data) override {
    pc.handle_stream_data(now, stream, data);
    agent_.on_connection_step(now);
  }
  void handle_stream_closed(Instant now, uint32_t stream) override {
    pc.handle_stream_closed(now, stream);
    agent_.on_connection_step(now);
  }
  std::optional<Instant> next_timeout() const override {
    auto at = earliest(pc.next_timeout(), session.next_timeout());
    at = earliest(at, capture_at);
    at = earliest(at, wake_at);
    return at;
  }

  Agent& agent_;
  peer::PeerConnection pc;
  media::StreamingSession session;
  std::optional<Instant> capture_at;  // for sources that make frames on demand
  std::optional<Instant> wake_at;     // the agent's own deadlines (setup, disconnected grace)
  std::string failure;                // the connection's Failed reason
  std::optional<SocketAddress> turn_socket;  // the UDP socket TURN over UDP goes out of
  std::vector<std::string> trickle_pending;  // relayed candidates not PATCHed yet
  bool trickle_scheduled = false;
  uint64_t generation = 0;
  bool action_pending = false;  // a teardown or ICE restart is scheduled
  // ICE-TCP: (active local, passive remote) connections asked of the driver, and how many
  // remote candidates the ICE agent had when they were last looked at.
  std::vector<std::pair<SocketAddress, SocketAddress>> tcp_opened;
  size_t remote_candidates_seen = 0;
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
    Agent* self = agent.get();
    DirectViewersConfig direct = agent->config_.direct;
    if (direct.bind.empty()) direct.bind = agent->local_addresses();
    direct.relay = agent->config_.relay;  // TURN and --ice-transport-policy as for the session
    direct.turn_bind = agent->turn_socket_address();
    // A device that must never send UDP refuses direct viewers: the relay serves them.
    if (agent->config_.transport == IceTransport::tcp) direct.max_viewers = 0;
    direct.session.pacing = media::Pacing::adaptive;
    agent->direct_ = std::make_unique<DirectViewers>(
        *agent->loop_, *agent->rng_, *agent->certificate_, std::move(direct),
        [self](const std::string& text) {
          if (!self->connection_) return;
          self->connection_->session.send_control_text(self->loop_->now(), text);
          self->connection_->driver.wake();
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
            if (self->connection_) self->connection_->session.set_modem(telemetry);
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
      whip_(config_.whip),
      backoff_(config_.backoff) {
  if (!log_)
    log_ = [](const std::string& line) {
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
}

Agent::~Agent() {
  modem_poller_.reset();  // joins its thread; what it posted is dropped with the loop
  direct_.reset();
  if (int fd = source_ ? source_->poll_fd() : -1; fd >= 0) loop_->unwatch(fd);
  if (connection_) {
    connection_->pc.close(loop_->now());
    connection_->driver.wake();
    connection_.reset();
  }
}

const media::StreamingSession* Agent::session() const {
  return connection_ ? &connection_->session : nullptr;
}

void Agent::log_line(const std::string& event, const std::string& text,
                     const std::vector<std::pair<std::string, std::string>>& fields) {
  if (config_.log_format == LogFormat::json) {
    std::string line = "{\"time\":\"" + wall_clock() + "\",\"event\":\"" + json_escape(event) +
                       "\",\"message\":\"" + json_escape(text) + "\"";
    for (const auto& [k, v] : fields)
      line += ",\"" + json_escape(k) + "\":" + v;
    line += "}";
    log_(line);
  } else {
    log_(wall_clock() + " " + event + ": " + text);
  }
}

void Agent::set_state(AgentState s, const std::string& detail) {
  if (s == state_ && detail.empty()) return;
  state_ = s;
  state_since_ = loop_->now();
  log_line("state", std::string(to_string(s)) + (detail.empty() ? "" : " (" + detail + ")"),
           {{"state", "\"" + std::string(to_string(s)) + "\""}});
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

void Agent::connect() {
  if (stop_requested_.load() || stopped_) return;
  set_state(AgentState::connecting, whip_.endpoint());
  ++stats_.publishes;
  Instant now = loop_->now();
  peer::PeerConfig pc_config;
  pc_config.certificate = certificate_.get();
  pc_config.ice.consent_interval = config_.keepalive_interval;
  media::StreamingSessionConfig session_config = config_.session;
  session_config.first_sequence = next_sequence_;
  auto conn = std::make_unique<Connection>(*this, pc_config, *rng_, session_config);
  conn->generation = ++connections_made_;
  conn->session.set_modem(modem_);
  size_t sockets = 0;
  // --transport tcp: no UDP socket at all, so not one datagram leaves (modems that drop their
  // PPP link under UDP traffic); that includes TURN over UDP.
  if (config_.transport != IceTransport::tcp) {
    if (auto turn = conn->driver.add_socket(turn_socket_address()))
      conn->turn_socket = *turn;
    else
      log_line("warning", "cannot bind the TURN socket: " + turn.error().message());
  }
  // RTCIceTransportPolicy "relay": no host candidate, every path goes through a TURN server.
  for (const auto& address :
       config_.relay.relay_only ? std::vector<SocketAddress>{} : local_addresses()) {
    if (config_.transport == IceTransport::tcp) break;
    auto bound = conn->driver.add_socket(address);
    if (!bound) {
      log_line("warning", "cannot bind " + address.to_string() + ": " + bound.error().message());
      continue;
    }
    if (conn->pc.add_host_socket(now, *bound).ok()) ++sockets;
  }
  stats_.udp_sockets += sockets;
  if (config_.transport != IceTransport::udp && !config_.relay.relay_only)
    sockets += add_tcp_candidates(*conn, now);
  if (sockets == 0 && !config_.relay.relay_only)
    return schedule_retry("no local address to send from");
  conn->pc.end_of_local_sockets(now);
  if (auto s = conn->session.open_channels(now); !s)
    return fatal(2, std::string("cannot create the data channels: ") + s.error().reason);
  auto offer = conn->pc.create_offer(now);
  if (!offer) return fatal(2, std::string("cannot make the offer: ") + offer.error().reason);

  post_sent_at_ = loop_->now();
  answered_at_.reset();
  channels_open_at_.reset();
  timeline_logged_ = false;
  auto published = whip_.publish(*offer);
  if (stop_requested_.load()) {
    // Stopping: a session the server made anyway is ended by the stop task.
    if (published) whip_session_ = std::move(*published);
    return;
  }
  if (!published) {
    if (!published.error().retryable()) return fatal(2, published.error().message);
    return schedule_retry(published.error().message);
  }
  ++stats_.sessions;
  answered_at_ = loop_->now();
  whip_session_ = std::move(*published);
  std::string servers;
  for (const auto& s : whip_session_->ice_servers)
    servers += (servers.empty() ? "" : ", ") + s.url;
  log_line(
      "session",
      whip_session_->resource_url + (servers.empty() ? "" : "; ICE servers offered: " + servers),
      {{"resource", "\"" + json_escape(whip_session_->resource_url) + "\""}});
  for (const auto& note : direct_->set_ice_servers(whip_session_->ice_servers))
    log_line("direct", note);
  now = loop_->now();
  // How long UDP may take before a working TCP pair carries the stream: from this network's
  // round trip as the POST measured it (core/ice, IceConfig::udp_grace).
  conn->pc.set_udp_grace_from_round_trip(*answered_at_ - *post_sent_at_);
  if (auto s = conn->pc.set_remote_description(now, whip_session_->answer); !s) {
    std::string reason = std::string("the server's answer was refused: ") + s.error().reason;
    connection_ = std::move(conn);
    tear_down(reason, true);
    return schedule_retry(reason);
  }
  connection_ = std::move(conn);
  connect_tcp_candidates(*connection_);
  start_relays(*connection_, now);
  setup_deadline_ = now + config_.setup_timeout;
  disconnected_since_.reset();
  restarted_ice_ = false;
  set_state(AgentState::waiting,
            "answer received; connecting ICE, DTLS, SCTP" +
                (config_.transport == IceTransport::automatic
                     ? "; TCP after " + millis(connection_->pc.ice().udp_grace()) + " without UDP"
                     : std::string()));
  on_connection_step(now);
  connection_->driver.wake();
}

// RFC 6544 section 4.5: an active candidate has port 9 (the discard port) in SDP; the driver
// connects from whatever port the kernel picks, which the server learns as peer-reflexive. One
// per address family: the connection's source address is the kernel's choice anyway, so more
// would only open more connections to the same server. Loopback when the server is on
// loopback, otherwise the first other address (of --bind, or the interfaces).
size_t Agent::add_tcp_candidates(Connection& c, Instant now) {
  std::string host = url_host(whip_.endpoint());
  bool server_on_loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  std::vector<SocketAddress> chosen;
  for (const auto& address : local_addresses()) {
    const IpAddress& ip = address.ip();
    if (ip.is_unspecified() || ip.is_link_local()) continue;
    if (config_.bind.empty() && ip.is_loopback() != server_on_loopback) continue;
    bool have_family = std::any_of(chosen.begin(), chosen.end(), [&](const SocketAddress& a) {
      return a.family() == address.family();
    });
    if (!have_family) chosen.emplace_back(ip, 9);
  }
  size_t added = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    ice::Candidate a;
    a.foundation = "tcp" + std::to_string(i + 1);
    a.transport = TransportProtocol::tcp;
    a.tcp_type = ice::TcpType::active;
    a.type = ice::CandidateType::host;
    a.address = chosen[i];
    // RFC 6544 section 4.2: the TCP type preference is below every UDP one, and the local
    // preference carries the direction (active 6 for host candidates).
    const uint32_t other = 8191 - static_cast<uint32_t>(i);
    a.priority = ice::compute_priority(
        ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
        ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::active, other), 1);
    if (c.pc.add_local_candidate(now, a).ok()) ++added;
  }
  return added;
}

// Opens a connection from each active candidate to each passive one of its family that the
// ICE agent knows (from the answer or trickled), once per pair; the agent's checks then run
// over it. Peer-reflexive remote candidates are the server's view of our own connections.
void Agent::connect_tcp_candidates(Connection& c) {
  const auto remote = c.pc.ice().remote_candidates();
  c.remote_candidates_seen = remote.size();
  for (const auto& local : c.pc.ice().local_candidates()) {
    if (local.transport != TransportProtocol::tcp || local.tcp_type != ice::TcpType::active)
      continue;
    for (const auto& r : remote) {
      if (r.transport != TransportProtocol::tcp || r.tcp_type != ice::TcpType::passive ||
          r.type == ice::CandidateType::peer_reflexive ||
          r.address.family() != local.address.family())
        continue;
      auto key = std::make_pair(local.address, r.address);
      if (std::find(c.tcp_opened.begin(), c.tcp_opened.end(), key) != c.tcp_opened.end()) continue;
      c.tcp_opened.push_back(key);
      // Refused with EINVAL when one to the same place is still open after an ICE restart:
      // that one goes on carrying the checks.
      if (auto s = c.driver.add_tcp_connection(local.address, r.address); s)
        ++stats_.tcp_connections;
      else if (s.error().code != EINVAL)
        log_line("warning", "cannot connect to " + r.address.to_string() +
                                " (ICE-TCP): " + s.error().message());
    }
  }
}

// The session's transport counters, added to the agent's when the session ends.
void Agent::count_transport(const Connection& c) {
  stats_.udp_datagrams_sent += c.driver.counters().datagrams_sent;
  stats_.tcp_messages_sent += c.driver.counters().tcp_messages_sent;
}

void Agent::on_connection_step(Instant now) {
  if (!connection_) return;
  Connection& c = *connection_;
  auto drain = [&] {
    while (auto e = c.pc.poll_event()) {
      note_local_candidate(c, *e);
      if (c.session.handle_event(now, *e)) continue;
      if (const auto* f = std::get_if<peer::event::Failed>(&*e)) {
        c.failure = f->reason;
      } else if (const auto* s = std::get_if<peer::event::StateChanged>(&*e)) {
        log_line("peer", peer::to_string(s->state),
                 {{"peer_state", "\"" + std::string(peer::to_string(s->state)) + "\""}});
        if (s->state == peer::PeerState::disconnected) disconnected_since_ = now;
        if (s->state == peer::PeerState::connected) {
          disconnected_since_.reset();
          if (state_ == AgentState::restarting) {
            setup_deadline_.reset();
            set_state(AgentState::streaming, "ICE restart connected");
          }
        }
      }
    }
  };
  drain();
  if (c.pc.ice().remote_candidate_count() != c.remote_candidates_seen) connect_tcp_candidates(c);
  log_relay_events(c);
  while (auto m = c.session.poll_direct_message())
    direct_->handle(now, *m);
  if (state_ == AgentState::waiting && c.session.video_open() && c.session.control_open()) {
    Duration took = state_since_ ? now - *state_since_ : Duration(0);
    setup_deadline_.reset();
    channels_open_at_ = now;
    set_state(AgentState::streaming, "channels open " + millis(took) + " after the answer, over " +
                                         selected_transport(c.pc));
  }
  // The camera runs for the relay session and the direct viewers, whichever is due first.
  if (source_->poll_fd() < 0 && (c.session.capture_due(now) || direct_->capture_due(now)))
    capture(now);
  c.session.handle_timeout(now);
  drain();
  if (!timeline_logged_ && c.session.stats().frames_sent > 0) log_timeline(now);
  if (state_ == AgentState::streaming && state_since_ &&
      now - *state_since_ >= config_.stable_after)
    backoff_.reset();

  // Supervision: decisions that tear down or restart run as their own task, never inside the
  // driver's callback that is using this connection, and at most one per connection.
  if (c.action_pending) return;
  auto defer = [this, &c](std::function<void()> action) {
    c.action_pending = true;
    loop_->add_timer(loop_->now(), [this, generation = c.generation, action] {
      if (connection_ && connection_->generation == generation) action();
    });
  };
  auto replace = [&](std::string reason) {
    defer([this, reason] {
      tear_down(reason, true);
      schedule_retry(reason);
    });
  };
  peer::PeerState ps = c.pc.state();
  if (ps == peer::PeerState::failed || ps == peer::PeerState::closed)
    return replace("connection " + std::string(peer::to_string(ps)) +
                   (c.failure.empty() ? "" : ": " + c.failure));
  if (c.session.channel_lost()) return replace("the server closed a channel");
  if (setup_deadline_ && now >= *setup_deadline_)
    return replace(std::string(state_ == AgentState::restarting ? "ICE restart" : "session") +
                   " not connected within " + seconds_text(config_.setup_timeout));
  if (disconnected_since_ && state_ == AgentState::streaming &&
      now - *disconnected_since_ >= config_.disconnected_grace) {
    if (config_.ice_restart && !restarted_ice_ && whip_session_)
      return defer([this] {
        connection_->action_pending = false;
        restart_ice(loop_->now());
      });
    return replace("disconnected again after an ICE restart");
  }
  c.capture_at.reset();
  if (source_->poll_fd() < 0 && c.session.video_open())
    c.capture_at =
        earliest(std::optional<Instant>(c.session.next_capture(now)), direct_->next_capture(now));
  c.wake_at = setup_deadline_;
  if (disconnected_since_)
    c.wake_at = earliest(c.wake_at,
                         std::optional<Instant>(*disconnected_since_ + config_.disconnected_grace));
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

void Agent::start_relays(Connection& c, Instant now) {
  if (!whip_session_) return;
  auto plan = plan_relays(whip_session_->ice_servers, config_.relay, c.turn_socket);
  if (!plan) {
    // Without a TURN server the session goes on with its host candidates; with the relay
    // policy it cannot connect, and the setup timeout says so.
    if (!whip_session_->ice_servers.empty() || !config_.relay.turn_urls.empty() ||
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
  if (auto s = c.pc.start_relays(now, std::move(plan->gatherer)); !s)
    log_line("relay", std::string("cannot start: ") + s.error().reason);
}

void Agent::note_local_candidate(Connection& c, const peer::PeerEvent& e) {
  const auto* lc = std::get_if<peer::event::LocalCandidate>(&e);
  // Host candidates went with the offer; relayed ones come later and are trickled.
  if (!lc || !lc->candidate || lc->candidate->type != ice::CandidateType::relayed) return;
  if (c.trickle_pending.size() < 16)
    c.trickle_pending.push_back(ice::format_candidate(*lc->candidate));
  if (c.trickle_scheduled || !whip_session_) return;
  c.trickle_scheduled = true;
  // The PATCH blocks: it runs as its own task, never inside the driver's callback.
  loop_->add_timer(loop_->now(),
                   [this, generation = c.generation] { trickle_candidates(generation); });
}

void Agent::trickle_candidates(uint64_t generation) {
  if (!connection_ || connection_->generation != generation || !whip_session_) return;
  Connection& c = *connection_;
  c.trickle_scheduled = false;
  std::vector<std::string> candidates = std::move(c.trickle_pending);
  c.trickle_pending.clear();
  auto sdp = c.pc.local_description();
  if (candidates.empty() || !sdp) return;
  auto fragment = trickle_fragment(*sdp, candidates);
  if (!fragment) return;
  // RFC 9725 section 4.3.1: trickled candidates go to the session's resource by PATCH. The
  // server is ICE-lite and learns our relayed address from our checks anyway; the PATCH keeps
  // its view of our candidates complete.
  auto r = whip_.trickle(*whip_session_, *fragment);
  if (!r)
    log_line("relay", "trickle PATCH failed: " + r.error().message);
  else
    log_line("relay", "trickled " + std::to_string(candidates.size()) + " relayed candidate" +
                          (candidates.size() == 1 ? "" : "s"));
}

void Agent::log_relay_events(Connection& c) {
  while (auto e = c.pc.poll_relay_event()) {
    if (const auto* got = std::get_if<turn::event::RelayedCandidate>(&*e)) {
      log_line("relay",
               "allocated " + got->candidate.address.to_string() + " on " + got->uri + " in " +
                   millis(got->took),
               {{"relayed",
                 ""
                 " + got->candidate.address.to_string() + "
                 ""},
                {"allocation_ms", std::to_string(got->took.count() / 1000)}});
    } else if (const auto* failed = std::get_if<turn::event::ServerFailed>(&*e)) {
      log_line("relay", failed->uri + " failed: " + failed->reason,
               {{"relay_failed",
                 ""
                 " + json_escape(failed->uri) + "
                 ""}});
    } else if (std::get_if<turn::event::GatheringDone>(&*e)) {
      log_line("relay", "every TURN server answered or was given up");
    }
  }
}

void Agent::restart_ice(Instant now) {
  if (!connection_ || !whip_session_) return;
  restarted_ice_ = true;
  disconnected_since_.reset();
  set_state(AgentState::restarting, "no answers from the server for a while");
  auto& pc = connection_->pc;
  pc.restart_ice(now);
  auto offer = pc.create_offer(now);
  if (!offer) {
    tear_down(std::string("cannot make the ICE restart offer: ") + offer.error().reason, true);
    return schedule_retry("ICE restart offer failed");
  }
  auto answer = whip_.restart_ice(*whip_session_, *offer);
  if (stop_requested_.load()) return;
  if (!answer) {
    const WhipError& e = answer.error();
    if (!e.retryable()) {
      tear_down(e.message, true);
      return fatal(2, e.message);
    }
    std::string reason =
        e.kind == WhipErrorKind::not_found ? "the server no longer knows the session" : e.message;
    if (e.kind == WhipErrorKind::not_found) whip_session_.reset();  // nothing to DELETE
    tear_down(reason, true);
    return schedule_retry(reason);
  }
  now = loop_->now();
  if (auto s = pc.set_remote_description(now, *answer); !s) {
    std::string reason =
        std::string("the server's ICE restart answer was refused: ") + s.error().reason;
    tear_down(reason, true);
    return schedule_retry(reason);
  }
  ++stats_.ice_restarts;
  // Connections the server closed meanwhile may be opened again toward the new candidates.
  connection_->tcp_opened.clear();
  connect_tcp_candidates(*connection_);
  setup_deadline_ = now + config_.setup_timeout;
  on_connection_step(now);
  if (connection_) connection_->driver.wake();
}

void Agent::tear_down(const std::string& reason, bool failure) {
  if (failure) {
    ++stats_.failures;
    last_error_ = reason;
    log_line("failure", reason, {});
  }
  if (connection_) {
    const auto& s = connection_->session.stats();
    stats_.frames_sent += s.frames_sent;
    stats_.bytes_sent += s.bytes_sent;
    stats_.frames_dropped += s.frames_replaced + s.send_failures;
    next_sequence_ = connection_->session.next_sequence();
    connection_->pc.close(loop_->now());
    connection_->driver.wake();
    count_transport(*connection_);
    connection_.reset();
  }
  setup_deadline_.reset();
  disconnected_since_.reset();
  if (whip_session_) {
    // A session the server still holds is ended, so its viewers see the device go at once.
    auto ended = whip_.end(*whip_session_, config_.delete_timeout);
    if (!ended && ended.error().kind != WhipErrorKind::cancelled)
      log_line("warning", "ending the session: " + ended.error().message);
    whip_session_.reset();
  }
}

void Agent::schedule_retry(const std::string& reason) {
  if (stop_requested_.load() || stopped_) return;
  last_error_ = reason;
  Duration wait = backoff_.next(rng_.get());
  if (stats_.backoffs.size() < 64) stats_.backoffs.push_back(wait);
  set_state(AgentState::backoff, reason + "; next try in " + seconds_text(wait));
  if (retry_timer_) loop_->cancel_timer(*retry_timer_);
  retry_timer_ = loop_->add_timer(loop_->now() + wait, [this] {
    retry_timer_.reset();
    connect();
  });
}

void Agent::fatal(int code, const std::string& reason) {
  last_error_ = reason;
  log_line("fatal", reason, {});
  exit_code_ = code;
  if (connection_ || whip_session_) tear_down(reason, false);
  stopped_ = true;
  set_state(AgentState::stopped, reason);
  loop_->stop();
}

void Agent::capture(Instant now) {
  if (!connection_) return;
  auto& session = connection_->session;
  const bool relay_due = session.capture_due(now);
  media::CaptureRequest request =
      direct_->capture_request(now, session.capture_request(), relay_due);
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
  auto frame = source_->next(now, settings);
  while (auto note = source_->poll_note())
    log_line("camera", *note);
  if (!frame) {
    if (frame.error().fatal) {
      std::string reason = "camera: " + frame.error().message;
      loop_->add_timer(now, [this, reason] { fatal(1, reason); });
    }
    return;
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
  direct_->offer_frame(now, encoded);
  if (relay_due) session.offer_frame(now, std::move(encoded));
}

void Agent::on_source_readable() {
  Instant now = loop_->now();
  CaptureSettings settings;
  settings.wait = Duration(0);
  const bool relay_due = connection_ && connection_->session.capture_due(now);
  if (connection_)
    settings.quality =
        direct_->capture_request(now, connection_->session.capture_request(), relay_due).quality;
  auto frame = source_->next(now, settings);
  while (auto note = source_->poll_note())
    log_line("camera", *note);
  if (!frame) {
    if (frame.error().fatal) fatal(1, "camera: " + frame.error().message);
    return;
  }
  ++stats_.camera_frames;
  if (!connection_ || (!relay_due && !direct_->capture_due(now))) {
    ++stats_.camera_skipped;  // newest frame wins: a frame not wanted now is dropped
    return;
  }
  media::EncodedFrame encoded;
  encoded.message = std::move(frame->message);
  encoded.width = frame->width;
  encoded.height = frame->height;
  encoded.quality = frame->quality;
  encoded.flags = frame->flags;
  encoded.capture_time = frame->capture_time;
  direct_->offer_frame(now, encoded);
  if (relay_due) connection_->session.offer_frame(now, std::move(encoded));
  connection_->driver.wake();
}

void Agent::print_stats() {
  stats_timer_ = loop_->add_timer(loop_->now() + config_.stats_interval, [this] { print_stats(); });
  if (config_.quiet || !connection_ || state_ != AgentState::streaming) return;
  Instant now = loop_->now();
  const auto& s = connection_->session.stats();
  double elapsed = std::chrono::duration<double>(now - stats_from_).count();
  if (s.frames_sent < stats_frames_from_) stats_frames_from_ = stats_bytes_from_ = 0;
  double fps = elapsed > 0 ? static_cast<double>(s.frames_sent - stats_frames_from_) / elapsed : 0;
  double kbps =
      elapsed > 0 ? static_cast<double>(s.bytes_sent - stats_bytes_from_) * 8 / elapsed / 1000 : 0;
  stats_from_ = now;
  stats_frames_from_ = s.frames_sent;
  stats_bytes_from_ = s.bytes_sent;
  media::TelemetryMessage t = connection_->session.telemetry(now);
  std::string rtt = t.rtt_ms ? std::to_string(*t.rtt_ms) + " ms" : "-";
  std::string latency = s.last_report && s.last_report->latency_ms
                            ? std::to_string(*s.last_report->latency_ms) + " ms"
                            : "-";
  log_line("stats",
           fixed(fps, 1) + " fps, " + fixed(kbps, 0) + " kbit/s, rtt " + rtt + ", quality " +
               std::to_string(t.quality) + ", " + std::to_string(t.width) + "x" +
               std::to_string(t.height) + ", sent " + std::to_string(s.frames_sent) + ", dropped " +
               std::to_string(s.frames_replaced + s.send_failures) + ", latency " + latency,
           {{"fps", fixed(fps, 1)},
            {"kbps", fixed(kbps, 0)},
            {"rtt_ms", t.rtt_ms ? std::to_string(*t.rtt_ms) : "null"},
            {"quality", std::to_string(t.quality)},
            {"sent", std::to_string(s.frames_sent)},
            {"dropped", std::to_string(s.frames_replaced + s.send_failures)}});
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
  timeline_logged_ = true;
  if (!connection_) return;
  const peer::PeerTimeline& t = connection_->pc.stats().timeline;
  auto at = [this](const std::optional<Instant>& i) {
    return i ? std::to_string(wall_us(*i)) : std::string("null");
  };
  auto span = [](const std::optional<Instant>& from, const std::optional<Instant>& to) {
    return from && to ? millis(*to - *from) : std::string("-");
  };
  std::string pacing = config_.session.pacing == media::Pacing::fixed ? "fixed" : "adaptive";
  log_line("timeline",
           "POST to answer " + span(post_sent_at_, answered_at_) + ", ICE " +
               span(answered_at_, t.ice_connected) + ", DTLS " +
               span(t.ice_connected, t.dtls_connected) + ", SCTP " +
               span(t.dtls_connected, t.sctp_connected) + ", channels " +
               span(t.sctp_connected, channels_open_at_) + ", first frame " +
               span(channels_open_at_, now),
           {{"pacing", "\"" + pacing + "\""},
            {"transport", "\"" + selected_transport(connection_->pc) + "\""},
            {"session", std::to_string(stats_.sessions)},
            {"started_us", at(started_at_)},
            {"post_sent_us", at(post_sent_at_)},
            {"answered_us", at(answered_at_)},
            {"ice_connected_us", at(t.ice_connected)},
            {"dtls_connected_us", at(t.dtls_connected)},
            {"sctp_connected_us", at(t.sctp_connected)},
            {"first_channel_open_us", at(t.first_channel_open)},
            {"channels_open_us", at(channels_open_at_)},
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
  if (!started_at_) started_at_ = loop_->now();
  if (!stopped_ && !connection_ && !retry_timer_ && state_ == AgentState::connecting &&
      stats_.publishes == 0)
    retry_timer_ = loop_->add_timer(loop_->now(), [this] {
      retry_timer_.reset();
      connect();
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
  return exit_code_;
}

void Agent::stop() {
  stop_requested_.store(true);
  whip_.cancel();
  loop_->post([this] {
    if (stopped_) return;
    whip_.reset_cancel();
    if (retry_timer_) loop_->cancel_timer(*retry_timer_);
    retry_timer_.reset();
    tear_down("", false);
    stopped_ = true;
    log_summary();
    set_state(AgentState::stopped, "stop requested");
    loop_->stop();
  });
}

}  // namespace cellrtc::device
