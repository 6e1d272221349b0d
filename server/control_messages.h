#pragma once

// The control channel's JSON messages (docs/protocol.md, "Control channel"): reading what
// devices and viewers send, writing what the server sends. Reading never throws; input is
// bounded (4096 bytes per message) and only the fields the server uses are looked at.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/common/result.h"

namespace cellrtc::server {

constexpr size_t kMaxControlMessageBytes = 4096;

// A parsed message: a JSON object with a string "type".
struct ControlMessage {
  std::string type;
  nlohmann::json body;
};

// Errors: too large, not JSON, not an object, no string "type".
Result<ControlMessage> parse_control_message(std::string_view text);

// {"type":"pong","t":..,"now_us":..} from a device: `t` as we sent it, the device's clock.
struct Pong {
  uint64_t t = 0;
  int64_t now_us = 0;
};
std::optional<Pong> read_pong(const ControlMessage& message);
// {"type":"ping","t":..} from a viewer: its `t`, echoed back (any JSON number or string).
std::optional<nlohmann::json> read_ping_t(const ControlMessage& message);

// A viewer's command rebuilt from the fields the protocol defines ("set": fps, quality, width,
// height as non-negative integers up to 100000; "snapshot"), so that only well-formed commands
// reach a device. Errors say what was wrong.
Result<std::string> viewer_command(const ControlMessage& message);

// Device telemetry: the message as received is forwarded to viewers; this adds the device id
// for the WebSocket event ({"type":"telemetry","id":"demo",...}).
std::string telemetry_event_json(const ControlMessage& telemetry, std::string_view device_id);

// What the server writes.
std::string ping_json(uint64_t t);
std::string pong_json(const nlohmann::json& t, int64_t now_us);
std::string state_json(std::string_view state);
std::string clock_json(int64_t offset_us);
std::string error_json(std::string_view reason);
struct ReceiverReport {
  uint32_t seq = 0;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  int64_t interval_ms = 0;
  std::optional<int64_t> latency_ms;
  uint64_t lost = 0;
};
std::string report_json(const ReceiverReport& report);

// Serializes without throwing: text that is not UTF-8 is replaced, not an error.
std::string dump_json(const nlohmann::json& value);

}  // namespace cellrtc::server
