// The device side of one streaming session over a PeerConnection (docs/protocol.md): it opens
// the `video` (unordered, no retransmission) and `control` (reliable) channels, takes every
// captured frame (newest wins, FrameSender), sends one when the transport can take it
// (RateController's budget), answers pings, applies the viewers' commands (set limits,
// snapshot), learns from the server's receiver reports and sends telemetry every 2 s. It says
// what the camera should do next (when, at which quality and size), so the Linux agent and
// the ESP32 firmware only feed it frames, events and time.
//
//   StreamingSession session(pc, config);
//   session.open_channels(now);                 // before create_offer()
//   while (auto e = pc.poll_event()) session.handle_event(now, *e);   // channel events
//   if (session.capture_due(now)) {
//     CaptureRequest r = session.capture_request();   // quality, size, snapshot
//     ...encode...; session.offer_frame(now, frame);
//   }
//   session.handle_timeout(now);                // sends, telemetry, link samples
//   wake_at = earliest(pc.next_timeout(), session.next_timeout());
//
// Sans-IO like the core: it calls only the PeerConnection it is given; the caller drains that
// connection's datagrams after each call.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "core/media/control_message.h"
#include "core/media/fixed_pacing.h"
#include "core/media/frame_sender.h"
#include "core/media/rate_controller.h"
#include "core/peer/peer_connection.h"

namespace cellrtc::media {

// adaptive: RateController + FrameSender on an unordered channel without retransmission
// (docs/protocol.md). fixed: the original design's sender (fixed_pacing.h) at a fixed frame rate
// and quality on a reliable ordered `video` channel, kept to compare against.
enum class Pacing : uint8_t { adaptive, fixed };

// Direct-mode messages waiting for the agent (poll_direct_message); more are dropped.
constexpr size_t kMaxDirectMessagesQueued = 64;

struct StreamingSessionConfig {
  Pacing pacing = Pacing::adaptive;
  FixedPacingConfig fixed;  // pacing == fixed
  RateControllerConfig rate;
  Duration telemetry_interval = seconds(2);
  // How often the transport's state (delivery rate, RTT, buffered bytes) is sampled.
  Duration link_sample_interval = milliseconds(20);
  // Limits of the device's own configuration (0 = none); viewers can lower them, not raise.
  double max_fps = 0;
  int max_quality = 0;
  uint16_t max_width = 0;
  uint16_t max_height = 0;
  // The quality of a frame a viewer asked for with "snapshot".
  int snapshot_quality = 92;
  // A snapshot not sent within this long is given up (the channel never opened, say).
  Duration snapshot_timeout = seconds(10);
  // Demand (docs/protocol.md, "demand"): while the server says no relay viewer watches, one
  // frame every idle_interval (0 = none at all) at idle_quality at most, so that a viewer who
  // arrives sees a recent picture at once and the NAT mapping and SCTP state stay warm; the
  // adaptive rate again as soon as one does. Without a demand message (an older server, a
  // direct viewer's session) the session sends at its full rate.
  Duration idle_interval = seconds(5);
  int idle_quality = 30;
  // The first frame's sequence number: a session that replaces another goes on where it
  // stopped, so viewers that stayed through the reconnect see one stream.
  uint32_t first_sequence = 0;
};

// The viewers' limits from the last "set" (0 = automatic).
struct ViewerLimits {
  double fps = 0;
  int quality = 0;
  uint16_t width = 0;
  uint16_t height = 0;
};

// What the camera should produce next.
struct CaptureRequest {
  int quality = 50;     // JPEG quality 1..100
  uint16_t width = 0;   // largest wanted size, 0 = the source's own
  uint16_t height = 0;  //
  bool snapshot = false;
};

// One camera serving several sessions (a device's relay session and its direct viewers): the
// frame that satisfies both requests, the larger size (0, the source's own, is the largest)
// and the higher quality; a snapshot when either asks for one.
CaptureRequest widest_capture(const CaptureRequest& a, const CaptureRequest& b);

// A frame the camera produced: kFrameHeaderSize bytes reserved, then the JPEG image.
struct EncodedFrame {
  Bytes message;
  uint16_t width = 0;
  uint16_t height = 0;
  uint8_t quality = 0;  // 0 unknown (a camera's own JPEG)
  uint8_t flags = 0;    // frame_flags the source sets (kTestPattern)
  Instant capture_time;
};

struct StreamingStats {
  uint64_t frames_offered = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_replaced = 0;  // dropped unsent for a newer frame
  uint64_t send_failures = 0;    // the channel refused a frame
  uint64_t bytes_sent = 0;
  uint64_t snapshots_sent = 0;
  uint64_t pings_answered = 0;
  uint64_t telemetry_sent = 0;
  uint64_t reports_received = 0;
  uint64_t turn_credentials_received = 0;  // turn-credentials messages applied
  uint64_t control_errors = 0;             // control messages that did not parse
  uint64_t commands_applied = 0;
  uint64_t demand_received = 0;   // demand messages applied
  uint64_t idle_periods = 0;      // times demand fell to 0 viewers
  uint64_t frames_sent_idle = 0;  // frames sent while idle
  // From the newest receiver report.
  std::optional<ReportMessage> last_report;
};

class StreamingSession {
 public:
  // `pc` must outlive the session.
  StreamingSession(peer::PeerConnection& pc, StreamingSessionConfig config = {});

  // Creates `video` and `control` (call before the offer, so both are in it).
  Status open_channels(Instant now);
  // The answering side (a direct-mode viewer offered the channels): takes the peer's `video`
  // and `control` channels by label as they open, instead of creating its own.
  void accept_offered_channels() { accept_offered_ = true; }

  // Feed every PeerConnection event; returns true when it was one of this session's.
  bool handle_event(Instant now, const peer::PeerEvent& event);
  // Sends a waiting frame when the transport can take it, telemetry when due.
  void handle_timeout(Instant now);
  std::optional<Instant> next_timeout() const;

  // Whether the camera should capture now: the frame interval at the current target has
  // passed, or a snapshot is asked for. Not while a snapshot waits to leave.
  bool capture_due(Instant now) const;
  // When capture_due() becomes true next (now, when it is due).
  Instant next_capture(Instant now) const;
  CaptureRequest capture_request() const;
  // The captured frame: its header is written in place with the next sequence number, and it
  // waits (replacing any unsent frame) until the transport can take it; sent at once if it can.
  void offer_frame(Instant now, EncodedFrame frame);

  // Direct-mode messages from the server (direct-offer parts, candidates, close), in order of
  // arrival, for the agent's direct viewers; turn-credentials too (applied to this session's
  // relays already), for the direct viewers' next allocations.
  std::optional<DeviceMessage> poll_direct_message();
  // A control message of the caller's (direct-answer, state): sent when the channel is open.
  void send_control_text(Instant now, const std::string& text) { send_control(now, text); }

  // Modem status for the telemetry (absent when no modem is attached).
  void set_modem(std::optional<ModemTelemetry> modem) { modem_ = std::move(modem); }
  // The device's heap for the telemetry (absent on hosts where it means nothing).
  void set_device_health(std::optional<DeviceHealth> health) { device_ = health; }

  bool video_open() const { return video_open_; }
  bool control_open() const { return control_open_; }
  // One of the two channels closed after it had opened: the session is over.
  bool channel_lost() const { return channel_lost_; }

  // The relay viewers of the last demand message, absent when none came (full rate).
  std::optional<uint32_t> viewers() const { return viewers_; }
  // No relay viewer: only idle frames (StreamingSessionConfig::idle_interval).
  bool idle() const { return viewers_ && *viewers_ == 0; }

  const RateTarget& rate_target() const { return controller_.target(); }
  double target_fps() const;
  int target_quality() const;
  const ViewerLimits& viewer_limits() const { return limits_; }
  const StreamingStats& stats() const { return stats_; }
  // The sequence number the next captured frame gets.
  uint32_t next_sequence() const { return next_sequence_; }
  const RateController& rate_controller() const { return controller_; }
  // The telemetry message as it would be sent now.
  TelemetryMessage telemetry(Instant now) const;

 private:
  void on_control(Instant now, const Bytes& data);
  void on_demand(Instant now, uint32_t viewers);
  void send_control(Instant now, const std::string& text);
  void sample_link(Instant now);
  void try_send(Instant now);
  void try_send_fixed(Instant now);
  bool fixed() const { return config_.pacing == Pacing::fixed; }
  void send_telemetry(Instant now);

  peer::PeerConnection& pc_;
  StreamingSessionConfig config_;
  RateController controller_;
  FrameSender sender_;
  FixedPacingSender fixed_sender_;
  ViewerLimits limits_;
  StreamingStats stats_;
  std::optional<uint32_t> viewers_;  // from the server's demand messages
  std::optional<ModemTelemetry> modem_;
  std::optional<DeviceHealth> device_;

  std::optional<uint16_t> video_;
  std::optional<uint16_t> control_;
  bool accept_offered_ = false;
  std::deque<DeviceMessage> direct_messages_;  // bounded: kMaxDirectMessagesQueued
  bool video_open_ = false;
  bool control_open_ = false;
  bool channel_lost_ = false;

  uint32_t next_sequence_ = 0;
  Duration capture_interval() const;

  // The ideal time of the last frame captured (the target rate's schedule).
  std::optional<Instant> capture_slot_;
  std::optional<Instant> snapshot_asked_;  // a snapshot is wanted and not yet captured
  bool snapshot_pending_ = false;          // a snapshot frame waits to leave
  uint64_t blocked_by_snapshot_ = 0;       // frames dropped while a snapshot waited
  std::optional<Instant> last_sample_;
  std::optional<Instant> next_telemetry_;
  Duration srtt_{0};
  bool have_srtt_ = false;

  // For the telemetry's rates: counters at the last telemetry.
  Instant telemetry_from_;
  uint64_t telemetry_frames_from_ = 0;
  uint64_t telemetry_bytes_from_ = 0;
  uint16_t last_width_ = 0;
  uint16_t last_height_ = 0;
  int last_quality_ = 0;
};

}  // namespace cellrtc::media
