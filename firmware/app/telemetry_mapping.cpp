#include "firmware/app/telemetry_mapping.h"

namespace cellrtc::firmware {

std::optional<media::ModemTelemetry> modem_telemetry(const DeviceTelemetry& t) {
  if (!t.rssi_dbm && t.operator_name.empty() && t.technology.empty()) return std::nullopt;
  media::ModemTelemetry m;
  m.rssi_dbm = t.rssi_dbm;
  m.bars = t.bars;
  m.operator_name = t.operator_name;
  m.tech = t.technology;
  return m;
}

media::DeviceHealth device_health(const DeviceTelemetry& t) {
  media::DeviceHealth h;
  h.heap_free = t.heap.internal_free;
  h.heap_min_free = t.heap.internal_min_free;
  if (t.heap.psram_free) h.psram_free = t.heap.psram_free;
  return h;
}

}  // namespace cellrtc::firmware
