// The firmware's application logic, portable and sans-IO: the modem connection supervisor
// brings the cellular link up; in data mode the PPP interface negotiates; once it has an
// address the streamer starts and the camera is asked for frames as the streamer wants them;
// when the link is lost streaming pauses (the session and its frames dropped) while the
// supervisor recovers, and resumes when PPP is up again. Telemetry (signal, operator,
// technology, heap) goes to the streamer every telemetry_interval.
//
//   FirmwareApp app(config, ports);
//   app.start(now);
//   app.on_modem_bytes(now, bytes);        // from the USB CDC / UART receive callback
//   app.on_ppp_output(now, frame);         // lwIP's PPP output
//   app.on_netif_up(now) / on_netif_down(now, lcp_dead);
//   app.on_camera_frame(now, frame);       // the frame asked for by Camera::request_frame
//   app.handle_timeout(now);
//   wake_at = app.next_timeout();
//   while (auto e = app.poll_event()) log(*e);
//
// Everything the app says to the board goes through the ports (ports.h), called from inside
// these calls, on the caller's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>

#include "core/common/random.h"
#include "firmware/app/firmware_config.h"
#include "firmware/app/ports.h"
#include "modem/supervisor.h"

namespace cellrtc::firmware {

enum class AppState : uint8_t {
  idle,       // not started
  modem,      // the supervisor brings the cellular link up (or recovers it)
  ppp,        // data mode: PPP negotiating
  streaming,  // PPP up, the streamer started
  wifi,       // bench mode: no modem, streaming over Wi-Fi when its netif is up
};
const char* to_string(AppState s);

struct AppPorts {
  ModemLink* modem = nullptr;  // null in Wi-Fi mode
  modem::ModemPower* power = nullptr;
  PppNetif* netif = nullptr;  // null in Wi-Fi mode
  Camera* camera = nullptr;
  Streamer* streamer = nullptr;
  HeapMonitor* heap = nullptr;
  Random* random = nullptr;  // spreads the supervisor's backoffs; may be null
};

struct AppTimings {
  // Data mode without an address this long: PPP failed, the supervisor dials again.
  Duration ppp_timeout = seconds(30);
  // A frame asked for and not delivered: ask again (the driver dropped it).
  Duration camera_timeout = seconds(2);
  Duration telemetry_interval = seconds(2);
};

namespace app_event {
struct StateChanged {
  AppState from;
  AppState to;
  std::string why;
  Instant at;
};
// The supervisor's own transitions, for the log.
struct Modem {
  modem::SupervisorEvent event;
};
struct CameraFailed {
  std::string why;
};
}  // namespace app_event
using AppEvent = std::variant<app_event::StateChanged, app_event::Modem, app_event::CameraFailed>;

// Events waiting for poll_event(); the oldest are dropped beyond this.
constexpr size_t kMaxEventsQueued = 64;

struct AppStats {
  uint32_t streaming_starts = 0;
  uint32_t streaming_stops = 0;
  uint32_t ppp_failures = 0;
  uint64_t frames_requested = 0;
  uint64_t frames_offered = 0;
  uint64_t frames_dropped = 0;  // arrived while not streaming: returned at once
  uint32_t camera_failures = 0;
  uint32_t telemetry_updates = 0;
};

class FirmwareApp {
 public:
  // `config` must have passed validate(); the ports must outlive the app.
  FirmwareApp(const FirmwareConfig& config, AppPorts ports, AppTimings timings = {});

  void start(Instant now);

  // The modem link.
  void on_modem_bytes(Instant now, ByteView bytes);
  void on_modem_link_down(Instant now);  // USB detached
  void on_modem_link_up(Instant now);    // USB attached again
  // The PPP interface.
  void on_ppp_output(Instant now, ByteView bytes);
  void on_netif_up(Instant now);
  // `peer_dead`: LCP echoes went unanswered (the link is dead, not closed by the network).
  void on_netif_down(Instant now, bool peer_dead);
  // The network answered something (the glue may call this from its socket layer).
  void on_link_alive(Instant now);
  // The camera.
  void on_camera_frame(Instant now, CameraFrame frame);
  void on_camera_failed(Instant now, const char* why);

  void handle_timeout(Instant now);
  std::optional<Instant> next_timeout() const;
  std::optional<AppEvent> poll_event();

  AppState state() const { return state_; }
  const AppStats& stats() const { return stats_; }
  const modem::ConnectionSupervisor& supervisor() const { return supervisor_; }
  DeviceTelemetry telemetry() const;

 private:
  void push_event(AppEvent e);
  void set_state(Instant now, AppState to, std::string why);
  void pump_supervisor(Instant now);
  void start_streaming(Instant now);
  void stop_streaming(Instant now, std::string why);
  void maybe_capture(Instant now);
  void send_telemetry(Instant now);
  CameraSettings settings_for(const FrameWish& wish) const;

  FirmwareConfig config_;
  AppPorts ports_;
  AppTimings timings_;
  modem::ConnectionSupervisor supervisor_;
  AppState state_ = AppState::idle;
  bool netif_up_ = false;
  bool data_mode_ = false;
  std::optional<Instant> ppp_deadline_;
  std::optional<Instant> camera_deadline_;  // a frame is asked for
  std::optional<CameraSettings> applied_;
  std::optional<Instant> next_telemetry_;
  std::optional<Instant> last_received_;  // the streamer's, as last seen
  AppStats stats_;
  std::deque<AppEvent> events_;
};

}  // namespace cellrtc::firmware
