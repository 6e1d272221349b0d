// The app's DeviceTelemetry in the control channel's terms (docs/protocol.md, "telemetry":
// the `modem` and `device` objects), for the streamer binding to hand to StreamingSession.
#pragma once

#include <optional>

#include "core/media/control_message.h"
#include "firmware/app/ports.h"

namespace cellrtc::firmware {

// Absent when the app knows nothing about a modem (Wi-Fi bench mode).
std::optional<media::ModemTelemetry> modem_telemetry(const DeviceTelemetry& t);
media::DeviceHealth device_health(const DeviceTelemetry& t);

}  // namespace cellrtc::firmware
