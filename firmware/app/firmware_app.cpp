#include "firmware/app/firmware_app.h"

#include <algorithm>

namespace cellrtc::firmware {

const char* to_string(AppState s) {
  switch (s) {
    case AppState::idle:
      return "idle";
    case AppState::modem:
      return "modem";
    case AppState::ppp:
      return "ppp";
    case AppState::streaming:
      return "streaming";
    case AppState::wifi:
      return "wifi";
  }
  return "?";
}

FirmwareApp::FirmwareApp(const FirmwareConfig& config, AppPorts ports, AppTimings timings)
    : config_(config),
      ports_(ports),
      timings_(timings),
      supervisor_(supervisor_config(config), ports.power, ports.random) {}

void FirmwareApp::push_event(AppEvent e) {
  // Bounded: a glue that stops draining loses the oldest log lines, not memory.
  if (events_.size() >= kMaxEventsQueued) events_.pop_front();
  events_.push_back(std::move(e));
}

void FirmwareApp::set_state(Instant now, AppState to, std::string why) {
  if (to == state_) return;
  push_event(app_event::StateChanged{state_, to, std::move(why), now});
  state_ = to;
}

void FirmwareApp::start(Instant now) {
  if (state_ != AppState::idle) return;
  if (config_.uses_wifi()) {
    set_state(now, AppState::wifi, "Wi-Fi bench mode: no modem");
    return;
  }
  set_state(now, AppState::modem, "bringing the modem up");
  supervisor_.start(now);
  pump_supervisor(now);
}

void FirmwareApp::pump_supervisor(Instant now) {
  if (config_.uses_wifi()) return;
  // Each step may queue more of the others (a PPP frame after an event); loop until quiet.
  for (bool moved = true; moved;) {
    moved = false;
    while (auto out = supervisor_.poll_transmit()) {
      moved = true;
      if (ports_.modem) ports_.modem->write(*out);
    }
    while (auto frame = supervisor_.poll_ppp()) {
      moved = true;
      if (data_mode_ && ports_.netif) ports_.netif->input(*frame);
    }
    while (auto e = supervisor_.poll_event()) {
      moved = true;
      if (std::holds_alternative<modem::sup_event::DataModeStarted>(*e)) {
        data_mode_ = true;
        netif_up_ = false;
        ppp_deadline_ = now + timings_.ppp_timeout;
        set_state(now, AppState::ppp, "data call connected");
        if (ports_.netif) ports_.netif->start();
      } else if (auto* stopped = std::get_if<modem::sup_event::DataModeStopped>(&*e)) {
        data_mode_ = false;
        ppp_deadline_.reset();
        netif_up_ = false;
        if (ports_.netif) ports_.netif->stop();
        std::string why = std::string("link lost: ") + modem::to_string(stopped->reason);
        stop_streaming(now, why);
        set_state(now, AppState::modem, why);
      } else if (std::holds_alternative<modem::sup_event::TelemetryUpdated>(*e)) {
        if (state_ == AppState::streaming) send_telemetry(now);
      }
      push_event(app_event::Modem{*e});
    }
  }
}

void FirmwareApp::on_modem_bytes(Instant now, ByteView bytes) {
  if (config_.uses_wifi()) return;
  supervisor_.handle_bytes(now, bytes);
  pump_supervisor(now);
}

void FirmwareApp::on_modem_link_down(Instant now) {
  if (config_.uses_wifi()) return;
  supervisor_.usb_disconnected(now);
  pump_supervisor(now);
}

void FirmwareApp::on_modem_link_up(Instant now) {
  if (config_.uses_wifi()) return;
  supervisor_.usb_connected(now);
  pump_supervisor(now);
}

void FirmwareApp::on_ppp_output(Instant now, ByteView bytes) {
  // lwIP may still flush a frame (LCP terminate) after the call ended: nowhere to go.
  if (!data_mode_) return;
  supervisor_.send_ppp(now, bytes);
  pump_supervisor(now);
}

void FirmwareApp::on_netif_up(Instant now) {
  if (netif_up_) return;
  if (!config_.uses_wifi() && !data_mode_) return;  // a stale event from an older call
  netif_up_ = true;
  ppp_deadline_.reset();
  if (!config_.uses_wifi()) {
    // IPCP finished: the network answered over this call.
    supervisor_.link_alive(now);
    pump_supervisor(now);
  }
  start_streaming(now);
}

void FirmwareApp::on_netif_down(Instant now, bool peer_dead) {
  if (!netif_up_ && !data_mode_) return;
  const bool was_up = netif_up_;
  netif_up_ = false;
  std::string why = peer_dead ? "PPP peer stopped answering" : "PPP closed";
  stop_streaming(now, why);
  if (config_.uses_wifi()) return;
  if (data_mode_) {
    // The call may still be up at the modem: have the supervisor hang up and dial again.
    ++stats_.ppp_failures;
    set_state(now, AppState::modem, why);
    supervisor_.ppp_failed(now);
    pump_supervisor(now);
  } else if (was_up) {
    set_state(now, AppState::modem, why);
  }
}

void FirmwareApp::on_link_alive(Instant now) {
  if (data_mode_) {
    supervisor_.link_alive(now);
    pump_supervisor(now);
  }
}

void FirmwareApp::start_streaming(Instant now) {
  if (state_ == AppState::streaming) return;
  set_state(now, AppState::streaming,
            config_.uses_wifi() ? "Wi-Fi up" : "PPP up: streaming starts");
  ++stats_.streaming_starts;
  last_received_.reset();
  if (ports_.streamer) ports_.streamer->start(now);
  send_telemetry(now);
  maybe_capture(now);
}

void FirmwareApp::stop_streaming(Instant now, std::string why) {
  if (state_ != AppState::streaming) return;
  ++stats_.streaming_stops;
  if (ports_.streamer) ports_.streamer->stop(now);
  next_telemetry_.reset();
  set_state(now, config_.uses_wifi() ? AppState::wifi : AppState::ppp, std::move(why));
}

CameraSettings FirmwareApp::settings_for(const FrameWish& wish) const {
  CameraSettings s;
  s.size = largest_frame_size_within(wish.width, wish.height, config_.frame_size);
  s.jpeg_quality = std::clamp(std::min(wish.quality, config_.jpeg_quality), 1, 100);
  return s;
}

void FirmwareApp::maybe_capture(Instant now) {
  if (state_ != AppState::streaming || camera_deadline_ || !ports_.camera || !ports_.streamer)
    return;
  if (!ports_.streamer->wants_frame(now)) return;
  CameraSettings settings = settings_for(ports_.streamer->frame_wish());
  if (!applied_ || !(*applied_ == settings)) {
    if (Status s = ports_.camera->apply(settings); !s) {
      ++stats_.camera_failures;
      push_event(app_event::CameraFailed{std::string("settings refused: ") + s.error().reason});
    }
    // Not retried frame after frame: the driver keeps its previous settings meanwhile.
    applied_ = settings;
  }
  ++stats_.frames_requested;
  camera_deadline_ = now + timings_.camera_timeout;
  ports_.camera->request_frame();
}

void FirmwareApp::on_camera_frame(Instant now, CameraFrame frame) {
  FrameLease lease(ports_.camera, frame);
  camera_deadline_.reset();
  if (state_ != AppState::streaming || !ports_.streamer) {
    ++stats_.frames_dropped;
    return;  // the lease returns the frame
  }
  ++stats_.frames_offered;
  ports_.streamer->offer_frame(now, std::move(lease));
  maybe_capture(now);
}

void FirmwareApp::on_camera_failed(Instant now, const char* why) {
  camera_deadline_.reset();
  ++stats_.camera_failures;
  push_event(app_event::CameraFailed{why});
  (void)now;  // asked again when the streamer next wants a frame
}

DeviceTelemetry FirmwareApp::telemetry() const {
  DeviceTelemetry t;
  if (!config_.uses_wifi()) {
    const modem::Telemetry& m = supervisor_.telemetry();
    t.rssi_dbm = m.signal_dbm;
    if (m.signal_dbm) t.bars = m.signal_bars;
    t.operator_name = m.operator_name;
    t.technology = m.technology;
  }
  if (ports_.heap) t.heap = ports_.heap->stats();
  return t;
}

void FirmwareApp::send_telemetry(Instant now) {
  if (ports_.streamer) ports_.streamer->set_telemetry(telemetry());
  ++stats_.telemetry_updates;
  next_telemetry_ = now + timings_.telemetry_interval;
}

void FirmwareApp::handle_timeout(Instant now) {
  if (!config_.uses_wifi() && state_ != AppState::idle) {
    supervisor_.handle_timeout(now);
    pump_supervisor(now);
  }
  if (ppp_deadline_ && now >= *ppp_deadline_) {
    ppp_deadline_.reset();
    ++stats_.ppp_failures;
    if (ports_.netif) ports_.netif->stop();
    set_state(now, AppState::modem, "PPP did not come up");
    supervisor_.ppp_failed(now);
    pump_supervisor(now);
  }
  if (camera_deadline_ && now >= *camera_deadline_) {
    camera_deadline_.reset();
    ++stats_.camera_failures;
    push_event(app_event::CameraFailed{"no frame within the camera timeout"});
  }
  if (state_ != AppState::streaming || !ports_.streamer) return;
  ports_.streamer->handle_timeout(now);
  // What the streamer heard from the network proves the cellular link alive (the supervisor's
  // dead-link detection, supervisor.h).
  if (auto heard = ports_.streamer->last_received(); heard && heard != last_received_) {
    last_received_ = heard;
    on_link_alive(now);
  }
  if (next_telemetry_ && now >= *next_telemetry_) send_telemetry(now);
  maybe_capture(now);
}

std::optional<Instant> FirmwareApp::next_timeout() const {
  std::optional<Instant> t;
  if (!config_.uses_wifi() && state_ != AppState::idle) t = supervisor_.next_timeout();
  t = earliest(t, ppp_deadline_);
  t = earliest(t, camera_deadline_);
  if (state_ == AppState::streaming && ports_.streamer) {
    t = earliest(t, next_telemetry_);
    t = earliest(t, ports_.streamer->next_timeout());
    // The next capture, unless a frame is already on its way from the camera.
    if (!camera_deadline_) t = earliest(t, ports_.streamer->next_capture());
  }
  return t;
}

std::optional<AppEvent> FirmwareApp::poll_event() {
  if (events_.empty()) return std::nullopt;
  AppEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace cellrtc::firmware
