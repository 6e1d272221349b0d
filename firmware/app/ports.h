// What the firmware's application logic needs from the board, as interfaces: the camera, the
// byte link to the modem, the PPP network interface, heap figures, and the streamer. The
// ESP-IDF glue implements them on esp32-camera, usb_host_cdc_acm or the UART, esp_netif and
// heap_caps; tests implement them with fakes. Inputs come back into FirmwareApp as calls with
// the time (sans-IO, like the core): bytes from the modem, netif state, camera frames.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "firmware/app/frame_size.h"

namespace cellrtc::firmware {

// A JPEG frame the camera driver owns (esp32-camera's camera_fb_t in PSRAM), lent to the app.
struct CameraFrame {
  uint32_t id = 0;  // the driver's handle for release()
  ByteView jpeg;
  uint16_t width = 0;
  uint16_t height = 0;
  Instant capture_time;
};

struct CameraSettings {
  FrameSize size = FrameSize::vga;
  int jpeg_quality = 60;  // 1..100 (frame_size.h maps it to the driver's 0..63)
  bool operator==(const CameraSettings&) const = default;
};

class Camera {
 public:
  virtual ~Camera() = default;
  // Sensor settings for the next frames (frame size, JPEG quality).
  virtual Status apply(const CameraSettings& settings) = 0;
  // Asks for the newest frame; it comes back through FirmwareApp::on_camera_frame (or
  // on_camera_failed). One request at a time.
  virtual void request_frame() = 0;
  // Gives a frame back to the driver (esp_camera_fb_return). Exactly once per frame.
  virtual void release(uint32_t frame_id) = 0;
};

// A lent camera frame: returned to the camera when the lease ends, whoever holds it last. Move
// only, so the frame's bytes are never copied to pass it on.
class FrameLease {
 public:
  FrameLease() = default;
  FrameLease(Camera* camera, CameraFrame frame) : camera_(camera), frame_(frame) {}
  FrameLease(FrameLease&& o) noexcept
      : camera_(std::exchange(o.camera_, nullptr)), frame_(o.frame_) {}
  FrameLease& operator=(FrameLease&& o) noexcept {
    if (this != &o) {
      reset();
      camera_ = std::exchange(o.camera_, nullptr);
      frame_ = o.frame_;
    }
    return *this;
  }
  FrameLease(const FrameLease&) = delete;
  FrameLease& operator=(const FrameLease&) = delete;
  ~FrameLease() { reset(); }

  explicit operator bool() const { return camera_ != nullptr; }
  const CameraFrame& frame() const { return frame_; }
  ByteView jpeg() const { return frame_.jpeg; }
  // Returns the frame to the camera now.
  void reset() {
    if (camera_) std::exchange(camera_, nullptr)->release(frame_.id);
  }

 private:
  Camera* camera_ = nullptr;
  CameraFrame frame_;
};

// The byte link to the modem's AT/PPP port: USB CDC-ACM or a UART. Bytes from the modem come
// in through FirmwareApp::on_modem_bytes; a USB link's attach and detach through
// on_modem_link_up / on_modem_link_down.
class ModemLink {
 public:
  virtual ~ModemLink() = default;
  virtual void write(ByteView bytes) = 0;
};

// The PPP network interface (lwIP through esp_netif on the device). PPP frames from the modem
// go in with input(); frames lwIP sends come back through FirmwareApp::on_ppp_output; state
// through on_netif_up / on_netif_down.
class PppNetif {
 public:
  virtual ~PppNetif() = default;
  virtual void start() = 0;  // LCP, authentication, IPCP over the data call
  virtual void stop() = 0;   // the call is gone: drop the interface at once
  virtual void input(ByteView frame_bytes) = 0;
};

struct HeapStats {
  uint32_t internal_free = 0;
  uint32_t internal_min_free = 0;  // low-water mark since boot
  uint32_t psram_free = 0;
  uint32_t largest_internal_block = 0;
};

class HeapMonitor {
 public:
  virtual ~HeapMonitor() = default;
  virtual HeapStats stats() const = 0;
};

// What the app tells the streamer about the device, for the control channel's telemetry.
struct DeviceTelemetry {
  std::optional<int> rssi_dbm;
  std::optional<int> bars;
  std::string operator_name;
  std::string technology;
  HeapStats heap;
};

// What the camera should produce next, as the streamer wants it.
struct FrameWish {
  int quality = 60;     // 1..100
  uint16_t width = 0;   // largest wanted size, 0 = the configured one
  uint16_t height = 0;  //
};

// The streamer, seen from the app: a narrow interface over the portable publisher (WHIP,
// PeerConnection, StreamingSession), so the app's state handling does not depend on it.
class Streamer {
 public:
  virtual ~Streamer() = default;
  // The network is up: publish (WHIP) and stream; it reconnects by itself while started.
  virtual void start(Instant now) = 0;
  // The network is gone: drop the session and every frame it holds.
  virtual void stop(Instant now) = 0;
  // Whether a frame should be captured now, when one will be next, and how.
  virtual bool wants_frame(Instant now) const = 0;
  // When wants_frame turns true next (absent: not while nothing changes).
  virtual std::optional<Instant> next_capture() const = 0;
  virtual FrameWish frame_wish() const = 0;
  // A captured frame, lent: the streamer keeps the lease until the frame has left (newest wins:
  // a newer frame ends the lease of one still waiting).
  virtual void offer_frame(Instant now, FrameLease frame) = 0;
  virtual void set_telemetry(const DeviceTelemetry& telemetry) = 0;
  virtual void handle_timeout(Instant now) = 0;
  // The streamer's own next deadline (sends, timers), captures aside.
  virtual std::optional<Instant> next_timeout() const = 0;
  // When the streamer last received anything from the network (proof the link works).
  virtual std::optional<Instant> last_received() const = 0;
};

}  // namespace cellrtc::firmware
