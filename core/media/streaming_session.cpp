#include "core/media/streaming_session.h"

#include <algorithm>
#include <cmath>

namespace cellrtc::media {

namespace {

// The smaller of two limits where 0 means none.
template <class T>
T min_limit(T a, T b) {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return std::min(a, b);
}

// With no capture at all while idle (idle_interval 0), how often next_capture() wakes its caller
// anyway: a demand message is an input and recomputes it at once, so this only bounds the wait.
constexpr Duration kNoCaptureRecheck = seconds(60);

double seconds_between(Instant from, Instant to) {
  return std::chrono::duration<double>(to - from).count();
}

// The device's frame-rate limit is the most the controller plans for.
RateControllerConfig rate_config(const StreamingSessionConfig& config) {
  RateControllerConfig rate = config.rate;
  if (config.max_fps > 0) rate.max_fps = std::min(rate.max_fps, config.max_fps);
  return rate;
}

}  // namespace

StreamingSession::StreamingSession(peer::PeerConnection& pc, StreamingSessionConfig config)
    : pc_(pc),
      config_(config),
      controller_(rate_config(config)),
      fixed_sender_(config.fixed),
      next_sequence_(config.first_sequence) {}

Status StreamingSession::open_channels(Instant now) {
  if (video_ || control_) return Error{Errc::invalid_state, "channels already created"};
  // docs/protocol.md: a late frame is worth nothing, so it is never retransmitted or waited for.
  // The original design's sender (fixed pacing) used a reliable ordered channel.
  datachannel::ChannelParameters video_parameters{.label = "video"};
  if (!fixed()) {
    video_parameters.ordered = false;
    video_parameters.max_retransmits = 0u;
  }
  auto video = pc_.create_data_channel(now, video_parameters);
  if (!video) return video.error();
  auto control = pc_.create_data_channel(now, datachannel::ChannelParameters{.label = "control"});
  if (!control) return control.error();
  video_ = *video;
  control_ = *control;
  return {};
}

bool StreamingSession::handle_event(Instant now, const peer::PeerEvent& event) {
  auto ours = [&](uint16_t id) { return id == video_ || id == control_; };
  if (const auto* open = std::get_if<datachannel::event::ChannelOpen>(&event);
      open && accept_offered_) {
    if (open->label == "video" && !video_) video_ = open->id;
    if (open->label == "control" && !control_) control_ = open->id;
  }
  if (const auto* open = std::get_if<datachannel::event::ChannelOpen>(&event)) {
    if (!ours(open->id)) return false;
    if (open->id == video_) {
      video_open_ = true;
      last_sample_.reset();
    } else {
      control_open_ = true;
      next_telemetry_ = now + config_.telemetry_interval;
      telemetry_from_ = now;
      telemetry_frames_from_ = stats_.frames_sent;
      telemetry_bytes_from_ = stats_.bytes_sent;
    }
    return true;
  }
  if (const auto* message = std::get_if<datachannel::event::ChannelMessage>(&event)) {
    if (!ours(message->id)) return false;
    if (message->id == control_) on_control(now, message->data);
    return true;  // nothing is expected on video from the server
  }
  if (const auto* low = std::get_if<datachannel::event::ChannelBufferedAmountLow>(&event)) {
    if (!ours(low->id)) return false;
    try_send(now);
    return true;
  }
  if (const auto* closed = std::get_if<datachannel::event::ChannelClosed>(&event)) {
    if (!ours(closed->id)) return false;
    if ((closed->id == video_ && video_open_) || (closed->id == control_ && control_open_))
      channel_lost_ = true;
    if (closed->id == video_) video_open_ = false;
    if (closed->id == control_) control_open_ = false;
    return true;
  }
  return false;
}

void StreamingSession::on_control(Instant now, const Bytes& data) {
  auto message = decode_device_message(as_chars(data));
  if (!message) {
    ++stats_.control_errors;
    return;
  }
  if (const auto* ping = std::get_if<PingMessage>(&*message)) {
    // docs/protocol.md: answered at once, so the server's offset estimate holds no queueing.
    send_control(now, encode_pong(ping->t, now));
    ++stats_.pings_answered;
  } else if (const auto* set = std::get_if<SetMessage>(&*message)) {
    limits_ = ViewerLimits{set->fps, set->quality, set->width, set->height};
    ++stats_.commands_applied;
  } else if (std::holds_alternative<SnapshotMessage>(*message)) {
    if (!snapshot_asked_) snapshot_asked_ = now;
    ++stats_.commands_applied;
  } else if (std::holds_alternative<DirectOfferPart>(*message) ||
             std::holds_alternative<DirectCandidateMessage>(*message) ||
             std::holds_alternative<DirectCloseMessage>(*message)) {
    // Taken by the agent's direct viewers; a flood beyond the bound is dropped (the server
    // sends an offer's parts, a few candidates and a close per viewer).
    if (direct_messages_.size() < kMaxDirectMessagesQueued)
      direct_messages_.push_back(std::move(*message));
  } else if (const auto* fresh = std::get_if<TurnCredentialsMessage>(&*message)) {
    // For the TURN servers' next allocations (a reallocation after one died); the live ones
    // keep the username they were made with (RFC 8656 section 5).
    pc_.set_relay_credentials(turn::TurnCredentials{fresh->username, fresh->credential});
    ++stats_.turn_credentials_received;
    // The direct viewers' next allocations use them too (the freshest the device holds).
    if (direct_messages_.size() < kMaxDirectMessagesQueued)
      direct_messages_.push_back(std::move(*message));
  } else if (const auto* report = std::get_if<ReportMessage>(&*message)) {
    ++stats_.reports_received;
    stats_.last_report = *report;
    // An idle frame's latency says nothing about the rate the link carries (see on_demand).
    if (report->latency_ms && !idle())
      controller_.on_receiver_report(now, milliseconds(*report->latency_ms));
  } else if (const auto* demand = std::get_if<DemandMessage>(&*message)) {
    on_demand(now, demand->viewers);
  }
  // Unknown types: ignored (docs/protocol.md).
}

void StreamingSession::on_demand(Instant now, uint32_t viewers) {
  bool was_idle = idle();
  viewers_ = viewers;
  ++stats_.demand_received;
  if (!was_idle && idle()) ++stats_.idle_periods;
  if (was_idle && !idle()) {
    // A viewer arrived: the next frame at once, not when the idle interval ends.
    capture_slot_.reset();
    // The rate controller learned nothing while idle (sample_link): an idle frame every few
    // seconds would read as a slow path and drive the bitrate to the floor, then every viewer
    // who arrives would wait for it to climb back. It resumes from the estimate it had, which
    // is the best one there is (a path that got worse shows it within a round trip, and the
    // controller backs off as it always does).
    controller_.resume(now);
    last_sample_.reset();
  }
}

std::optional<DeviceMessage> StreamingSession::poll_direct_message() {
  if (direct_messages_.empty()) return std::nullopt;
  DeviceMessage m = std::move(direct_messages_.front());
  direct_messages_.pop_front();
  return m;
}

void StreamingSession::send_control(Instant now, const std::string& text) {
  if (!control_ || !control_open_) return;
  (void)pc_.send(now, *control_, as_bytes(text), false);
}

double StreamingSession::target_fps() const {
  double fps = min_limit(fixed() ? config_.fixed.fps : controller_.target().fps, config_.max_fps);
  return min_limit(fps, limits_.fps);
}

int StreamingSession::target_quality() const {
  int q = min_limit(fixed() ? config_.fixed.quality : controller_.target().quality,
                    config_.max_quality);
  if (idle()) q = min_limit(q, config_.idle_quality);
  return std::clamp(min_limit(q, limits_.quality), 1, 100);
}

CaptureRequest widest_capture(const CaptureRequest& a, const CaptureRequest& b) {
  auto larger = [](uint16_t x, uint16_t y) -> uint16_t {
    return x == 0 || y == 0 ? 0 : std::max(x, y);
  };
  CaptureRequest r;
  r.quality = std::max(a.quality, b.quality);
  r.width = larger(a.width, b.width);
  r.height = larger(a.height, b.height);
  r.snapshot = a.snapshot || b.snapshot;
  return r;
}

CaptureRequest StreamingSession::capture_request() const {
  CaptureRequest r;
  r.snapshot = snapshot_asked_.has_value();
  r.quality = r.snapshot ? std::clamp(config_.snapshot_quality, 1, 100) : target_quality();
  r.width = min_limit(config_.max_width, limits_.width);
  r.height = min_limit(config_.max_height, limits_.height);
  // The size the link carries (a snapshot is taken at the full size the limits allow).
  if (!r.snapshot && !fixed()) {
    r.width = min_limit(r.width, controller_.target().width);
    r.height = min_limit(r.height, controller_.target().height);
  }
  return r;
}

Instant StreamingSession::next_capture(Instant now) const {
  if (snapshot_asked_ && !snapshot_pending_) return now;
  if (idle() && config_.idle_interval <= Duration(0)) return now + kNoCaptureRecheck;
  if (!capture_slot_) return now;
  return std::max(*capture_slot_ + capture_interval(), now);
}

Duration StreamingSession::capture_interval() const {
  if (idle() && config_.idle_interval > Duration(0)) return config_.idle_interval;
  return Duration(static_cast<int64_t>(1e6 / std::max(target_fps(), 0.1)));
}

bool StreamingSession::capture_due(Instant now) const {
  if (!video_open_ || snapshot_pending_) return false;
  if (snapshot_asked_) return true;
  return next_capture(now) <= now;
}

void StreamingSession::offer_frame(Instant now, EncodedFrame frame) {
  if (frame.message.size() <= kFrameHeaderSize) return;
  bool snapshot = snapshot_asked_.has_value();
  // A snapshot waiting to leave is not replaced by an ordinary frame.
  if (snapshot_pending_ && !snapshot) {
    ++blocked_by_snapshot_;
    stats_.frames_replaced = sender_.stats().replaced + blocked_by_snapshot_;
    return;
  }
  FrameHeader header;
  header.flags = static_cast<uint8_t>(frame.flags | (snapshot ? frame_flags::kSnapshot : 0));
  header.sequence = next_sequence_++;
  header.capture_time_us = static_cast<uint64_t>(std::max<int64_t>(frame.capture_time.us(), 0));
  header.width = frame.width;
  header.height = frame.height;
  header.quality = frame.quality;
  write_frame_header(header, frame.message.data());
  if (frame.quality > 0)
    controller_.on_frame_encoded(frame.quality, frame.message.size() - kFrameHeaderSize,
                                 frame.width, frame.height);
  // Frames are due at the target rate on average: a camera delivering at its own rate hands
  // them over up to one of its intervals after the ideal time, and that lag is not held
  // against the next frame (at most one interval of it, so a pause brings no burst).
  Duration interval = capture_interval();
  capture_slot_ = capture_slot_ ? *capture_slot_ + interval : now;
  if (now - *capture_slot_ > interval || *capture_slot_ > now) capture_slot_ = now;
  last_width_ = frame.width;
  last_height_ = frame.height;
  last_quality_ = frame.quality;
  if (snapshot) {
    snapshot_asked_.reset();
    snapshot_pending_ = true;
  }
  ++stats_.frames_offered;
  if (fixed()) {
    fixed_sender_.offer(std::move(frame.message));
    stats_.frames_replaced = fixed_sender_.stats().replaced + blocked_by_snapshot_;
  } else {
    sender_.offer(std::move(frame.message));
    stats_.frames_replaced = sender_.stats().replaced + blocked_by_snapshot_;
  }
  try_send(now);
}

void StreamingSession::sample_link(Instant now) {
  auto sctp = pc_.stats().sctp;
  if (sctp.srtt) {
    srtt_ = *sctp.srtt;
    have_srtt_ = true;
  }
  // Not while idle: what an idle frame every few seconds is delivered at is our own rate, not
  // the path's (on_demand).
  if (!idle())
    controller_.on_link_sample(now,
                               LinkSample{sctp.delivery_rate_bps, sctp.srtt, sctp.buffered_amount});
  last_sample_ = now;
}

void StreamingSession::try_send(Instant now) {
  if (fixed()) return try_send_fixed(now);
  if (!video_ || !video_open_ || !sender_.pending()) return;
  size_t buffered = pc_.buffered_amount(*video_);
  auto message = sender_.poll(buffered, controller_.target().max_buffered_bytes);
  if (!message) return;
  size_t size = message->size();
  if (pc_.send(now, *video_, *message, true).ok()) {
    ++stats_.frames_sent;
    stats_.bytes_sent += size;
    if (snapshot_pending_) ++stats_.snapshots_sent;
    if (idle()) ++stats_.frames_sent_idle;
  } else {
    ++stats_.send_failures;
  }
  snapshot_pending_ = false;
}

void StreamingSession::try_send_fixed(Instant now) {
  if (!video_ || !video_open_) return;
  const Bytes* message = fixed_sender_.due(now);
  if (!message) return;
  size_t size = message->size();
  if (pc_.send(now, *video_, *message, true).ok()) {
    fixed_sender_.sent();
    ++stats_.frames_sent;
    stats_.bytes_sent += size;
    if (snapshot_pending_) ++stats_.snapshots_sent;
    if (idle()) ++stats_.frames_sent_idle;
    snapshot_pending_ = false;
  } else {
    fixed_sender_.refused(now);  // tried again after the back-off, never given up
  }
}

void StreamingSession::handle_timeout(Instant now) {
  if (video_open_ && (!last_sample_ || now - *last_sample_ >= config_.link_sample_interval))
    sample_link(now);
  if (snapshot_asked_ && now - *snapshot_asked_ > config_.snapshot_timeout) snapshot_asked_.reset();
  try_send(now);
  if (control_open_ && next_telemetry_ && now >= *next_telemetry_) send_telemetry(now);
}

std::optional<Instant> StreamingSession::next_timeout() const {
  std::optional<Instant> at;
  if (video_open_) at = last_sample_ ? *last_sample_ + config_.link_sample_interval : Instant{};
  if (control_open_) at = earliest(at, next_telemetry_);
  if (snapshot_asked_)
    at = earliest(at, std::optional<Instant>(*snapshot_asked_ + config_.snapshot_timeout));
  if (fixed() && video_open_) at = earliest(at, fixed_sender_.next_try());
  return at;
}

TelemetryMessage StreamingSession::telemetry(Instant now) const {
  TelemetryMessage t;
  double elapsed = seconds_between(telemetry_from_, now);
  if (elapsed > 0) {
    t.fps = static_cast<double>(stats_.frames_sent - telemetry_frames_from_) / elapsed;
    t.kbps = static_cast<double>(stats_.bytes_sent - telemetry_bytes_from_) * 8 / elapsed / 1000;
  }
  if (have_srtt_) t.rtt_ms = static_cast<uint32_t>(srtt_.count() / 1000);
  t.quality = last_quality_ > 0 ? last_quality_ : target_quality();
  t.width = last_width_;
  t.height = last_height_;
  t.sent = stats_.frames_sent;
  t.dropped = stats_.frames_replaced + stats_.send_failures;
  t.modem = modem_;
  t.device = device_;
  return t;
}

void StreamingSession::send_telemetry(Instant now) {
  send_control(now, encode_telemetry(telemetry(now)));
  ++stats_.telemetry_sent;
  telemetry_from_ = now;
  telemetry_frames_from_ = stats_.frames_sent;
  telemetry_bytes_from_ = stats_.bytes_sent;
  next_telemetry_ = now + config_.telemetry_interval;
}

}  // namespace cellrtc::media
