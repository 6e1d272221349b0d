// The ESP32 firmware's application logic (firmware/app: FirmwareApp in its Wi-Fi bench mode,
// PublisherStreamer, SessionSockets, pump_requests) streaming from a thread of the test to a
// real cellrtc-server on loopback, with host stand-ins for what the IDF glue does on the
// device: POSIX UDP sockets for lwIP's, libcurl (device::WhipClient) for esp_http_client, the
// test pattern for the OV2640, and fixed heap figures for heap_caps. It is what the browser
// tests use to see the firmware's own telemetry (the `device` object) on the viewer page.
//
//   auto firmware = HostFirmware::start({.whip_url = server->url("/whip"), .token = ...}, &error);
//   ...                         // the device is "live" on the server; a viewer watches it
//   firmware.reset();           // stops the thread (the session is dropped, as on PPP loss)
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "firmware/app/ports.h"

namespace cellrtc::browser {

struct HostFirmwareOptions {
  std::string whip_url;
  std::string token;
  firmware::HeapStats heap;  // what the heap monitor reports, every telemetry interval
};

class HostFirmware {
 public:
  static std::unique_ptr<HostFirmware> start(HostFirmwareOptions options, std::string* error);
  ~HostFirmware();
  HostFirmware(const HostFirmware&) = delete;
  HostFirmware& operator=(const HostFirmware&) = delete;

 private:
  explicit HostFirmware(HostFirmwareOptions options) : options_(std::move(options)) {}
  void run();

  HostFirmwareOptions options_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

}  // namespace cellrtc::browser
