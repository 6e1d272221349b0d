#include "core/streamer/publisher.h"

#include <algorithm>
#include <cstdio>

#include "core/common/json_text.h"
#include "core/ice/candidate.h"
#include "core/streamer/stream_path.h"
#include "core/whip/ice_fragment.h"

namespace cellrtc::streamer {

namespace {

using whip::WhipErrorKind;

// Relayed candidates held for one trickle PATCH at most; more are not sent (the server is
// ICE-lite and learns our relayed addresses from our checks anyway).
constexpr size_t kMaxTrickleCandidates = 16;
constexpr size_t kMaxBackoffsKept = 64;

std::string millis(Duration d) {
  return std::to_string(d.count() / 1000) + " ms";
}

std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1e6);
  return buf;
}

}  // namespace

const char* to_string(PublisherState state) {
  switch (state) {
    case PublisherState::connecting:
      return "connecting";
    case PublisherState::waiting:
      return "waiting";
    case PublisherState::streaming:
      return "streaming";
    case PublisherState::restarting:
      return "restarting-ice";
    case PublisherState::backoff:
      return "backoff";
    case PublisherState::stopped:
      return "stopped";
  }
  return "?";
}

struct Publisher::Session {
  Session(peer::PeerConfig config, Random& rng, media::StreamingSessionConfig session_config)
      : pc(std::move(config), rng), streaming(pc, session_config) {}
  peer::PeerConnection pc;
  media::StreamingSession streaming;
  std::string failure;                // the connection's Failed reason
  std::optional<Instant> capture_at;  // CameraMode::pull
  uint64_t generation = 0;
};

Publisher::Publisher(PublisherConfig config, Random& rng, const dtls::Certificate& certificate,
                     PublisherHost& host, CameraMode camera)
    : config_(std::move(config)),
      rng_(rng),
      certificate_(certificate),
      host_(host),
      camera_(camera),
      backoff_(config_.backoff) {}

Publisher::~Publisher() = default;

peer::PeerConnection* Publisher::peer() {
  if (session_) return &session_->pc;
  return closing_ ? &closing_->pc : nullptr;
}
const peer::PeerConnection* Publisher::peer() const {
  if (session_) return &session_->pc;
  return closing_ ? &closing_->pc : nullptr;
}
const media::StreamingSession* Publisher::session() const {
  return session_ ? &session_->streaming : nullptr;
}
media::StreamingSession* Publisher::session() {
  return session_ ? &session_->streaming : nullptr;
}

bool Publisher::done() const {
  return stopped_ && requests_.empty() && !main_request_ && !trickle_request_ &&
         end_requests_.empty() && abandoned_posts_.empty() && !closing_;
}

PublisherStats Publisher::stats() const {
  PublisherStats s = stats_;
  if (session_) {
    const auto& cur = session_->streaming.stats();
    s.frames_sent += cur.frames_sent;
    s.bytes_sent += cur.bytes_sent;
    s.frames_dropped += cur.frames_replaced + cur.send_failures;
  }
  return s;
}

std::optional<PendingRequest> Publisher::poll_request() {
  if (requests_.empty()) return std::nullopt;
  PendingRequest r = std::move(requests_.front());
  requests_.pop_front();
  return r;
}

std::optional<PublisherEvent> Publisher::poll_event() {
  if (events_.empty()) return std::nullopt;
  PublisherEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Publisher::set_modem(std::optional<media::ModemTelemetry> modem) {
  modem_ = std::move(modem);
  if (session_) session_->streaming.set_modem(modem_);
}

void Publisher::set_device_health(std::optional<media::DeviceHealth> health) {
  device_health_ = health;
  if (session_) session_->streaming.set_device_health(device_health_);
}

void Publisher::set_state(Instant now, PublisherState s, const std::string& detail) {
  if (s == state_ && detail.empty()) return;
  state_ = s;
  state_since_ = now;
  events_.push_back(event::StateChanged{s, detail});
}

void Publisher::log(std::string kind, std::string text,
                    std::vector<std::pair<std::string, std::string>> fields) {
  events_.push_back(event::Log{std::move(kind), std::move(text), std::move(fields)});
}

uint64_t Publisher::ask(whip::WhipRequest request, Duration timeout) {
  request.timeout = timeout;
  uint64_t id = next_request_id_++;
  requests_.push_back(PendingRequest{id, std::move(request)});
  return id;
}

void Publisher::start(Instant now) {
  if (started_ && !stopped_) return;
  if (stopped_) {
    // Started again: what the last stop left open goes now, and the retries start over.
    finish_closing(now);
    stopped_ = false;
    backoff_.reset();
  }
  started_ = true;
  timeline_.started = now;
  connect(now);
}

void Publisher::stop(Instant now, StopMode mode) {
  if (stopped_) return;
  retry_at_.reset();
  tear_down(now, "", false, /*close_after_delete=*/mode == StopMode::end_session);
  stopped_ = true;
  action_ = Action::none;
  set_state(now, PublisherState::stopped, "stop requested");
}

void Publisher::abort(Instant now, const std::string& reason) {
  if (stopped_) return;
  last_error_ = reason;
  log("fatal", reason);
  retry_at_.reset();
  tear_down(now, reason, false, /*close_after_delete=*/true);
  stopped_ = true;
  action_ = Action::none;
  set_state(now, PublisherState::stopped, reason);
}

void Publisher::fatal(Instant now, const std::string& reason) {
  abort(now, reason);
  events_.push_back(event::Fatal{reason});
}

void Publisher::connect(Instant now) {
  if (stopped_) return;
  retry_at_.reset();
  set_state(now, PublisherState::connecting, config_.endpoint);
  ++stats_.publishes;
  peer::PeerConfig pc_config;
  pc_config.certificate = &certificate_;
  pc_config.sctp = config_.sctp;
  pc_config.ice.consent_interval = config_.keepalive_interval;
  media::StreamingSessionConfig session_config = config_.session;
  session_config.first_sequence = next_sequence_;
  session_ = std::make_unique<Session>(pc_config, rng_, session_config);
  session_->generation = ++generation_;
  session_->streaming.set_modem(modem_);
  session_->streaming.set_device_health(device_health_);
  first_frame_reported_ = false;
  if (auto why_not = host_.open_session(now, session_->pc)) {
    session_->pc.close(now);
    host_.close_session(now, session_->pc);
    session_.reset();
    return schedule_retry(now, *why_not);
  }
  session_->pc.end_of_local_sockets(now);
  if (auto s = session_->streaming.open_channels(now); !s)
    return fatal(now, std::string("cannot create the data channels: ") + s.error().reason);
  auto offer = session_->pc.create_offer(now);
  if (!offer) return fatal(now, std::string("cannot make the offer: ") + offer.error().reason);
  timeline_.post_sent = now;
  timeline_.answered.reset();
  timeline_.channels_open.reset();
  whip::WhipRequest post = whip::publish_request(config_.endpoint, config_.token, *offer);
  Outstanding o;
  o.request = post;
  o.deadline = now + config_.request_timeout + config_.answer_margin;
  o.generation = generation_;
  o.id = ask(std::move(post), config_.request_timeout);
  main_request_ = std::move(o);
}

void Publisher::handle_response(Instant now, uint64_t id,
                                const whip::WhipResult<whip::HttpResponse>& r) {
  if (main_request_ && main_request_->id == id) {
    Outstanding o = std::move(*main_request_);
    main_request_.reset();
    if (!session_ || session_->generation != o.generation) return;
    if (o.request.kind == whip::WhipRequestKind::publish)
      on_published(now, r ? whip::parse_publish_response(o.request, *r, config_.limits)
                          : whip::WhipResult<whip::WhipSession>(r.error()));
    else if (o.request.kind == whip::WhipRequestKind::ice_restart)
      on_restarted(now, o.request, r);
    return;
  }
  for (auto it = abandoned_posts_.begin(); it != abandoned_posts_.end(); ++it) {
    if (it->id != id) continue;
    // A session the server made after we stopped waiting for it is ended.
    if (r)
      if (auto made = whip::parse_publish_response(it->request, *r, config_.limits))
        end(now, *made);
    abandoned_posts_.erase(it);
    return;
  }
  if (trickle_request_ && trickle_request_->id == id) {
    bool current = session_ && session_->generation == trickle_request_->generation;
    whip::WhipRequest request = std::move(trickle_request_->request);
    trickle_request_.reset();
    auto ok = r ? whip::parse_trickle_response(request, *r, config_.limits)
                : whip::WhipResult<bool>(r.error());
    if (!ok)
      log("relay", "trickle PATCH failed: " + ok.error().message);
    else
      log("relay", "trickled " + std::to_string(trickle_sent_count_) + " relayed candidate" +
                       (trickle_sent_count_ == 1 ? "" : "s"));
    if (current && !stopped_ && !trickle_pending_.empty()) send_trickle(now);
    return;
  }
  for (auto it = end_requests_.begin(); it != end_requests_.end(); ++it) {
    if (it->id != id) continue;
    auto ended = r ? whip::parse_end_response(it->request, *r, config_.limits)
                   : whip::WhipResult<bool>(r.error());
    if (!ended && ended.error().kind != WhipErrorKind::cancelled)
      log("warning", "ending the session: " + ended.error().message);
    end_requests_.erase(it);
    if (closing_delete_ == id) finish_closing(now);
    return;
  }
}

void Publisher::on_published(Instant now, whip::WhipResult<whip::WhipSession> published) {
  if (!published) {
    const whip::WhipError& e = published.error();
    // No session on the server: the PeerConnection goes without a DELETE or a failure count.
    session_->pc.close(now);
    host_.close_session(now, session_->pc);
    session_.reset();
    if (!e.retryable()) return fatal(now, e.message);
    return schedule_retry(now, e.message);
  }
  ++stats_.sessions;
  timeline_.answered = now;
  whip_session_ = std::move(*published);
  std::string servers;
  for (const auto& s : whip_session_->ice_servers)
    servers += (servers.empty() ? "" : ", ") + s.url;
  log("session",
      whip_session_->resource_url + (servers.empty() ? "" : "; ICE servers offered: " + servers),
      {{"resource", json::string_literal(whip_session_->resource_url)}});
  // How long UDP may take before a working TCP pair carries the stream: from this network's
  // round trip as the POST measured it (core/ice, IceConfig::udp_grace).
  session_->pc.set_udp_grace_from_round_trip(now - timeline_.post_sent.value_or(now));
  if (auto s = session_->pc.set_remote_description(now, whip_session_->answer); !s) {
    std::string reason = std::string("the server's answer was refused: ") + s.error().reason;
    tear_down(now, reason, true);
    return schedule_retry(now, reason);
  }
  host_.session_answered(now, session_->pc, *whip_session_, false);
  setup_deadline_ = now + config_.setup_timeout;
  disconnected_since_.reset();
  restarted_ice_ = false;
  set_state(now, PublisherState::waiting,
            "answer received; connecting ICE, DTLS, SCTP" +
                (config_.report_udp_grace
                     ? "; TCP after " + millis(session_->pc.ice().udp_grace()) + " without UDP"
                     : std::string()));
  step(now);
}

void Publisher::restart_ice(Instant now) {
  if (!session_ || !whip_session_) return;
  restarted_ice_ = true;
  disconnected_since_.reset();
  set_state(now, PublisherState::restarting, "no answers from the server for a while");
  auto& pc = session_->pc;
  pc.restart_ice(now);
  auto offer = pc.create_offer(now);
  if (!offer) {
    tear_down(now, std::string("cannot make the ICE restart offer: ") + offer.error().reason, true);
    return schedule_retry(now, "ICE restart offer failed");
  }
  auto patch = whip::ice_restart_request(*whip_session_, config_.token, *offer);
  if (!patch) {
    std::string reason =
        "PATCH " + whip_session_->resource_url + ": our offer has no ICE credentials";
    tear_down(now, reason, true);
    return fatal(now, reason);
  }
  Outstanding o;
  o.request = *patch;
  o.deadline = now + config_.request_timeout + config_.answer_margin;
  o.generation = generation_;
  o.id = ask(std::move(*patch), config_.request_timeout);
  main_request_ = std::move(o);
}

void Publisher::on_restarted(Instant now, const whip::WhipRequest& request,
                             const whip::WhipResult<whip::HttpResponse>& r) {
  if (!whip_session_) return;
  whip::WhipResult<std::string> answer =
      r ? whip::parse_ice_restart_response(request, *r, *whip_session_, config_.limits)
        : whip::WhipResult<std::string>(r.error());
  if (!answer) {
    const whip::WhipError& e = answer.error();
    if (!e.retryable()) {
      tear_down(now, e.message, true);
      return fatal(now, e.message);
    }
    std::string reason =
        e.kind == WhipErrorKind::not_found ? "the server no longer knows the session" : e.message;
    if (e.kind == WhipErrorKind::not_found) whip_session_.reset();  // nothing to DELETE
    tear_down(now, reason, true);
    return schedule_retry(now, reason);
  }
  if (auto s = session_->pc.set_remote_description(now, *answer); !s) {
    std::string reason =
        std::string("the server's ICE restart answer was refused: ") + s.error().reason;
    tear_down(now, reason, true);
    return schedule_retry(now, reason);
  }
  ++stats_.ice_restarts;
  host_.session_answered(now, session_->pc, *whip_session_, true);
  setup_deadline_ = now + config_.setup_timeout;
  step(now);
}

void Publisher::send_trickle(Instant now) {
  if (!session_ || !whip_session_ || trickle_request_ || trickle_pending_.empty()) return;
  auto sdp = session_->pc.local_description();
  if (!sdp) return;
  auto fragment = whip::trickle_fragment(*sdp, trickle_pending_);
  trickle_sent_count_ = trickle_pending_.size();
  trickle_pending_.clear();
  if (!fragment) return;
  // RFC 9725 section 4.3.1: trickled candidates go to the session's resource by PATCH. The
  // server is ICE-lite and learns our relayed address from our checks anyway; the PATCH keeps
  // its view of our candidates complete.
  Outstanding o;
  o.request = whip::trickle_request(*whip_session_, config_.token, *fragment);
  o.deadline = now + config_.request_timeout + config_.answer_margin;
  o.generation = generation_;
  o.id = ask(o.request, config_.request_timeout);
  ++stats_.trickles;
  trickle_request_ = std::move(o);
}

void Publisher::tear_down(Instant now, const std::string& reason, bool failure,
                          bool close_after_delete) {
  if (failure) {
    ++stats_.failures;
    last_error_ = reason;
    log("failure", reason);
  }
  if (session_) {
    const auto& s = session_->streaming.stats();
    stats_.frames_sent += s.frames_sent;
    stats_.bytes_sent += s.bytes_sent;
    stats_.frames_dropped += s.frames_replaced + s.send_failures;
    next_sequence_ = session_->streaming.next_sequence();
    if (close_after_delete && whip_session_) {
      closing_ = std::move(session_);
    } else {
      session_->pc.close(now);
      host_.close_session(now, session_->pc);
      session_.reset();
    }
  }
  // What this session still waited for is no longer wanted; a POST's session, should the
  // server make it anyway, is ended when its answer comes.
  if (main_request_ && main_request_->request.kind == whip::WhipRequestKind::publish)
    abandoned_posts_.push_back(std::move(*main_request_));
  main_request_.reset();
  trickle_pending_.clear();
  setup_deadline_.reset();
  disconnected_since_.reset();
  action_ = Action::none;
  if (whip_session_) {
    // A session the server still holds is ended, so its viewers see the device go at once.
    end(now, *whip_session_);
    if (closing_) closing_delete_ = end_requests_.back().id;
    whip_session_.reset();
  }
}

void Publisher::finish_closing(Instant now) {
  if (!closing_) return;
  closing_->pc.close(now);
  host_.close_session(now, closing_->pc);
  closing_.reset();
  closing_delete_.reset();
}

void Publisher::end(Instant now, const whip::WhipSession& session) {
  Outstanding e;
  e.request = whip::end_request(session, config_.token);
  e.deadline = now + config_.delete_timeout + config_.answer_margin;
  e.id = ask(e.request, config_.delete_timeout);
  end_requests_.push_back(std::move(e));
}

void Publisher::schedule_retry(Instant now, const std::string& reason) {
  if (stopped_) return;
  last_error_ = reason;
  Duration wait = backoff_.next(&rng_);
  if (stats_.backoffs.size() < kMaxBackoffsKept) stats_.backoffs.push_back(wait);
  set_state(now, PublisherState::backoff, reason + "; next try in " + seconds_text(wait));
  retry_at_ = now + wait;
}

void Publisher::handle_timeout(Instant now) {
  // Requests the glue never answered.
  if (main_request_ && now >= main_request_->deadline) {
    uint64_t id = main_request_->id;
    std::string what = main_request_->request.what();
    handle_response(now, id,
                    whip::WhipError{WhipErrorKind::timeout, 0, what + ": timed out: no answer"});
  }
  if (trickle_request_ && now >= trickle_request_->deadline) {
    uint64_t id = trickle_request_->id;
    std::string what = trickle_request_->request.what();
    handle_response(now, id,
                    whip::WhipError{WhipErrorKind::timeout, 0, what + ": timed out: no answer"});
  }
  std::erase_if(end_requests_, [&](const Outstanding& o) { return now >= o.deadline; });
  if (closing_delete_ &&
      std::none_of(end_requests_.begin(), end_requests_.end(),
                   [&](const Outstanding& o) { return o.id == *closing_delete_; }))
    finish_closing(now);
  std::erase_if(abandoned_posts_, [&](const Outstanding& o) { return now >= o.deadline; });
  if (stopped_) return;
  if (action_ != Action::none && session_) {
    Action a = action_;
    action_ = Action::none;
    if (a == Action::restart_ice) {
      restart_ice(now);
    } else {
      std::string reason = std::move(action_reason_);
      tear_down(now, reason, true);
      schedule_retry(now, reason);
    }
    return;
  }
  if (retry_at_ && now >= *retry_at_ && !session_ && !main_request_) {
    retry_at_.reset();
    connect(now);
  }
}

std::optional<Instant> Publisher::next_timeout() const {
  std::optional<Instant> at;
  auto consider = [&](std::optional<Instant> t) { at = earliest(at, t); };
  if (main_request_) consider(main_request_->deadline);
  if (trickle_request_) consider(trickle_request_->deadline);
  for (const auto& e : end_requests_)
    consider(e.deadline);
  for (const auto& e : abandoned_posts_)
    consider(e.deadline);
  if (stopped_) return at;
  if (action_ != Action::none && session_) consider(action_at_);
  consider(retry_at_);
  return at;
}

void Publisher::handle_peer_activity(Instant now) {
  if (session_) return step(now);
  if (closing_)
    while (closing_->pc.poll_event()) {
    }
}

std::optional<Instant> Publisher::peer_timeout() const {
  if (!session_) return closing_ ? closing_->pc.next_timeout() : std::nullopt;
  auto at = earliest(session_->pc.next_timeout(), session_->streaming.next_timeout());
  at = earliest(at, session_->capture_at);
  // The supervision deadlines, checked in step() unless a decision is already taken or a
  // request's answer is awaited (a deadline left in the past would wake the caller at once,
  // again and again).
  if (action_ != Action::none || main_request_) return at;
  at = earliest(at, setup_deadline_);
  if (disconnected_since_ && state_ == PublisherState::streaming)
    at = earliest(at, std::optional<Instant>(*disconnected_since_ + config_.disconnected_grace));
  return at;
}

void Publisher::handle_peer_timeout(Instant now) {
  if (auto* pc = peer()) pc->handle_timeout(now);
  handle_peer_activity(now);
}

bool Publisher::wants_frame(Instant now) const {
  return session_ && session_->streaming.capture_due(now);
}

bool Publisher::offer_frame(Instant now, media::EncodedFrame frame) {
  ++stats_.frames_offered;
  if (!wants_frame(now)) {
    ++stats_.frames_not_wanted;  // newest frame wins: a frame not wanted now is dropped
    return false;
  }
  session_->streaming.offer_frame(now, std::move(frame));
  step(now);
  return true;
}

void Publisher::capture(Instant now) {
  auto frame = host_.capture(now, session_->streaming.capture_request());
  if (!frame || !session_) return;
  ++stats_.frames_offered;
  session_->streaming.offer_frame(now, std::move(*frame));
}

void Publisher::step(Instant now) {
  Session& c = *session_;
  auto drain = [&] {
    while (auto e = c.pc.poll_event()) {
      if (const auto* lc = std::get_if<peer::event::LocalCandidate>(&*e)) {
        // Host candidates went with the offer; relayed ones come later and are trickled.
        if (lc->candidate && lc->candidate->type == ice::CandidateType::relayed &&
            trickle_pending_.size() < kMaxTrickleCandidates)
          trickle_pending_.push_back(ice::format_candidate(*lc->candidate));
        continue;
      }
      if (c.streaming.handle_event(now, *e)) continue;
      if (const auto* f = std::get_if<peer::event::Failed>(&*e)) {
        c.failure = f->reason;
      } else if (const auto* s = std::get_if<peer::event::StateChanged>(&*e)) {
        log("peer", peer::to_string(s->state),
            {{"peer_state", json::string_literal(peer::to_string(s->state))}});
        if (s->state == peer::PeerState::disconnected) disconnected_since_ = now;
        if (s->state == peer::PeerState::connected) {
          disconnected_since_.reset();
          if (state_ == PublisherState::restarting) {
            setup_deadline_.reset();
            set_state(now, PublisherState::streaming, "ICE restart connected");
          }
        }
      }
    }
  };
  drain();
  if (state_ == PublisherState::waiting && c.streaming.video_open() && c.streaming.control_open()) {
    Duration took = state_since_ ? now - *state_since_ : Duration(0);
    setup_deadline_.reset();
    timeline_.channels_open = now;
    set_state(now, PublisherState::streaming,
              "channels open " + millis(took) + " after the answer, over " + selected_path(c.pc));
  }
  if (camera_ == CameraMode::pull && c.streaming.capture_due(now)) capture(now);
  c.streaming.handle_timeout(now);
  drain();
  if (!trickle_pending_.empty()) send_trickle(now);
  if (!first_frame_reported_ && c.streaming.stats().frames_sent > 0) {
    first_frame_reported_ = true;
    events_.push_back(event::FirstFrame{});
  }
  if (state_ == PublisherState::streaming && state_since_ &&
      now - *state_since_ >= config_.stable_after)
    backoff_.reset();

  // Supervision: what tears down or restarts is done by handle_timeout, outside the caller's
  // socket callbacks, at most once per decision.
  c.capture_at.reset();
  if (camera_ == CameraMode::pull && c.streaming.video_open())
    c.capture_at = c.streaming.next_capture(now);
  if (action_ != Action::none || main_request_) return;
  auto replace = [&](std::string reason) {
    action_ = Action::replace;
    action_reason_ = std::move(reason);
    action_at_ = now;
  };
  peer::PeerState ps = c.pc.state();
  if (ps == peer::PeerState::failed || ps == peer::PeerState::closed)
    return replace("connection " + std::string(peer::to_string(ps)) +
                   (c.failure.empty() ? "" : ": " + c.failure));
  if (c.streaming.channel_lost()) return replace("the server closed a channel");
  if (setup_deadline_ && now >= *setup_deadline_)
    return replace(std::string(state_ == PublisherState::restarting ? "ICE restart" : "session") +
                   " not connected within " + seconds_text(config_.setup_timeout));
  if (disconnected_since_ && state_ == PublisherState::streaming &&
      now - *disconnected_since_ >= config_.disconnected_grace) {
    if (config_.ice_restart && !restarted_ice_ && whip_session_) {
      action_ = Action::restart_ice;
      action_at_ = now;
      return;
    }
    return replace("disconnected again after an ICE restart");
  }
}

}  // namespace cellrtc::streamer
