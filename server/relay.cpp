#include "server/relay.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/crypto.h"
#include "core/dtls/certificate.h"
#include "core/media/control_message.h"
#include "core/media/frame_header.h"
#include "core/peer/peer_connection.h"
#include "core/sdp/session_description.h"
#include "core/stun/stun_message.h"
#include "server/control_messages.h"
#include "server/cors.h"
#include "server/deadline_queue.h"
#include "server/direct_messages.h"
#include "server/form_value.h"
#include "server/http_metrics.h"
#include "server/newest_frame_slot.h"
#include "server/resource_id.h"
#include "server/sdpfrag.h"
#include "server/turn_credentials.h"

namespace cellrtc::server {
namespace {

using nlohmann::json;

// docs/protocol.md, "Control channel".
constexpr Duration kPingInterval = seconds(5);
constexpr Duration kReportInterval = seconds(1);
// Demand (docs/protocol.md, "demand"): the relay viewer count goes to the device at once when the
// control channel opens and when the first viewer arrives (someone waits for live frames); a
// fall to none only after it has lasted kDemandIdleDelay (a page reloading leaves and comes back
// within it); other changes at most once per kDemandMinInterval.
constexpr Duration kDemandIdleDelay = seconds(2);
constexpr Duration kDemandMinInterval = seconds(1);
// docs/protocol.md, "WebSocket events": stats every 2 s per online device.
constexpr Duration kStatsInterval = seconds(2);
// A session whose peer never completes ICE, DTLS and SCTP in this time is removed.
constexpr Duration kConnectTimeout = seconds(30);
// Viewer TURN credentials from the open /api/ice-servers are short-lived.
constexpr Duration kViewerTurnTtl = std::chrono::minutes(10);
// Bounds on what the network can make the relay hold.
constexpr size_t kMaxPathsPerSession = 8;  // (local, remote) address pairs learned
constexpr size_t kMaxOutstandingPings = 4;
constexpr size_t kMaxEvents = 4096;  // WebSocket events not yet polled; the oldest go first
constexpr int kMaxFlushRounds = 64;
// Direct mode (docs/protocol.md): how long the device has to answer a forwarded offer; the
// device's gather limit and the way there and back fit in it (core/media/control_message.h).
constexpr Duration kDirectAnswerTimeout = media::kDirectAnswerWait;
// Timer keys of direct viewers, next to the session ids in the same queue.
constexpr std::string_view kDirectTimerPrefix = "direct:";

enum class SessionKind : uint8_t { publish, view };

enum class DeviceStatus : uint8_t { offline, live, reconnecting };

const char* to_string(DeviceStatus s) {
  switch (s) {
    case DeviceStatus::live:
      return "live";
    case DeviceStatus::reconnecting:
      return "reconnecting";
    case DeviceStatus::offline:
      return "offline";
  }
  return "offline";
}

// A (local, remote) address pair on one transport: a UDP 5-tuple, or an ICE-TCP connection.
struct Path {
  SocketAddress local;
  SocketAddress remote;
  TransportProtocol protocol = TransportProtocol::udp;
  auto operator<=>(const Path&) const = default;
  bool operator==(const Path&) const = default;
};

// One WHIP or WHEP resource: a PeerConnection with the peer that created it.
struct Session {
  SessionKind kind = SessionKind::publish;
  std::string id;
  std::string device;
  std::unique_ptr<peer::PeerConnection> pc;
  std::string etag;
  std::string local_ufrag;
  std::string remote_ufrag;
  std::string remote_pwd;
  std::string offer;  // the peer's offer, the base of the offer an ICE restart implies
  std::string mid;    // of the data section
  Instant created;
  bool connected = false;
  bool ended = false;  // closed; removed at the next sweep
  bool dirty = false;  // events or datagrams to drain
  std::optional<uint16_t> video;
  std::optional<uint16_t> control;
  bool video_open = false;
  bool control_open = false;
  std::deque<Path> paths;
  // Viewers: the newest-frame slot and what went out.
  NewestFrameSlot slot;
  size_t last_frame_bytes = 0;
};

// A viewer in direct mode: the device holds its peer connection; the server only signals.
// While `deferred` is set its WHEP POST waits for the device's answer.
struct DirectViewer {
  std::string id;  // the WHEP resource's id, and the id in the direct-* messages
  std::string device;
  DeviceMode mode = DeviceMode::direct;
  Instant created;
  uint64_t deferred = 0;
  HttpRequest request;  // the POST (for CORS and a fall back to the relay)
  std::string etag;
  std::string mid;
  std::string remote_ufrag;
  std::string remote_pwd;
  DirectSdpAssembler answer;
  bool connected = false;
};

struct Device {
  const DeviceEntry* entry = nullptr;
  std::string publisher;  // session id, empty when none
  DeviceStatus status = DeviceStatus::offline;
  int64_t since_unix_us = 0;
  std::optional<Instant> grace_until;
  SharedFrame last_frame;
  std::vector<std::string> viewers;  // session ids
  json telemetry;                    // null until the device sends some
  std::optional<int64_t> clock_offset_us;
  std::deque<uint64_t> pings;  // `t` of pings not yet answered (our send time, us)
  std::optional<Instant> next_ping;
  // Fresh TURN credentials for the publishing session, before the last ones expire.
  std::optional<Instant> next_turn_credentials;
  // Demand (docs/protocol.md): what the publishing session was told last (absent: nothing yet
  // on this session, or its control channel is not open), when, and when `viewers` changed.
  bool demand_ready = false;
  std::optional<size_t> demand_sent;
  Instant demand_sent_at;
  Instant viewers_changed;
  // Receiver report interval (docs/protocol.md).
  std::optional<Instant> next_report;
  Instant interval_start;
  uint64_t interval_frames = 0;
  uint64_t interval_bytes = 0;
  uint64_t interval_lost = 0;
  std::optional<uint32_t> last_seq;
  std::optional<int64_t> latency_ms;
  // Stats window.
  std::optional<Instant> next_stats;
  Instant window_start;
  uint64_t window_frames = 0;
  uint64_t window_bytes = 0;
  double fps = 0;
  double kbps = 0;
};

struct Counters {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t frames_dropped = 0;
  uint64_t frames_invalid = 0;
  uint64_t dtls_failures = 0;
  uint64_t sessions_publish = 0;
  uint64_t sessions_view = 0;
  uint64_t turn_credentials_pushed = 0;  // turn-credentials messages to devices
  uint64_t demand_sent = 0;              // demand messages to devices
  uint64_t packets_unknown = 0;
  uint64_t control_invalid = 0;
  uint64_t direct_answered = 0;  // direct viewers the device answered
  uint64_t direct_to_relay = 0;  // direct-mode viewers served by the relay
  uint64_t direct_timeouts = 0;  // offers the device did not answer in time
};

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The media type of a Content-Type value, parameters stripped, lower case.
std::string media_type(const HttpRequest& request) {
  const std::string* ct = request.header("Content-Type");
  if (!ct) return {};
  std::string_view v = trim(std::string_view(*ct).substr(0, ct->find(';')));
  std::string out(v);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// RFC 6750 section 2.1: "Authorization: Bearer <token>".
std::optional<std::string_view> bearer_token(const HttpRequest& request) {
  const std::string* auth = request.header("Authorization");
  if (!auth || !iequals_prefix(*auth, "Bearer ")) return std::nullopt;
  std::string_view token = trim(std::string_view(*auth).substr(7));
  if (token.empty()) return std::nullopt;
  return token;
}

// RFC 6265 section 5.4: "Cookie: a=b; cellrtc_viewer=token".
std::optional<std::string_view> cookie(const HttpRequest& request, std::string_view name) {
  const std::string* header = request.header("Cookie");
  if (!header) return std::nullopt;
  std::string_view rest = *header;
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view pair = trim(rest.substr(0, semi));
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

bool token_equal(std::string_view a, std::string_view b) {
  return constant_time_equal(as_bytes(a), as_bytes(b));
}

// "2026-11-24T15:00:00Z" (RFC 3339).
std::string iso8601_utc(int64_t unix_us) {
  using namespace std::chrono;
  sys_seconds t{duration_cast<seconds>(microseconds(unix_us))};
  sys_days day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

double round1(double v) {
  return static_cast<double>(static_cast<int64_t>(v * 10 + 0.5)) / 10;
}

int64_t system_unix_time_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = HttpResponse::problem(405, "method not allowed here");
  r.set_header("Allow", std::string(allow));
  return r;
}

constexpr std::string_view kPublishMethods = "POST, OPTIONS";
constexpr std::string_view kResourceMethods = "PATCH, DELETE, OPTIONS";
constexpr std::string_view kApiMethods = "GET, HEAD, OPTIONS";

}  // namespace

struct Relay::Impl {
  Impl(const ServerConfig& c, Random& r, const dtls::Certificate& cert)
      : config(c), rng(r), certificate(cert), unix_time(system_unix_time_us) {
    for (const auto& d : config.devices) {
      Device dev;
      dev.entry = &d;
      devices.emplace(d.id, std::move(dev));
    }
    for (const auto& text : config.relay.public_ips)
      if (auto ip = IpAddress::parse(text)) public_ips.push_back(*ip);
  }

  ServerConfig config;
  Random& rng;
  const dtls::Certificate& certificate;
  std::function<int64_t()> unix_time;
  std::vector<IpAddress> public_ips;
  std::vector<SocketAddress> sockets;
  std::vector<SocketAddress> ice_tcp_listeners;  // passive ICE-TCP candidates (RFC 6544)
  std::map<std::string, std::unique_ptr<Session>> sessions;
  // Each live session's next deadline: handle_timeout() visits the due ones only.
  DeadlineQueue timers;
  std::map<std::string, Device> devices;
  std::map<std::string, std::string> by_ufrag;  // our ICE ufrag -> session id
  std::map<Path, std::string> by_path;          // learned from authenticated checks
  std::vector<std::string> dirty;
  std::deque<Transmit> transmits;
  std::deque<RelayEvent> events;
  Counters counters;
  std::map<std::string, DirectViewer> directs;
  std::deque<DeferredResponse> deferred_responses;
  uint64_t next_deferred = 1;

  // ------------------------------------------------------------------------------------------
  // Lookups and bookkeeping

  Session* find_session(const std::string& id) {
    auto it = sessions.find(id);
    return it == sessions.end() || it->second->ended ? nullptr : it->second.get();
  }

  size_t count_sessions(SessionKind kind) const {
    size_t n = 0;
    for (const auto& [id, s] : sessions)
      if (!s->ended && s->kind == kind) ++n;
    return n;
  }

  void mark(Session& s) {
    if (s.dirty) return;
    s.dirty = true;
    dirty.push_back(s.id);
  }

  void emit(std::string json_text) {
    if (events.size() >= kMaxEvents) events.pop_front();
    events.push_back(RelayEvent{std::move(json_text)});
  }

  void send_text(Instant now, Session& s, std::optional<uint16_t> channel, bool open,
                 std::string_view text) {
    if (!channel || !open || s.ended) return;
    (void)s.pc->send(now, *channel, as_bytes(text), /*binary=*/false);
    mark(s);
  }

  void send_control(Instant now, Session& s, std::string_view text) {
    send_text(now, s, s.control, s.control_open, text);
  }

  void to_viewers(Instant now, Device& dev, std::string_view text) {
    for (const auto& id : dev.viewers)
      if (Session* v = find_session(id)) send_control(now, *v, text);
  }

  void set_status(Instant now, Device& dev, DeviceStatus status) {
    if (dev.status == status) return;
    dev.status = status;
    dev.since_unix_us = unix_time();
    if (status != DeviceStatus::reconnecting) dev.grace_until.reset();
    emit(dump_json({{"type", "device"}, {"id", dev.entry->id}, {"state", to_string(status)}}));
    to_viewers(now, dev, state_json(to_string(status)));
  }

  // ------------------------------------------------------------------------------------------
  // Sessions

  // The candidates we announce: with public_ips configured, each host candidate's address is
  // replaced by the public addresses of its family (a 1:1 NAT or a forwarded port delivers to
  // the bound socket, where checks are answered); candidates of other families stay.
  std::vector<ice::Candidate> announced_candidates(const peer::PeerConnection& pc) const {
    std::vector<ice::Candidate> out;
    for (const auto& c : pc.ice().local_candidates()) {
      if (c.type == ice::CandidateType::peer_reflexive) continue;
      bool replaced = false;
      size_t n = 0;
      for (const auto& ip : public_ips) {
        if (ip.family() != c.address.family()) continue;
        ice::Candidate pub = c;
        pub.address = SocketAddress(ip, c.address.port());
        if (n > 0) pub.foundation += std::to_string(n);
        ++n;
        out.push_back(std::move(pub));
        replaced = true;
      }
      if (!replaced) out.push_back(c);
    }
    return out;
  }

  std::string announce(const peer::PeerConnection& pc, const std::string& answer) const {
    if (public_ips.empty()) return answer;
    auto parsed = sdp::parse_sdp(answer);
    if (!parsed || !parsed->data_section()) return answer;
    parsed->data_section()->candidates = announced_candidates(pc);
    return sdp::write_sdp(*parsed);
  }

  // RFC 6544 section 4.5: a passive host candidate per ICE-TCP listener. Its type preference
  // keeps it below every UDP candidate (candidate.cpp), so a peer that can use UDP does.
  static ice::Candidate passive_tcp_candidate(const SocketAddress& listener, size_t index) {
    ice::Candidate c;
    c.foundation = "tcp" + std::to_string(index + 1);
    c.transport = TransportProtocol::tcp;
    c.tcp_type = ice::TcpType::passive;
    c.type = ice::CandidateType::host;
    c.address = listener;
    const uint32_t other = 8191 - static_cast<uint32_t>(std::min<size_t>(index, 8191));
    c.priority = ice::compute_priority(
        ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
        ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::passive, other), 1);
    return c;
  }

  // Creates the session for an offer; the error is the HTTP answer.
  using Created = std::pair<Session*, HttpResponse>;
  Result<Created, HttpResponse> create_session(Instant now, SessionKind kind,
                                               const std::string& device,
                                               const std::string& offer) {
    if (sockets.empty()) return HttpResponse::problem(503, "the media plane is not ready");
    sdp::SdpLimits limits;
    limits.max_size = config.relay.max_sdp_bytes;
    auto parsed = sdp::parse_sdp(offer, limits);
    if (!parsed) return HttpResponse::problem(400, "bad SDP offer: " + describe(parsed.error()));
    // The offer is well-formed SDP but asks for nothing the relay serves: 422 (RFC 9110
    // section 15.5.21, content understood but not processable) rather than 400, so a client can
    // tell a syntax error from a missing data channel.
    const sdp::MediaSection* data = parsed->data_section();
    if (!data)
      return HttpResponse::problem(422, "the offer has no data channel (m=application) section");

    peer::PeerConfig pc_config;
    pc_config.certificate = &certificate;
    // RFC 8445 section 2.5: the relay is ICE-lite, always controlled; it answers checks.
    pc_config.ice.lite = true;
    pc_config.ice.role = ice::Role::controlled;
    auto s = std::make_unique<Session>();
    s->kind = kind;
    s->id = make_resource_id(rng);
    s->device = device;
    s->created = now;
    s->pc = std::make_unique<peer::PeerConnection>(pc_config, rng);
    for (const auto& bound : sockets)
      (void)s->pc->add_host_socket(now, bound);
    for (size_t i = 0; i < ice_tcp_listeners.size(); ++i)
      (void)s->pc->add_local_candidate(now, passive_tcp_candidate(ice_tcp_listeners[i], i));
    s->pc->end_of_local_sockets(now);
    Status st = s->pc->set_remote_description(now, offer);
    if (!st) return HttpResponse::problem(400, std::string("unusable offer: ") + st.error().reason);
    auto answer = s->pc->create_answer(now);
    if (!answer)
      return HttpResponse::problem(400, std::string("cannot answer: ") + answer.error().reason);
    s->offer = offer;
    s->mid = data->mid;
    s->remote_ufrag = *data->ice_ufrag;
    s->remote_pwd = *data->ice_pwd;
    s->local_ufrag = s->pc->ice().local_credentials().ufrag;
    s->etag = make_etag(rng);

    HttpResponse r;
    r.status = 201;
    r.set_header("Content-Type", "application/sdp");
    r.set_header("ETag", s->etag);
    r.body = announce(*s->pc, *answer);
    int64_t unix_s = unix_time() / 1'000'000;
    std::string user = kind == SessionKind::publish ? device : "viewer-" + device;
    Duration ttl = kind == SessionKind::publish ? config.turn.ttl : kViewerTurnTtl;
    for (auto& link : link_header_values(ice_servers_for(config.turn, unix_s, ttl, user)))
      r.headers.push_back({"Link", std::move(link)});

    by_ufrag[s->local_ufrag] = s->id;
    Session* raw = s.get();
    std::string id = s->id;
    sessions.emplace(id, std::move(s));
    mark(*raw);
    if (kind == SessionKind::publish)
      ++counters.sessions_publish;
    else
      ++counters.sessions_view;
    return Created{raw, std::move(r)};
  }

  // Closes a session and unhooks it from indices and its device; removed at the next sweep.
  // `notify_peer` false drops the DTLS close_notify: for a session the device replaced by
  // publishing again, whose address may already carry the new session's handshake (a device
  // that restarts on the same port), where an alert from the old one would break it.
  //
  // `deliberate`: the peer ended it itself (WHIP DELETE), so a device goes offline at once;
  // otherwise (failure, consent lost, close_notify, replaced) its viewers get the grace period.
  void end_session(Instant now, Session& s, bool notify_peer = true, bool deliberate = false) {
    if (s.ended) return;
    s.pc->close(now);
    while (auto t = s.pc->poll_transmit())
      if (notify_peer) transmits.push_back(std::move(*t));
    while (s.pc->poll_event()) {
    }
    s.ended = true;
    timers.erase(s.id);
    if (auto it = by_ufrag.find(s.local_ufrag); it != by_ufrag.end() && it->second == s.id)
      by_ufrag.erase(it);
    for (const auto& p : s.paths)
      if (auto it = by_path.find(p); it != by_path.end() && it->second == s.id) by_path.erase(it);
    s.paths.clear();
    auto dit = devices.find(s.device);
    if (dit == devices.end()) return;
    Device& dev = dit->second;
    if (s.kind == SessionKind::view) {
      if (std::erase(dev.viewers, s.id) > 0) {
        dev.viewers_changed = now;
        send_demand_if_due(now, dev);
      }
    } else if (dev.publisher == s.id) {
      device_lost(now, dev, deliberate);
    }
  }

  // The device's publishing session ended: its viewers stay for the grace period, unless the
  // device said goodbye (`deliberate`): then it is offline at once and its last frame goes.
  void device_lost(Instant now, Device& dev, bool deliberate) {
    dev.publisher.clear();
    // Its control channel is gone: offers still waiting go to the relay, the other direct
    // viewers are forgotten (the device's connections to them end on their own).
    std::vector<std::string> ids;
    for (const auto& [id, d] : directs)
      if (d.device == dev.entry->id) ids.push_back(id);
    for (const auto& id : ids) {
      DirectViewer& d = directs.at(id);
      if (d.deferred)
        direct_to_relay(now, d, "the device's session ended");
      else
        drop_direct(d.id);
    }
    dev.pings.clear();
    dev.next_ping.reset();
    dev.next_turn_credentials.reset();
    dev.demand_ready = false;
    dev.demand_sent.reset();
    dev.next_report.reset();
    dev.next_stats.reset();
    dev.last_seq.reset();
    if (deliberate) {
      dev.grace_until.reset();
      dev.last_frame.reset();
      set_status(now, dev, DeviceStatus::offline);
    } else if (dev.status == DeviceStatus::live) {
      set_status(now, dev, DeviceStatus::reconnecting);
      dev.grace_until = now + config.relay.reconnect_grace;
    } else if (dev.status == DeviceStatus::reconnecting && !dev.grace_until) {
      dev.grace_until = now + config.relay.reconnect_grace;
    }
  }

  void sweep() {
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->second->ended)
        it = sessions.erase(it);
      else
        ++it;
    }
  }

  void learn_path(Session& s, const Path& p) {
    auto [it, inserted] = by_path.insert_or_assign(p, s.id);
    (void)it;
    if (std::find(s.paths.begin(), s.paths.end(), p) != s.paths.end()) return;
    s.paths.push_back(p);
    if (s.paths.size() > kMaxPathsPerSession) {
      Path old = s.paths.front();
      s.paths.pop_front();
      if (auto o = by_path.find(old); o != by_path.end() && o->second == s.id) by_path.erase(o);
    }
    (void)inserted;
  }

  // Drains events and datagrams of every session that has some, until none has.
  void flush(Instant now) {
    for (int round = 0; round < kMaxFlushRounds && !dirty.empty(); ++round) {
      std::vector<std::string> ids;
      ids.swap(dirty);
      for (const auto& id : ids) {
        auto it = sessions.find(id);
        if (it == sessions.end()) continue;
        Session& s = *it->second;
        s.dirty = false;
        service(now, s);
      }
    }
  }

  void service(Instant now, Session& s) {
    if (s.ended) return;
    while (auto e = s.pc->poll_event()) {
      handle_peer_event(now, s, std::move(*e));
      if (s.ended) return;
    }
    if (s.kind == SessionKind::view) pump_viewer(now, s);
    while (auto t = s.pc->poll_transmit())
      transmits.push_back(std::move(*t));
    arm_timer(s);
  }

  // The session's next deadline: its connection's, and the connect timeout until it connects.
  // Every change to the connection marks the session dirty and is serviced, which re-arms it.
  void arm_timer(const Session& s) {
    std::optional<Instant> t = s.pc->next_timeout();
    if (!s.connected) t = earliest(t, std::optional<Instant>(s.created + kConnectTimeout));
    timers.arm(s.id, t);
  }

  void handle_peer_event(Instant now, Session& s, peer::PeerEvent e) {
    namespace dc = datachannel::event;
    if (auto* st = std::get_if<peer::event::StateChanged>(&e)) {
      if (st->state == peer::PeerState::connected) {
        s.connected = true;
      } else if (st->state == peer::PeerState::disconnected) {
        publisher_silent(now, s);
      } else if (st->state == peer::PeerState::failed || st->state == peer::PeerState::closed) {
        end_session(now, s);
      }
    } else if (auto* f = std::get_if<peer::event::Failed>(&e)) {
      if (f->reason.rfind("DTLS", 0) == 0) ++counters.dtls_failures;
      end_session(now, s);
    } else if (auto* o = std::get_if<dc::ChannelOpen>(&e)) {
      on_channel_open(now, s, *o);
    } else if (auto* m = std::get_if<dc::ChannelMessage>(&e)) {
      on_channel_message(now, s, std::move(*m));
    } else if (auto* c = std::get_if<dc::ChannelClosed>(&e)) {
      if (s.video == c->id) s.video_open = false;
      if (s.control == c->id) {
        s.control_open = false;
        // No demand without a control channel to carry it.
        if (auto dit = devices.find(s.device);
            dit != devices.end() && s.kind == SessionKind::publish && dit->second.publisher == s.id)
          dit->second.demand_ready = false;
      }
    }
    // LocalCandidate: the answer carried every candidate. BufferedAmountLow: service() pumps
    // the viewer after the events.
  }

  // A device's connection went quiet: nothing (ICE check or DTLS) from it on the selected pair
  // for IceConfig::disconnected_after (8 s; its frames and telemetry come far more often, its
  // consent checks every 15 s, RFC 7675). Its viewers see "reconnecting" now
  // rather than when consent expires (30 s) and the session ends, which starts the grace
  // period; a frame on the same session makes it live again.
  void publisher_silent(Instant now, Session& s) {
    if (s.kind != SessionKind::publish) return;
    auto dit = devices.find(s.device);
    if (dit == devices.end() || dit->second.publisher != s.id) return;
    if (dit->second.status == DeviceStatus::live)
      set_status(now, dit->second, DeviceStatus::reconnecting);
  }

  // docs/protocol.md: channels are accepted by label, one of each; any other is closed.
  void on_channel_open(Instant now, Session& s, const datachannel::event::ChannelOpen& o) {
    if (o.label == "video" && !s.video) {
      s.video = o.id;
      s.video_open = true;
      if (s.kind == SessionKind::view) {
        // A new viewer gets the device's latest frame at once.
        if (auto dit = devices.find(s.device); dit != devices.end() && dit->second.last_frame)
          s.slot.offer(dit->second.last_frame);
      }
    } else if (o.label == "control" && !s.control) {
      s.control = o.id;
      s.control_open = true;
      auto dit = devices.find(s.device);
      if (dit == devices.end()) return;
      Device& dev = dit->second;
      if (s.kind == SessionKind::view) {
        send_control(now, s, state_json(to_string(dev.status)));
        if (dev.clock_offset_us) send_control(now, s, clock_json(*dev.clock_offset_us));
        if (!dev.telemetry.is_null()) send_control(now, s, dump_json(dev.telemetry));
      } else if (dev.publisher == s.id) {
        dev.next_ping = now;  // the first ping at once: the clock offset early
        // The WHIP answer's TURN credentials last turn.ttl: new ones at 3/4 of it, and so on.
        if (!config.turn.secret.empty() && !config.turn.urls.empty())
          dev.next_turn_credentials = now + config.turn.ttl * 3 / 4;
        dev.demand_ready = config.relay.demand;
        dev.demand_sent.reset();
        send_demand_if_due(now, dev);
      }
    } else {
      (void)s.pc->close_channel(now, o.id);
    }
    mark(s);
  }

  void on_channel_message(Instant now, Session& s, datachannel::event::ChannelMessage m) {
    auto dit = devices.find(s.device);
    if (dit == devices.end()) return;
    Device& dev = dit->second;
    bool is_publisher = s.kind == SessionKind::publish && dev.publisher == s.id;
    if (s.video && m.id == *s.video) {
      if (is_publisher && m.binary) on_frame(now, dev, std::move(m.data));
      return;  // viewers send no frames
    }
    if (!s.control || m.id != *s.control || m.binary) return;
    auto msg = parse_control_message(as_chars(m.data));
    if (!msg) {
      ++counters.control_invalid;
      return;
    }
    if (is_publisher)
      on_device_control(now, dev, *msg, as_chars(m.data));
    else if (s.kind == SessionKind::view)
      on_viewer_control(now, s, dev, *msg);
  }

  // ------------------------------------------------------------------------------------------
  // Frames

  void on_frame(Instant now, Device& dev, Bytes data) {
    auto frame = media::parse_frame(data);
    if (!frame) {
      ++counters.frames_invalid;  // never forwarded: viewers get whole frames only
      return;
    }
    const media::FrameHeader h = frame->header;
    ++counters.frames_in;
    counters.bytes_in += data.size();
    // Lost frames: gaps in the sequence (the device's own drops included, docs/protocol.md).
    if (dev.last_seq && h.sequence > *dev.last_seq)
      dev.interval_lost += h.sequence - *dev.last_seq - 1;
    if (!dev.last_seq || h.sequence > *dev.last_seq) dev.last_seq = h.sequence;
    ++dev.interval_frames;
    dev.interval_bytes += data.size();
    ++dev.window_frames;
    dev.window_bytes += data.size();
    if (dev.clock_offset_us) {
      int64_t capture_on_server = static_cast<int64_t>(h.capture_time_us) - *dev.clock_offset_us;
      dev.latency_ms = (now.us() - capture_on_server) / 1000;
    }
    if (!dev.next_report) {
      dev.next_report = now + kReportInterval;
      dev.interval_start = now;
    }
    if (!dev.next_stats) {
      dev.next_stats = now + kStatsInterval;
      dev.window_start = now;
    }
    // One immutable buffer for every viewer (moved out of the message, not copied).
    dev.last_frame = make_shared_bytes(std::move(data));
    set_status(now, dev, DeviceStatus::live);
    for (const auto& id : dev.viewers) {
      Session* v = find_session(id);
      if (!v || !v->video_open) continue;
      if (v->slot.offer(dev.last_frame)) ++counters.frames_dropped;
      pump_viewer(now, *v);
    }
  }

  void pump_viewer(Instant now, Session& v) {
    if (v.ended || !v.video || !v.video_open || v.slot.empty()) return;
    if (!viewer_may_send(v.pc->buffered_amount(*v.video), v.last_frame_bytes)) return;
    SharedFrame f = v.slot.take();
    // The frame is not copied: SCTP's chunks reference the one buffer every viewer shares.
    if (v.pc->send(now, *v.video, f, /*binary=*/true)) {
      ++counters.frames_out;
      counters.bytes_out += f->size();
      v.last_frame_bytes = f->size();
      // Resume when what SCTP holds drops to about one frame again.
      v.pc->set_buffered_amount_low_threshold(*v.video, f->size());
    }
    mark(v);
  }

  // ------------------------------------------------------------------------------------------
  // Control channel

  void on_device_control(Instant now, Device& dev, const ControlMessage& msg,
                         std::string_view text) {
    if (on_direct_control(now, dev, msg)) return;
    if (msg.type == "telemetry") {
      dev.telemetry = msg.body;
      to_viewers(now, dev, text);  // forwarded unchanged
      emit(telemetry_event_json(msg, dev.entry->id));
    } else if (auto pong = read_pong(msg)) {
      auto it = std::find(dev.pings.begin(), dev.pings.end(), pong->t);
      if (it == dev.pings.end()) return;  // not a ping of ours, or answered already
      dev.pings.erase(dev.pings.begin(), it + 1);
      int64_t sent_us = static_cast<int64_t>(pong->t);
      int64_t rtt_us = now.us() - sent_us;
      // The device read its clock about half a round trip after we sent.
      dev.clock_offset_us = pong->now_us - (sent_us + rtt_us / 2);
      to_viewers(now, dev, clock_json(*dev.clock_offset_us));
    }
  }

  void on_viewer_control(Instant now, Session& v, Device& dev, const ControlMessage& msg) {
    if (auto t = read_ping_t(msg)) {
      send_control(now, v, pong_json(*t, now.us()));
      return;
    }
    if (msg.type != "set" && msg.type != "snapshot") return;  // unknown types: no answer
    if (!config.relay.viewer_control) {
      send_control(now, v, error_json("viewer control is disabled"));
      return;
    }
    auto command = viewer_command(msg);
    if (!command) {
      send_control(now, v, error_json(command.error().reason));
      return;
    }
    Session* pub = dev.publisher.empty() ? nullptr : find_session(dev.publisher);
    if (!pub || !pub->control_open) {
      send_control(now, v, error_json("the device is not connected"));
      return;
    }
    send_control(now, *pub, *command);
  }

  // ------------------------------------------------------------------------------------------
  // Demand (docs/protocol.md, "demand"): the device's relay viewers, counted from their WHEP 201
  // until they leave or their session ends. Direct viewers are the device's own connections.

  std::optional<Instant> demand_due(const Device& dev) const {
    if (!dev.demand_ready) return std::nullopt;
    size_t viewers = dev.viewers.size();
    if (dev.demand_sent == viewers) return std::nullopt;
    if (!dev.demand_sent || *dev.demand_sent == 0) return dev.viewers_changed;  // at once
    if (viewers == 0)
      return std::max(dev.viewers_changed + kDemandIdleDelay,
                      dev.demand_sent_at + kDemandMinInterval);
    return dev.demand_sent_at + kDemandMinInterval;
  }

  void send_demand_if_due(Instant now, Device& dev) {
    auto due = demand_due(dev);
    if (!due || *due > now) return;
    Session* pub = dev.publisher.empty() ? nullptr : find_session(dev.publisher);
    if (!pub || !pub->control_open) return;
    size_t viewers = dev.viewers.size();
    send_control(now, *pub,
                 media::encode_demand({static_cast<uint32_t>(
                     std::min<size_t>(viewers, std::numeric_limits<uint32_t>::max()))}));
    dev.demand_sent = viewers;
    dev.demand_sent_at = now;
    ++counters.demand_sent;
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  void device_timers(Instant now, Device& dev) {
    if (dev.grace_until && now >= *dev.grace_until) {
      dev.grace_until.reset();
      dev.last_frame.reset();
      set_status(now, dev, DeviceStatus::offline);
    }
    Session* pub = dev.publisher.empty() ? nullptr : find_session(dev.publisher);
    if (!pub) return;
    send_demand_if_due(now, dev);
    if (dev.next_ping && now >= *dev.next_ping) {
      dev.next_ping = now + kPingInterval;
      if (dev.pings.size() >= kMaxOutstandingPings) dev.pings.pop_front();
      auto t = static_cast<uint64_t>(now.us());
      dev.pings.push_back(t);
      send_control(now, *pub, ping_json(t));
    }
    if (dev.next_turn_credentials && now >= *dev.next_turn_credentials) {
      dev.next_turn_credentials = now + config.turn.ttl * 3 / 4;
      const int64_t expires =
          unix_time() / 1'000'000 +
          std::chrono::duration_cast<std::chrono::seconds>(config.turn.ttl).count();
      IceServer fresh = turn_rest_credentials(config.turn.secret, expires, dev.entry->id, {});
      send_control(now, *pub,
                   media::encode_turn_credentials({fresh.username, fresh.credential, expires}));
      ++counters.turn_credentials_pushed;
    }
    if (dev.next_report && now >= *dev.next_report) {
      if (dev.interval_frames > 0) {
        ReceiverReport r;
        r.seq = dev.last_seq.value_or(0);
        r.frames = dev.interval_frames;
        r.bytes = dev.interval_bytes;
        r.interval_ms = (now - dev.interval_start).count() / 1000;
        r.latency_ms = dev.latency_ms;
        r.lost = dev.interval_lost;
        send_control(now, *pub, report_json(r));
        dev.next_report = now + kReportInterval;
      } else {
        dev.next_report.reset();  // frames stopped: the next one restarts the reports
      }
      dev.interval_start = now;
      dev.interval_frames = dev.interval_bytes = dev.interval_lost = 0;
    }
    if (dev.next_stats && now >= *dev.next_stats) {
      double secs = static_cast<double>((now - dev.window_start).count()) / 1e6;
      if (secs > 0) {
        dev.fps = static_cast<double>(dev.window_frames) / secs;
        dev.kbps = static_cast<double>(dev.window_bytes) * 8 / 1000 / secs;
      }
      dev.window_start = now;
      dev.window_frames = dev.window_bytes = 0;
      dev.next_stats = now + kStatsInterval;
      if (dev.status == DeviceStatus::live) {
        json e = {{"type", "stats"},
                  {"id", dev.entry->id},
                  {"fps", round1(dev.fps)},
                  {"kbps", round1(dev.kbps)},
                  {"viewers", dev.viewers.size()}};
        e["latency_ms"] = dev.latency_ms ? json(*dev.latency_ms) : json(nullptr);
        emit(dump_json(e));
      }
    }
  }

  std::optional<Instant> device_deadline(const Device& dev) const {
    std::optional<Instant> t = dev.grace_until;
    if (!dev.publisher.empty()) {
      t = earliest(t, dev.next_ping);
      t = earliest(t, dev.next_turn_credentials);
      t = earliest(t, demand_due(dev));
      t = earliest(t, dev.next_report);
      t = earliest(t, dev.next_stats);
    }
    return t;
  }

  // ------------------------------------------------------------------------------------------
  // JSON views

  json device_json(const Device& dev) const {
    const Session* pub = nullptr;
    if (auto it = sessions.find(dev.publisher); it != sessions.end() && !it->second->ended)
      pub = it->second.get();
    json j = {{"id", dev.entry->id},
              {"online", pub != nullptr && pub->connected &&
                             pub->pc->state() != peer::PeerState::disconnected},
              {"state", to_string(dev.status)},
              {"viewers", dev.viewers.size()},
              {"mode", to_string(device_mode(*dev.entry))},
              {"direct_viewers", count_directs(dev.entry->id)}};
    j["since"] = dev.since_unix_us ? json(iso8601_utc(dev.since_unix_us)) : json(nullptr);
    j["fps"] = round1(dev.fps);
    j["kbps"] = round1(dev.kbps);
    j["latency_ms"] = dev.latency_ms ? json(*dev.latency_ms) : json(nullptr);
    if (!dev.telemetry.is_null()) j["telemetry"] = dev.telemetry;
    return j;
  }

  json devices_json() const {
    json list = json::array();
    for (const auto& d : config.devices)
      if (auto it = devices.find(d.id); it != devices.end())
        list.push_back(device_json(it->second));
    return list;
  }

  // ------------------------------------------------------------------------------------------
  // HTTP

  HttpResponse route(Instant now, const HttpRequest& req) {
    std::string_view path = req.path();
    const std::string& m = req.method;
    if (path == "/whip") {
      if (m == "OPTIONS") return cors_preflight(config.http.cors_origins, req, kPublishMethods);
      if (m == "POST") return publish(now, req);
      return method_not_allowed(kPublishMethods);
    }
    if (path.starts_with("/whip/")) {
      if (m == "OPTIONS") return cors_preflight(config.http.cors_origins, req, kResourceMethods);
      std::string id(path.substr(6));
      Session* s = find_session(id);
      if (!s || s->kind != SessionKind::publish)
        return HttpResponse::problem(404, "no such WHIP session");
      return resource(now, req, *s);
    }
    if (path.starts_with("/whep/")) {
      std::string_view rest = path.substr(6);
      size_t slash = rest.find('/');
      std::string device(rest.substr(0, slash));
      // A preflight is answered before any lookup: the browser sends it without credentials,
      // and only the actual request's status should tell what exists.
      if (m == "OPTIONS")
        return cors_preflight(config.http.cors_origins, req,
                              slash == std::string_view::npos ? kPublishMethods : kResourceMethods);
      if (devices.find(device) == devices.end())
        return HttpResponse::problem(404, "no such device");
      if (slash == std::string_view::npos) {
        if (m == "POST") return view(now, req, device);
        return method_not_allowed(kPublishMethods);
      }
      std::string id(rest.substr(slash + 1));
      if (auto d = directs.find(id);
          d != directs.end() && d->second.device == device && !d->second.deferred)
        return direct_resource(now, req, d->second);
      Session* s = find_session(id);
      if (!s || s->kind != SessionKind::view || s->device != device)
        return HttpResponse::problem(404, "no such WHEP session");
      return resource(now, req, *s);
    }
    if (path == "/api/devices" || path == "/api/ice-servers") {
      if (m == "OPTIONS") return cors_preflight(config.http.cors_origins, req, kApiMethods);
      if (m != "GET" && m != "HEAD") return method_not_allowed(kApiMethods);
      HttpResponse r;
      r.set_header("Content-Type", "application/json");
      r.set_header("Cache-Control", "no-store");
      if (path == "/api/devices") {
        r.body = dump_json(devices_json());
      } else {
        // Open to anyone who can load the viewer page; the TURN credentials it hands out
        // expire after kViewerTurnTtl.
        r.body = ice_servers_json(
            ice_servers_for(config.turn, unix_time() / 1'000'000, kViewerTurnTtl, "viewer"));
      }
      if (m == "HEAD") r.body.clear();
      return r;
    }
    return HttpResponse::problem(404, "not found");
  }

  // Checks shared by WHIP and WHEP POST: the offer's media type and size.
  std::optional<HttpResponse> check_offer(const HttpRequest& req) const {
    if (media_type(req) != "application/sdp") {
      HttpResponse r = HttpResponse::problem(415, "the offer must be application/sdp");
      r.set_header("Accept-Post", "application/sdp");
      return r;
    }
    if (req.body.size() > config.relay.max_sdp_bytes)
      return HttpResponse::problem(413, "the offer is too large");
    return std::nullopt;
  }

  HttpResponse publish(Instant now, const HttpRequest& req) {
    auto token = bearer_token(req);
    // RFC 6750 section 3: a challenge; error="invalid_token" when one was sent but is wrong.
    if (!token) {
      HttpResponse r = HttpResponse::problem(401, "a device token is required");
      r.set_header("WWW-Authenticate", "Bearer realm=\"cellrtc\"");
      return r;
    }
    const DeviceEntry* entry = nullptr;
    for (const auto& d : config.devices) {
      // Every token is compared, each in constant time, so timing says nothing about which.
      bool match = !d.token.empty() && token_equal(*token, d.token);
      if (match && !entry) entry = &d;
    }
    if (!entry) {
      HttpResponse r = HttpResponse::problem(401, "unknown device token");
      r.set_header("WWW-Authenticate", "Bearer realm=\"cellrtc\", error=\"invalid_token\"");
      return r;
    }
    if (auto bad = check_offer(req)) return *bad;
    Device& dev = devices.at(entry->id);
    Session* old = dev.publisher.empty() ? nullptr : find_session(dev.publisher);
    if (!old && count_sessions(SessionKind::publish) >= config.relay.max_devices) {
      HttpResponse r = HttpResponse::problem(503, "too many devices publishing");
      r.set_header("Retry-After", "10");
      return r;
    }
    auto created = create_session(now, SessionKind::publish, entry->id, req.body);
    if (!created) return created.error();
    // A device that publishes again replaces its old session; its viewers stay and see
    // "reconnecting" until the new session's first frame.
    if (old) end_session(now, *old, /*notify_peer=*/false);
    // A grace period that runs keeps running: the new session's first frame ends it (live).
    dev.publisher = created.value().first->id;
    HttpResponse r = std::move(created.value().second);
    r.set_header("Location", "/whip/" + dev.publisher);
    return r;
  }

  HttpResponse view(Instant now, const HttpRequest& req, const std::string& device) {
    Device& dev = devices.at(device);
    if (config.relay.viewers_need_token && !dev.entry->viewer_token.empty()) {
      std::optional<std::string_view> token = bearer_token(req);
      if (!token) token = cookie(req, "cellrtc_viewer");
      std::optional<std::string> query_token;
      if (!token && !req.query_param("token").empty()) {
        // As the viewer page's URLSearchParams encodes it ("%2B" for "+", "+" for a space).
        query_token = decode_form_value(req.query_param("token"));
        if (!query_token)
          return HttpResponse::problem(400, "the token query parameter has a bad %-escape");
        token = *query_token;
      }
      if (!token) {
        HttpResponse r = HttpResponse::problem(401, "this device needs a viewer token");
        r.set_header("WWW-Authenticate", "Bearer realm=\"cellrtc\"");
        return r;
      }
      if (!token_equal(*token, dev.entry->viewer_token))
        return HttpResponse::problem(403, "wrong viewer token");
    }
    if (auto bad = check_offer(req)) return *bad;
    DeviceMode mode = device_mode(*dev.entry);
    if (mode != DeviceMode::relay) {
      std::string why = direct_refusal(dev, req);
      if (why.empty()) return start_direct(now, req, dev, mode);
      ++counters.direct_to_relay;
    }
    if (count_sessions(SessionKind::view) >= config.relay.max_viewers ||
        dev.viewers.size() >= config.relay.max_viewers_per_device) {
      HttpResponse r = HttpResponse::problem(503, "too many viewers");
      r.set_header("Retry-After", "10");
      return r;
    }
    auto created = create_session(now, SessionKind::view, device, req.body);
    if (!created) return created.error();
    Session* s = created.value().first;
    dev.viewers.push_back(s->id);
    dev.viewers_changed = now;
    send_demand_if_due(now, dev);
    HttpResponse r = std::move(created.value().second);
    r.set_header("Location", "/whep/" + device + "/" + s->id);
    r.set_header("Cellrtc-Path", "relay");
    return r;
  }

  // ------------------------------------------------------------------------------------------
  // Direct mode (docs/protocol.md, "Direct mode")

  DeviceMode device_mode(const DeviceEntry& entry) const {
    return direct_policy(config, entry.id).mode;
  }

  size_t direct_limit(const DeviceEntry& entry) const {
    return direct_policy(config, entry.id).direct_viewers;
  }

  Duration direct_timeout(const DeviceEntry& entry) const {
    return direct_policy(config, entry.id).direct_timeout;
  }

  size_t count_directs(const std::string& device) const {
    size_t n = 0;
    for (const auto& [id, d] : directs)
      if (d.device == device) ++n;
    return n;
  }

  Session* device_control(Device& dev) {
    Session* pub = dev.publisher.empty() ? nullptr : find_session(dev.publisher);
    return pub && pub->control_open ? pub : nullptr;
  }

  // Why this offer is not forwarded to the device (then the relay serves it), or empty.
  std::string direct_refusal(Device& dev, const HttpRequest& req) {
    if (req.query_param("path") == "relay") return "the viewer asked for the relay";
    if (count_directs(dev.entry->id) >= direct_limit(*dev.entry))
      return "the device has its direct viewers";
    if (!device_control(dev)) return "the device is not connected";
    if (req.body.size() > kMaxDirectSdpBytes) return "the offer is too large to forward";
    sdp::SdpLimits limits;
    limits.max_size = config.relay.max_sdp_bytes;
    auto parsed = sdp::parse_sdp(req.body, limits);
    if (!parsed || !parsed->data_section() || !parsed->data_section()->ice_ufrag ||
        !parsed->data_section()->ice_pwd)
      return "the offer is not usable";  // the relay's answer says why
    return {};
  }

  HttpResponse start_direct(Instant now, const HttpRequest& req, Device& dev, DeviceMode mode) {
    auto parsed = sdp::parse_sdp(req.body);
    const sdp::MediaSection& data = *parsed->data_section();
    DirectViewer d;
    d.id = make_resource_id(rng);
    d.device = dev.entry->id;
    d.mode = mode;
    d.created = now;
    d.deferred = next_deferred++;
    d.request = req;
    d.etag = make_etag(rng);
    d.mid = data.mid;
    d.remote_ufrag = *data.ice_ufrag;
    d.remote_pwd = *data.ice_pwd;
    Session* pub = device_control(dev);
    // The device's relays for this viewer: credentials as its WHIP answer's, but fresh.
    std::optional<DirectTurnCredentials> turn;
    for (const auto& s :
         ice_servers_for(config.turn, unix_time() / 1'000'000, config.turn.ttl, d.device))
      if (!s.username.empty() && !turn) turn = DirectTurnCredentials{s.username, s.credential};
    for (const auto& text :
         direct_sdp_messages("direct-offer", d.id, req.body, turn ? &*turn : nullptr))
      send_control(now, *pub, text);
    timers.arm(std::string(kDirectTimerPrefix) + d.id, now + kDirectAnswerTimeout);
    HttpResponse r;
    r.deferred = d.deferred;
    directs.emplace(d.id, std::move(d));
    return r;
  }

  void complete(DirectViewer& d, HttpResponse r) {
    if (!d.deferred) return;
    add_cors_headers(config.http.cors_origins, d.request, r);
    deferred_responses.push_back(DeferredResponse{d.deferred, std::move(r)});
    d.deferred = 0;
  }

  void drop_direct(const std::string& id) {
    timers.erase(std::string(kDirectTimerPrefix) + id);
    directs.erase(id);
  }

  void close_direct(Instant now, DirectViewer& d) {
    auto dit = devices.find(d.device);
    if (dit != devices.end())
      if (Session* pub = device_control(dit->second))
        send_control(now, *pub, direct_close_json(d.id));
  }

  // The waiting POST is answered by a relay session made from the same offer.
  void direct_to_relay(Instant now, DirectViewer& d, std::string_view why) {
    (void)why;  // counted by view(): the viewer asked for the relay
    HttpRequest req = d.request;
    req.target += req.query().empty() ? "?path=relay" : "&path=relay";
    HttpResponse r = view(now, req, d.device);
    complete(d, std::move(r));
    drop_direct(d.id);
  }

  void on_direct_answer(Instant now, DirectViewer& d, const DirectSdpPart& part) {
    auto whole = d.answer.add(part);
    if (!whole) {
      close_direct(now, d);
      return direct_to_relay(now, d, whole.error().reason);
    }
    if (!whole->has_value()) return;
    ++counters.direct_answered;
    HttpResponse r;
    r.status = 201;
    r.set_header("Content-Type", "application/sdp");
    r.set_header("ETag", d.etag);
    r.set_header("Location", "/whep/" + d.device + "/" + d.id);
    r.set_header("Cellrtc-Path", "direct");
    if (d.mode == DeviceMode::direct_then_relay) {
      auto dit = devices.find(d.device);
      Duration wait = direct_timeout(*dit->second.entry);
      r.set_header("Cellrtc-Direct-Timeout", std::to_string(wait.count() / 1000));
    }
    r.body = std::move(**whole);
    int64_t unix_s = unix_time() / 1'000'000;
    for (auto& link : link_header_values(
             ice_servers_for(config.turn, unix_s, kViewerTurnTtl, "viewer-" + d.device)))
      r.headers.push_back({"Link", std::move(link)});
    complete(d, std::move(r));
    // Not connected within the connect timeout: forgotten (the device gives up on its own).
    timers.arm(std::string(kDirectTimerPrefix) + d.id, d.created + kConnectTimeout);
  }

  bool on_direct_control(Instant now, Device& dev, const ControlMessage& msg) {
    if (!msg.type.starts_with("direct-")) return false;
    auto mine = [&](const std::string& id) -> DirectViewer* {
      auto it = directs.find(id);
      return it != directs.end() && it->second.device == dev.entry->id ? &it->second : nullptr;
    };
    if (msg.type == "direct-answer") {
      auto part = read_direct_sdp_part(msg);
      if (!part) {
        ++counters.control_invalid;
        return true;
      }
      DirectViewer* d = mine(part->id);
      if (d && d->deferred) on_direct_answer(now, *d, *part);
    } else if (auto st = read_direct_state(msg)) {
      DirectViewer* d = mine(st->id);
      if (!d) return true;
      if (st->state == "connected") {
        d->connected = true;
        timers.erase(std::string(kDirectTimerPrefix) + d->id);
      } else if (st->state == "failed" || st->state == "closed") {
        if (d->deferred)
          direct_to_relay(now, *d, "the device closed the connection");
        else
          drop_direct(d->id);
      }
    } else if (auto e = read_direct_error(msg)) {
      DirectViewer* d = mine(e->id);
      if (!d) return true;
      if (d->deferred)
        direct_to_relay(now, *d, e->reason);
      else
        drop_direct(d->id);
    }
    return true;
  }

  void direct_timer(Instant now, const std::string& id) {
    auto it = directs.find(id);
    if (it == directs.end()) return;
    DirectViewer& d = it->second;
    if (d.deferred) {
      ++counters.direct_timeouts;
      close_direct(now, d);
      if (d.mode == DeviceMode::direct_then_relay)
        return direct_to_relay(now, d, "the device did not answer in time");
      HttpResponse r = HttpResponse::problem(504, "the device did not answer in time");
      r.set_header("Retry-After", "5");
      complete(d, std::move(r));
      drop_direct(d.id);
      return;
    }
    if (!d.connected) {
      close_direct(now, d);
      drop_direct(d.id);
    }
  }

  // PATCH (trickle) and DELETE of a direct viewer's resource: passed on to the device.
  HttpResponse direct_resource(Instant now, const HttpRequest& req, DirectViewer& d) {
    const std::string& m = req.method;
    if (m == "DELETE") {
      close_direct(now, d);
      drop_direct(d.id);
      HttpResponse r;
      r.status = 200;
      return r;
    }
    if (m != "PATCH") return method_not_allowed(kResourceMethods);
    auto frag = read_patch_fragment(req);
    if (!frag) return frag.error();
    const std::string* if_match = req.header("If-Match");
    if (if_match && !if_match_any(*if_match) && *if_match != d.etag)
      return HttpResponse::problem(412, "If-Match does not match the ICE session");
    bool restart = frag->ice_ufrag && frag->ice_pwd &&
                   (*frag->ice_ufrag != d.remote_ufrag || *frag->ice_pwd != d.remote_pwd);
    if (restart) return HttpResponse::problem(409, "a direct connection cannot restart ICE");
    for (const auto& mid : frag->mids)
      if (!mid.empty() && mid != d.mid)
        return HttpResponse::problem(409, "the fragment's mid is not the session's");
    if (frag->ice_ufrag && *frag->ice_ufrag != d.remote_ufrag)
      return HttpResponse::problem(409, "the fragment's ice-ufrag is not the session's");
    auto dit = devices.find(d.device);
    Session* pub = dit == devices.end() ? nullptr : device_control(dit->second);
    if (!pub) return HttpResponse::problem(409, "the device is not connected");
    for (const auto& c : frag->candidates)
      send_control(now, *pub, direct_candidate_json(d.id, ice::format_candidate(c)));
    if (frag->end_of_candidates) send_control(now, *pub, direct_candidate_json(d.id, ""));
    HttpResponse r;
    r.status = 204;
    return r;
  }

  // What every PATCH of a session resource checks first (RFC 9725 section 4.3): its media type,
  // its size and the fragment itself; If-Match and the ICE generation are the caller's.
  Result<SdpFrag, HttpResponse> read_patch_fragment(const HttpRequest& req) const {
    if (media_type(req) != "application/trickle-ice-sdpfrag") {
      HttpResponse r = HttpResponse::problem(415, "PATCH takes application/trickle-ice-sdpfrag");
      r.set_header("Accept-Patch", "application/trickle-ice-sdpfrag");
      return r;
    }
    if (req.body.size() > config.relay.max_sdp_bytes)
      return HttpResponse::problem(413, "the fragment is too large");
    SdpFragLimits limits;
    limits.max_size = config.relay.max_sdp_bytes;
    auto frag = parse_sdpfrag(req.body, limits);
    if (!frag) return HttpResponse::problem(400, "bad SDP fragment: " + frag.error());
    return std::move(*frag);
  }

  // RFC 9110 section 13.1.1: "*" matches any entity tag. RFC 9725's ICE restart example writes
  // it quoted (If-Match: "*"), which is what WHIP clients, ours among them, send: taken as the
  // wildcard too.
  static bool if_match_any(const std::string& if_match) {
    return if_match == "*" || if_match == "\"*\"";
  }

  // PATCH and DELETE on /whip/<id> and /whep/<device>/<id> (RFC 9725 sections 4.3 and 4.4).
  HttpResponse resource(Instant now, const HttpRequest& req, Session& s) {
    const std::string& m = req.method;
    if (m == "DELETE") {
      end_session(now, s, /*notify_peer=*/true, /*deliberate=*/true);
      HttpResponse r;
      r.status = 200;
      return r;
    }
    if (m != "PATCH") return method_not_allowed(kResourceMethods);
    auto frag = read_patch_fragment(req);
    if (!frag) return frag.error();
    const std::string* if_match = req.header("If-Match");
    bool etag_matches = if_match && (if_match_any(*if_match) || *if_match == s.etag);
    bool restart = frag->ice_ufrag && frag->ice_pwd &&
                   (*frag->ice_ufrag != s.remote_ufrag || *frag->ice_pwd != s.remote_pwd);
    // RFC 9725 section 4.3.2: an ICE restart needs If-Match (428 without); section 4.3.1:
    // a wrong entity tag is 412 for trickle and restart alike.
    if (restart && !if_match) return HttpResponse::problem(428, "an ICE restart needs If-Match");
    if (if_match && !etag_matches)
      return HttpResponse::problem(412, "If-Match does not match the ICE session");
    // A fragment for another media section than the one we answered is a conflict with the
    // session's state (409), as is one whose ufrag names an ICE generation we do not have.
    for (const auto& mid : frag->mids)
      if (!mid.empty() && mid != s.mid)
        return HttpResponse::problem(409, "the fragment's mid is not the session's");
    if (restart) return ice_restart(now, s, *frag);
    if (frag->ice_ufrag && *frag->ice_ufrag != s.remote_ufrag)
      return HttpResponse::problem(409, "the fragment's ice-ufrag is not the session's");
    for (const auto& c : frag->candidates)
      (void)s.pc->add_remote_candidate(now, ice::format_candidate(c));  // mDNS: unresolved
    if (frag->end_of_candidates) (void)s.pc->add_remote_candidate(now, "end-of-candidates");
    mark(s);
    HttpResponse r;
    r.status = 204;
    return r;
  }

  // RFC 9725 section 4.3.2 and RFC 8445 section 9: new credentials on both sides; our answer
  // is a fragment with ours and our candidates, and the session gets a new ETag.
  HttpResponse ice_restart(Instant now, Session& s, const SdpFrag& frag) {
    if (s.pc->state() == peer::PeerState::failed || s.pc->state() == peer::PeerState::closed)
      return HttpResponse::problem(409, "the session is closing");
    auto offer = sdp::parse_sdp(s.offer);
    if (!offer || !offer->data_section())
      return HttpResponse::problem(409, "the session cannot restart");
    // The offer the restart implies: the first one with the new credentials and candidates.
    sdp::MediaSection& data = *offer->data_section();
    data.ice_ufrag = *frag.ice_ufrag;
    data.ice_pwd = *frag.ice_pwd;
    if (offer->ice_ufrag) offer->ice_ufrag = *frag.ice_ufrag;
    if (offer->ice_pwd) offer->ice_pwd = *frag.ice_pwd;
    data.candidates.clear();
    for (const auto& c : frag.candidates)
      if (!c.hostname) data.candidates.push_back(c);
    data.end_of_candidates = frag.end_of_candidates;
    offer->end_of_candidates = false;
    std::string new_offer = sdp::write_sdp(*offer);
    s.pc->restart_ice(now);
    Status st = s.pc->set_remote_description(now, new_offer);
    if (!st)
      return HttpResponse::problem(400, std::string("unusable restart: ") + st.error().reason);
    auto answer = s.pc->create_answer(now);
    if (!answer)
      return HttpResponse::problem(400, std::string("cannot answer: ") + answer.error().reason);
    if (auto it = by_ufrag.find(s.local_ufrag); it != by_ufrag.end() && it->second == s.id)
      by_ufrag.erase(it);
    const auto& creds = s.pc->ice().local_credentials();
    s.local_ufrag = creds.ufrag;
    by_ufrag[s.local_ufrag] = s.id;
    s.offer = std::move(new_offer);
    s.remote_ufrag = *frag.ice_ufrag;
    s.remote_pwd = *frag.ice_pwd;
    s.etag = make_etag(rng);
    mark(s);
    HttpResponse r;
    r.status = 200;
    r.set_header("Content-Type", "application/trickle-ice-sdpfrag");
    r.set_header("ETag", s.etag);
    r.body = write_sdpfrag(creds.ufrag, creds.pwd, s.mid, announced_candidates(*s.pc));
    return r;
  }

  // ------------------------------------------------------------------------------------------
  // Datagrams

  // A datagram, or one message out of an ICE-TCP connection's framing: true when it reached a
  // session.
  bool deliver(Instant now, const Path& path, ByteView data) {
    const SocketAddress& local = path.local;
    const SocketAddress& from = path.remote;
    Session* target = nullptr;
    if (stun::looks_like_stun(data)) {
      auto msg = stun::Message::parse(data);
      if (msg && msg->method() == stun::Method::binding && msg->cls() == stun::Class::request) {
        // RFC 8445 section 7.3: USERNAME is "<our ufrag>:<their ufrag>".
        auto username = msg->username();
        if (username) {
          std::string ufrag(username->substr(0, username->find(':')));
          if (auto it = by_ufrag.find(ufrag); it != by_ufrag.end())
            target = find_session(it->second);
        }
        if (!target) {
          ++counters.packets_unknown;
          return false;
        }
        uint32_t before = target->pc->ice().stats().requests_received;
        target->pc->handle_datagram(now, local, from, data, path.protocol);
        // Only a check that passed MESSAGE-INTEGRITY teaches a path.
        const bool authenticated = target->pc->ice().stats().requests_received != before;
        if (authenticated) learn_path(*target, path);
        mark(*target);
        return authenticated;
      }
    }
    if (auto it = by_path.find(path); it != by_path.end()) target = find_session(it->second);
    if (!target) {
      ++counters.packets_unknown;
      return false;
    }
    target->pc->handle_datagram(now, local, from, data, path.protocol);
    mark(*target);
    return true;
  }

  void write_metrics(std::string& out) const {
    auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
      write_metric(out, name, type, help, value);
    };
    size_t online = 0;
    for (const auto& [id, d] : devices)
      if (d.status == DeviceStatus::live) ++online;
    metric("cellrtc_devices_online", "gauge", "Devices streaming now.", online);
    metric("cellrtc_viewers", "gauge", "Viewing sessions now.", count_sessions(SessionKind::view));
    metric("cellrtc_frames_in_total", "counter", "Frames received from devices.",
           counters.frames_in);
    metric("cellrtc_frames_out_total", "counter", "Frames sent to viewers.", counters.frames_out);
    metric("cellrtc_bytes_in_total", "counter", "Frame bytes received from devices.",
           counters.bytes_in);
    metric("cellrtc_bytes_out_total", "counter", "Frame bytes sent to viewers.",
           counters.bytes_out);
    metric("cellrtc_frames_dropped_total", "counter",
           "Frames replaced by a newer one in a viewer's queue before they were sent.",
           counters.frames_dropped);
    metric("cellrtc_frames_invalid_total", "counter",
           "Video messages from devices that were not frames.", counters.frames_invalid);
    metric("cellrtc_dtls_failures_total", "counter", "Sessions that failed in DTLS.",
           counters.dtls_failures);
    metric("cellrtc_unknown_packets_total", "counter",
           "Datagrams that belonged to no session (dropped).", counters.packets_unknown);
    metric("cellrtc_control_invalid_total", "counter",
           "Control messages that were not JSON objects with a type (ignored).",
           counters.control_invalid);
    size_t idle = 0;
    for (const auto& [id, d] : devices)
      if (d.demand_ready && d.demand_sent == 0u) ++idle;
    metric("cellrtc_devices_idle", "gauge",
           "Devices told that no relay viewer watches (they send idle frames only).", idle);
    metric("cellrtc_demand_sent_total", "counter", "Demand messages sent to devices.",
           counters.demand_sent);
    metric("cellrtc_direct_viewers", "gauge", "Direct-mode viewers now (answered or waiting).",
           directs.size());
    metric("cellrtc_direct_answered_total", "counter", "Direct-mode offers the device answered.",
           counters.direct_answered);
    metric("cellrtc_direct_to_relay_total", "counter",
           "Direct-mode viewers served by the relay (limit, device refused or silent).",
           counters.direct_to_relay);
    metric("cellrtc_direct_timeouts_total", "counter",
           "Direct-mode offers the device did not answer in time.", counters.direct_timeouts);
    out += "# HELP cellrtc_sessions_total WHIP (publish) and WHEP (view) sessions created.\n";
    out += "# TYPE cellrtc_sessions_total counter\n";
    out += "cellrtc_sessions_total{kind=\"publish\"} " + std::to_string(counters.sessions_publish) +
           "\n";
    out += "cellrtc_sessions_total{kind=\"view\"} " + std::to_string(counters.sessions_view) + "\n";
    out += "# HELP cellrtc_turn_credentials_pushed_total Fresh TURN credentials sent to devices.\n";
    out += "# TYPE cellrtc_turn_credentials_pushed_total counter\n";
    out += "cellrtc_turn_credentials_pushed_total " +
           std::to_string(counters.turn_credentials_pushed) + "\n";
  }

  void after_input(Instant now) {
    flush(now);
    sweep();
  }
};

// ---------------------------------------------------------------------------------------------

Relay::Relay(const ServerConfig& config, Random& rng, const dtls::Certificate& certificate)
    : impl_(std::make_unique<Impl>(config, rng, certificate)) {}

Relay::~Relay() = default;

void Relay::set_unix_time(std::function<int64_t()> unix_time_us) {
  if (unix_time_us) impl_->unix_time = std::move(unix_time_us);
}

Status Relay::add_media_socket(Instant now, const SocketAddress& bound) {
  (void)now;
  if (bound.port() == 0) return Error{Errc::invalid_argument, "media socket without a port"};
  if (std::find(impl_->sockets.begin(), impl_->sockets.end(), bound) != impl_->sockets.end())
    return Error{Errc::invalid_argument, "media socket added twice"};
  impl_->sockets.push_back(bound);
  return {};
}

bool Relay::serves(std::string_view path) {
  return path == "/whip" || path.starts_with("/whip/") || path.starts_with("/whep/") ||
         path.starts_with("/api/");
}

HttpResponse Relay::handle_http(Instant now, const HttpRequest& request) {
  HttpResponse r = impl_->route(now, request);
  if (request.method != "OPTIONS" && !r.deferred)
    add_cors_headers(impl_->config.http.cors_origins, request, r);
  impl_->after_input(now);
  return r;
}

void Relay::handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                            ByteView data) {
  impl_->deliver(now, Path{local, from, TransportProtocol::udp}, data);
  impl_->after_input(now);
}

Status Relay::add_ice_tcp_listener(Instant now, const SocketAddress& bound) {
  (void)now;
  if (bound.port() == 0 || bound.ip().is_unspecified())
    return Error{Errc::invalid_argument, "ICE-TCP listener needs an address and a port"};
  auto& listeners = impl_->ice_tcp_listeners;
  if (std::find(listeners.begin(), listeners.end(), bound) != listeners.end())
    return Error{Errc::invalid_argument, "ICE-TCP listener added twice"};
  listeners.push_back(bound);
  return {};
}

bool Relay::handle_stream_message(Instant now, const SocketAddress& local,
                                  const SocketAddress& from, ByteView message) {
  bool delivered = impl_->deliver(now, Path{local, from, TransportProtocol::tcp}, message);
  impl_->after_input(now);
  return delivered;
}

void Relay::handle_timeout(Instant now) {
  for (const std::string& id : impl_->timers.take_due(now)) {
    if (id.starts_with(kDirectTimerPrefix)) {
      impl_->direct_timer(now, id.substr(kDirectTimerPrefix.size()));
      continue;
    }
    auto it = impl_->sessions.find(id);
    if (it == impl_->sessions.end() || it->second->ended) continue;
    Session& s = *it->second;
    if (!s.connected && now - s.created >= kConnectTimeout) {
      impl_->end_session(now, s);
      continue;
    }
    if (auto t = s.pc->next_timeout(); t && *t <= now) s.pc->handle_timeout(now);
    impl_->arm_timer(s);
    impl_->mark(s);
  }
  for (auto& [id, d] : impl_->devices)
    impl_->device_timers(now, d);
  impl_->after_input(now);
}

std::optional<Transmit> Relay::poll_transmit() {
  if (impl_->transmits.empty()) return std::nullopt;
  Transmit t = std::move(impl_->transmits.front());
  impl_->transmits.pop_front();
  return t;
}

std::optional<Instant> Relay::next_timeout() const {
  std::optional<Instant> t = impl_->timers.next();
  for (const auto& [id, d] : impl_->devices)
    t = earliest(t, impl_->device_deadline(d));
  return t;
}

std::optional<RelayEvent> Relay::poll_event() {
  if (impl_->events.empty()) return std::nullopt;
  RelayEvent e = std::move(impl_->events.front());
  impl_->events.pop_front();
  return e;
}

std::optional<DeferredResponse> Relay::poll_deferred_response() {
  if (impl_->deferred_responses.empty()) return std::nullopt;
  DeferredResponse r = std::move(impl_->deferred_responses.front());
  impl_->deferred_responses.pop_front();
  return r;
}

std::string Relay::devices_event_json(Instant now) const {
  (void)now;
  return dump_json({{"type", "devices"}, {"devices", impl_->devices_json()}});
}

void Relay::write_metrics(std::string& out) const {
  impl_->write_metrics(out);
}

void Relay::close_all(Instant now) {
  for (auto& [id, s] : impl_->sessions)
    impl_->end_session(now, *s);
  for (auto& [id, d] : impl_->devices) {
    d.grace_until.reset();
    d.last_frame.reset();
    impl_->set_status(now, d, DeviceStatus::offline);
  }
  impl_->after_input(now);
}

}  // namespace cellrtc::server
