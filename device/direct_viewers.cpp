#include "device/direct_viewers.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>

#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "runtime/endpoint_driver.h"

namespace cellrtc::device {

// One direct viewer: its PeerConnection, StreamingSession and sockets, as the driver's endpoint.
class DirectViewers::Viewer : public DatagramEndpoint {
 public:
  Viewer(DirectViewers& owner, std::string viewer_id, peer::PeerConfig config, Random& rng,
         const media::StreamingSessionConfig& session_config, Instant now)
      : owner_(owner),
        id(std::move(viewer_id)),
        pc(std::move(config), rng),
        session(pc, session_config),
        created(now),
        driver(owner.loop_, *this) {
    session.accept_offered_channels();
  }

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    pc.handle_datagram(now, local, from, data);
    owner_.step(*this, now);
  }
  void handle_timeout(Instant now) override {
    pc.handle_timeout(now);
    owner_.step(*this, now);
  }
  std::optional<Transmit> poll_transmit() override { return pc.poll_transmit(); }
  // TURN over TCP/TLS: the connections to the servers are the driver's, the bytes the core's.
  std::optional<StreamCommand> poll_stream_command() override { return pc.poll_stream_command(); }
  void handle_stream_connected(Instant now, uint32_t stream) override {
    pc.handle_stream_connected(now, stream);
    owner_.step(*this, now);
  }
  void handle_stream_data(Instant now, uint32_t stream, ByteView data) override {
    pc.handle_stream_data(now, stream, data);
    owner_.step(*this, now);
  }
  void handle_stream_closed(Instant now, uint32_t stream) override {
    pc.handle_stream_closed(now, stream);
    owner_.step(*this, now);
  }
  // TURN over UDP answered 437: a new local port for that server (RFC 8656 section 7.4).
  std::optional<SocketRequest> poll_socket_request() override { return pc.poll_socket_request(); }
  void handle_socket_bound(Instant now, uint32_t request,
                           const std::optional<SocketAddress>& bound) override {
    pc.handle_socket_bound(now, request, bound);
    owner_.step(*this, now);
  }
  std::optional<Instant> next_timeout() const override {
    if (closing) return pc.next_timeout();  // the relays' deallocation only
    auto at = earliest(pc.next_timeout(), session.next_timeout());
    if (!connected && !leaving)
      at = earliest(at, std::optional<Instant>(created + owner_.config_.connect_timeout));
    if (!answered && !leaving) at = earliest(at, std::optional<Instant>(answer_due));
    return at;
  }

  DirectViewers& owner_;
  std::string id;
  peer::PeerConnection pc;
  media::StreamingSession session;
  Instant created;
  Instant answer_due;     // the answer goes by then even if a TURN server is silent
  bool answered = false;  // the direct-answer was sent
  bool gathered = false;  // every candidate is in (end-of-candidates)
  bool connected = false;
  bool told_live = false;
  bool leaving = false;            // removal scheduled
  bool closing = false;            // closed; its TURN deallocations still in flight
  bool dropping = false;           // closing and done: destruction scheduled
  runtime::EndpointDriver driver;  // last: destroyed first, before what it drives
};

DirectViewers::DirectViewers(runtime::EventLoop& loop, Random& rng,
                             const dtls::Certificate& certificate, DirectViewersConfig config,
                             SendToServer send)
    : loop_(loop),
      rng_(rng),
      certificate_(certificate),
      config_(std::move(config)),
      send_(std::move(send)) {}

DirectViewers::~DirectViewers() {
  close_all(loop_.now());
}

size_t DirectViewers::streaming() const {
  size_t n = 0;
  for (const auto& [id, v] : viewers_)
    if (v->session.video_open()) ++n;
  return n;
}

const media::StreamingStats* DirectViewers::viewer_stats(const std::string& id) const {
  auto it = viewers_.find(id);
  return it == viewers_.end() ? nullptr : &it->second->session.stats();
}

sctp::SctpStats DirectViewers::sctp_counters() const {
  sctp::SctpStats sum;
  for (const auto& [id, v] : viewers_) {
    const sctp::SctpStats s = v->pc.stats().sctp;
    sum.fast_retransmits += s.fast_retransmits;
    sum.retransmitted_chunks += s.retransmitted_chunks;
    sum.rto_expirations += s.rto_expirations;
    sum.backoff_probes += s.backoff_probes;
  }
  return sum;
}

std::vector<std::string> DirectViewers::set_ice_servers(const std::vector<IceServer>& servers) {
  relays_.reset();
  // The socket for TURN over UDP is each viewer's own; any address here says "UDP allowed".
  auto plan = plan_relays(servers, config_.relay, config_.turn_bind);
  if (!plan) {
    no_relays_ = plan.error();
    if (servers.empty() && config_.relay.turn_urls.empty() && !config_.relay.relay_only) return {};
    return {"no relays for direct viewers: " + plan.error()};
  }
  relays_ = std::move(plan->gatherer);
  std::vector<std::string> notes;
  for (const auto& n : plan->notes)
    notes.push_back("direct viewers skip " + n);
  return notes;
}

void DirectViewers::handle(Instant now, const media::DeviceMessage& message) {
  if (const auto* part = std::get_if<media::DirectOfferPart>(&message)) {
    if (part->part == 0 && !part->turn_username.empty()) {
      // TURN REST usernames are "<expiry>:<id>"; fields minted for this offer without that
      // form are taken as the newest.
      int64_t expires = std::numeric_limits<int64_t>::max();
      const std::string& u = part->turn_username;
      const size_t colon = u.find(':');
      if (colon != std::string::npos && colon > 0 && colon <= 18) {
        int64_t parsed = 0;
        auto [end, ec] = std::from_chars(u.data(), u.data() + colon, parsed);
        if (ec == std::errc() && end == u.data() + colon) expires = parsed;
      }
      hold_credentials(turn::TurnCredentials{part->turn_username, part->turn_credential}, expires);
    }
    auto whole = joiner_.add(*part);
    if (!whole) {
      ++stats_.refused;
      send_(media::encode_direct_error(part->id, whole.error().reason));
      return;
    }
    if (whole->has_value()) on_offer(now, part->id, **whole);
  } else if (const auto* pushed = std::get_if<media::TurnCredentialsMessage>(&message)) {
    hold_credentials(turn::TurnCredentials{pushed->username, pushed->credential}, pushed->expires);
  } else if (const auto* c = std::get_if<media::DirectCandidateMessage>(&message)) {
    auto it = viewers_.find(c->id);
    if (it == viewers_.end()) return;
    Viewer& v = *it->second;
    // mDNS (.local) candidates cannot be resolved here: refused by the PeerConnection, and the
    // viewer's checks still arrive (peer-reflexive, RFC 8445 section 7.3.1.3).
    (void)v.pc.add_remote_candidate(now, c->end_of_candidates ? "end-of-candidates" : c->candidate);
    v.driver.wake();
  } else if (const auto* close = std::get_if<media::DirectCloseMessage>(&message)) {
    auto it = viewers_.find(close->id);
    if (it == viewers_.end()) return;
    ++stats_.closed;
    auto v = std::move(it->second);
    viewers_.erase(it);
    retire(now, std::move(v));
  }
}

void DirectViewers::hold_credentials(turn::TurnCredentials credentials, int64_t expires) {
  if (credentials.username.empty()) return;
  if (fresh_credentials_ && expires < fresh_expires_) return;
  fresh_credentials_ = std::move(credentials);
  fresh_expires_ = expires;
}

void DirectViewers::on_offer(Instant now, const std::string& id, const std::string& sdp) {
  ++stats_.offers;
  auto refuse = [&](const std::string& reason) {
    ++stats_.refused;
    note(id + " refused: " + reason);
    send_(media::encode_direct_error(id, reason));
  };
  if (viewers_.count(id)) return refuse("a viewer with this id exists");
  if (viewers_.size() >= config_.max_viewers) return refuse("the device has its direct viewers");
  const bool relay_only = config_.relay.relay_only;
  if (relay_only && !relays_) return refuse("relay policy and " + no_relays_);
  peer::PeerConfig pc_config;
  pc_config.certificate = &certificate_;
  pc_config.ice = config_.ice;  // full ICE; the offerer (the browser) controls
  auto v = std::make_unique<Viewer>(*this, id, pc_config, rng_, config_.session, now);
  size_t sockets = 0;
  // RTCIceTransportPolicy "relay" (RFC 8829 section 4.1.1): no host candidate at all.
  for (const auto& address : relay_only ? std::vector<SocketAddress>{} : config_.bind) {
    auto bound = v->driver.add_socket(address);
    if (bound && v->pc.add_host_socket(now, *bound).ok()) ++sockets;
  }
  bool relaying = false;
  if (relays_) {
    turn::RelayGathererConfig gatherer = *relays_;
    gatherer.now_unix_s = static_cast<int64_t>(std::time(nullptr));
    // The freshest credentials from the server replace those of the WHIP answer, which may
    // have expired in a long session (every server shares the server's secret, as in
    // plan_relays).
    if (fresh_credentials_)
      for (auto& server : gatherer.servers)
        server.credentials = *fresh_credentials_;
    gatherer.udp_local.reset();
    if (std::any_of(gatherer.servers.begin(), gatherer.servers.end(), [](const auto& server) {
          return server.uri.transport == turn::TurnTransport::udp;
        })) {
      if (auto bound = v->driver.add_socket(config_.turn_bind)) gatherer.udp_local = *bound;
    }
    relaying = v->pc.start_relays(now, std::move(gatherer)).ok();
  }
  if (sockets == 0 && !relaying) return refuse("no local address to send from");
  v->pc.end_of_local_sockets(now);
  if (auto s = v->pc.set_remote_description(now, sdp); !s)
    return refuse(std::string("unusable offer: ") + s.error().reason);
  v->answer_due =
      now + (relaying ? std::min(config_.gather_timeout, media::kDirectGatherLimit) : Duration(0));
  Viewer& raw = *v;
  viewers_.emplace(id, std::move(v));
  step(raw, now);
  raw.driver.wake();
}

bool DirectViewers::answer(Viewer& v, Instant now) {
  v.answered = true;
  size_t relayed = 0;
  for (const auto& c : v.pc.ice().local_candidates())
    if (c.type == ice::CandidateType::relayed) ++relayed;
  if (config_.relay.relay_only && relayed == 0) {
    ++stats_.refused;
    remove_later(v.id, media::encode_direct_error(v.id, "no TURN relay allocated in time"));
    return false;
  }
  auto refuse = [&](const std::string& reason) {
    ++stats_.refused;
    remove_later(v.id, media::encode_direct_error(v.id, reason));
    return false;
  };
  auto text = v.pc.create_answer(now);
  if (!text) return refuse(std::string("cannot answer: ") + text.error().reason);
  auto parts = media::encode_direct_answer(v.id, *text);
  if (parts.empty()) return refuse("the answer is too large");
  for (const auto& part : parts)
    send_(part);
  ++stats_.answered;
  if (relayed > 0) ++stats_.relayed_answers;
  if (!v.gathered) ++stats_.gather_timeouts;
  note(v.id + " answered with " + std::to_string(v.pc.ice().local_candidates().size()) +
       " candidates, " + std::to_string(relayed) + " relayed" +
       (v.gathered ? "" : " (a TURN server had not answered yet)"));
  return true;
}

void DirectViewers::step(Viewer& v, Instant now) {
  if (v.closing) {
    if (!v.pc.relays() || v.pc.relays()->closed()) drop_later(v);
    return;
  }
  if (v.leaving) return;
  while (auto e = v.pc.poll_event()) {
    if (const auto* lc = std::get_if<peer::event::LocalCandidate>(&*e); lc && !lc->candidate)
      v.gathered = true;
    if (v.session.handle_event(now, *e)) continue;
    if (const auto* s = std::get_if<peer::event::StateChanged>(&*e)) {
      if (s->state == peer::PeerState::connected && !v.connected) {
        v.connected = true;
        ++stats_.connected;
        send_(media::encode_direct_state(v.id, "connected"));
        note(v.id + " connected");
      }
    }
  }
  if (!v.answered && (v.gathered || now >= v.answer_due) && !answer(v, now)) return;
  // The viewer page learns the stream's state as it would from the server.
  if (v.session.control_open() && !v.told_live) {
    v.told_live = true;
    v.session.send_control_text(now, R"({"type":"state","state":"live"})");
    // Its pings are answered with this device's clock: the offset to the "server" is zero.
    v.session.send_control_text(now, R"({"type":"clock","offset_us":0})");
  }
  v.session.handle_timeout(now);
  peer::PeerState ps = v.pc.state();
  if (ps == peer::PeerState::failed || ps == peer::PeerState::closed)
    return remove_later(v.id, media::encode_direct_state(v.id, "failed"));
  if (v.session.channel_lost())
    return remove_later(v.id, media::encode_direct_state(v.id, "closed"));
  if (!v.connected && now >= v.created + config_.connect_timeout)
    return remove_later(v.id, media::encode_direct_state(v.id, "failed"));
}

// Never inside the viewer's own driver callback: the removal runs as its own task.
void DirectViewers::remove_later(const std::string& id, const std::string& message) {
  auto it = viewers_.find(id);
  if (it == viewers_.end() || it->second->leaving) return;
  it->second->leaving = true;
  note(id + " gone: " + message);
  send_(message);
  loop_.add_timer(loop_.now(), [this, id] {
    auto found = viewers_.find(id);
    if (found == viewers_.end()) return;
    ++stats_.closed;
    auto v = std::move(found->second);
    viewers_.erase(found);
    retire(loop_.now(), std::move(v));
  });
}

void DirectViewers::retire(Instant now, std::unique_ptr<Viewer> v) {
  v->pc.close(now);
  v->driver.wake();
  // RFC 8656 section 7.2: the viewer's allocations are released with a Refresh of LIFETIME 0,
  // retransmitted like any request (RFC 8489 section 6.2.1) until the relays' close_timeout:
  // the viewer's sockets stay until they are done. Without relays it goes now.
  const turn::RelayGatherer* relays = v->pc.relays();
  if (!relays || relays->closed()) return;
  v->leaving = true;
  v->closing = true;
  closing_.push_back(std::move(v));
}

void DirectViewers::drop_later(Viewer& v) {
  if (v.dropping) return;
  v.dropping = true;
  // Never inside the viewer's own driver callback.
  Viewer* raw = &v;
  loop_.add_timer(loop_.now(), [this, raw] {
    closing_.erase(std::remove_if(closing_.begin(), closing_.end(),
                                  [raw](const auto& c) { return c.get() == raw; }),
                   closing_.end());
  });
}

bool DirectViewers::capture_due(Instant now) const {
  for (const auto& [id, v] : viewers_)
    if (!v->leaving && v->session.capture_due(now)) return true;
  return false;
}

std::optional<Instant> DirectViewers::next_capture(Instant now) const {
  std::optional<Instant> at;
  for (const auto& [id, v] : viewers_)
    if (!v->leaving && v->session.video_open())
      at = earliest(at, std::optional<Instant>(v->session.next_capture(now)));
  return at;
}

media::CaptureRequest DirectViewers::capture_request(Instant now,
                                                     const media::CaptureRequest& relay,
                                                     bool relay_due) const {
  std::optional<media::CaptureRequest> r;
  if (relay_due) r = relay;
  for (const auto& [id, v] : viewers_) {
    if (v->leaving || !v->session.capture_due(now)) continue;
    r = r ? media::widest_capture(*r, v->session.capture_request()) : v->session.capture_request();
  }
  return r.value_or(relay);
}

void DirectViewers::offer_frame(Instant now, const media::EncodedFrame& frame) {
  for (auto& [id, v] : viewers_) {
    if (v->leaving || !v->session.capture_due(now)) continue;
    media::EncodedFrame copy = frame;
    v->session.offer_frame(now, std::move(copy));
    v->driver.wake();
  }
}

void DirectViewers::close_all(Instant now) {
  // The device stops: the deallocations go out once, and nobody waits for them.
  for (auto& [id, v] : viewers_) {
    v->pc.close(now);
    v->driver.wake();
  }
  viewers_.clear();
  closing_.clear();
}

}  // namespace cellrtc::device
