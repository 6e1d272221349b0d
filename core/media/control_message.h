// The control channel's messages (docs/protocol.md, "Control channel"): one JSON object per
// text message, at most 4096 bytes, every one with a "type". A small codec of its own, so the
// device (ESP32 included: no exceptions, no JSON library) reads and writes them the same way.
//
// What it reads: a JSON object (RFC 8259) of numbers, strings, booleans and null, plus at most
// one level of nested objects (telemetry's "modem"); arrays and deeper nesting are refused.
// Limits: kMaxControlMessageBytes, kMaxControlFields per object, kMaxControlStringBytes per
// string. Errors name what was wrong and where (byte offset).
//
//   auto object = parse_control_object(text);        // syntax
//   auto message = decode_device_message(*object);   // what a device receives, typed
//   std::string pong = encode_pong(ping.t, now);      // what it sends
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/common/result.h"
#include "core/common/time.h"

namespace cellrtc::media {

constexpr size_t kMaxControlMessageBytes = 4096;
constexpr size_t kMaxControlFields = 32;
constexpr size_t kMaxControlStringBytes = 256;
// Direct mode (docs/protocol.md): an SDP travels in parts, each in the "sdp" string of one
// message, which may be longer than other strings.
constexpr size_t kMaxDirectSdpPartBytes = 1536;
constexpr size_t kMaxDirectSdpParts = 8;
constexpr size_t kMaxDirectSdpBytes = kMaxDirectSdpPartBytes * kMaxDirectSdpParts;
constexpr size_t kMaxDirectIdBytes = 64;
// Direct mode's answer time (docs/protocol.md, "Direct mode"): the server waits
// kDirectAnswerWait from forwarding a viewer's offer for the device's answer, then gives the
// viewer to the relay (or 504). The device cannot trickle after its answer, so the answer waits
// for relayed candidates, at most kDirectGatherLimit from the whole offer's arrival: the rest,
// kDirectAnswerMargin, is the offer's way down and the answer's way up the device's link. On
// EDGE (tools/linkem/profiles/edge.toml: 250 ms ± 60 ms each way, 200 kbit/s up) that is
// about 0.6 s of delay, 0.5 s for up to 12 KB of offer parts down and 0.1 s for a 2-3 KB
// answer up, with 1.3 s left for queueing behind the video and SCTP retransmissions.
constexpr Duration kDirectAnswerWait = seconds(5);
constexpr Duration kDirectAnswerMargin = milliseconds(2500);
constexpr Duration kDirectGatherLimit = kDirectAnswerWait - kDirectAnswerMargin;

// A parse or decode error: a code, a literal reason, and the byte offset it was found at (for
// decode errors, the offset is 0 and the reason names the field).
struct ControlError {
  Errc code = Errc::malformed;
  const char* reason = "";
  size_t offset = 0;
};

template <class T>
using ControlResult = Result<T, ControlError>;

struct ControlField;

// One JSON value of a control message. Numbers keep their text as well, so a value that is
// echoed (a ping's "t") goes back exactly as it came.
struct ControlValue {
  enum class Kind : uint8_t { null, boolean, number, string, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;                  // a string's content, or a number's literal
  std::vector<ControlField> fields;  // an object's members (one nesting level)

  bool is_number() const { return kind == Kind::number; }
  bool is_string() const { return kind == Kind::string; }
};

struct ControlField {
  std::string key;
  ControlValue value;
};

struct ControlObject {
  std::vector<ControlField> fields;
  // The first member named `key`, or null.
  const ControlValue* find(std::string_view key) const;
};

ControlResult<ControlObject> parse_control_object(std::string_view text);

// --- typed messages

// Server -> device: answer with a pong at once.
struct PingMessage {
  ControlValue t;  // copied into the pong unchanged
};
// Viewer (through the server) -> device: limits; 0 or absent means automatic.
struct SetMessage {
  double fps = 0;
  int quality = 0;
  uint16_t width = 0;
  uint16_t height = 0;
};
struct SnapshotMessage {};
// Server -> device: what the server received in the last interval.
struct ReportMessage {
  uint32_t seq = 0;
  uint32_t frames = 0;
  uint64_t bytes = 0;
  uint32_t interval_ms = 0;
  std::optional<uint32_t> latency_ms;  // absent until the server has a clock offset
  uint32_t lost = 0;
};
// A well-formed message of a type the device does not know: ignored (docs/protocol.md).
struct UnknownMessage {
  std::string type;
};

// Direct mode, server -> device: one part of a viewer's offer; a trickled candidate of the
// viewer (`candidate` the a=candidate value, "candidate:..."), or its end; the viewer is gone.
struct DirectOfferPart {
  std::string id;
  uint8_t part = 0;
  uint8_t parts = 1;
  std::string sdp;
  // On the first part: fresh TURN credentials for the relays of this viewer (empty: none).
  std::string turn_username;
  std::string turn_credential;
};
struct DirectCandidateMessage {
  std::string id;
  std::string candidate;
  bool end_of_candidates = false;
};
struct DirectCloseMessage {
  std::string id;
};
// Server -> device: fresh TURN REST credentials for the session's TURN servers (the ones of the
// WHIP answer's Link headers, and the device's own --turn-url entries), sent before the last
// ones expire. They serve new allocations only (an allocation keeps the username it was made
// with, RFC 8656 section 5).
struct TurnCredentialsMessage {
  std::string username;
  std::string credential;
  int64_t expires = 0;  // unix seconds
};

// Server -> device: how many relay viewers watch the device's stream now (docs/protocol.md,
// "demand"). With none, the device sends only an idle frame now and then; a device that never
// gets one (an older server) keeps its full rate.
struct DemandMessage {
  uint32_t viewers = 0;
};

using DeviceMessage = std::variant<PingMessage, SetMessage, SnapshotMessage, ReportMessage,
                                   DirectOfferPart, DirectCandidateMessage, DirectCloseMessage,
                                   TurnCredentialsMessage, DemandMessage, UnknownMessage>;

// Joins one offer's parts in order (one offer at a time: the server sends an offer's parts
// together); an error ends the offer. The whole SDP once the last part is in.
class DirectSdpJoiner {
 public:
  Result<std::optional<std::string>, ControlError> add(const DirectOfferPart& part);

 private:
  std::string id_;
  std::string sdp_;
  size_t next_ = 0;
  size_t parts_ = 0;
};

// What a device receives. Errors: no "type", or a known field of the wrong type or range
// ("set.fps must be a number from 0 to 1000").
ControlResult<DeviceMessage> decode_device_message(const ControlObject& object);
ControlResult<DeviceMessage> decode_device_message(std::string_view text);

struct ModemTelemetry {
  std::optional<int> rssi_dbm;
  std::optional<int> bars;
  std::string operator_name;  // "operator" on the wire
  std::string tech;           // "LTE", "GSM", ...
};

// The device's own health (a microcontroller's heap), for the viewers and the server's device
// list.
struct DeviceHealth {
  uint32_t heap_free = 0;      // internal RAM free now
  uint32_t heap_min_free = 0;  // its low-water mark since boot
  std::optional<uint32_t> psram_free;
};

// Device -> server every 2 s.
struct TelemetryMessage {
  double fps = 0;
  double kbps = 0;
  std::optional<uint32_t> rtt_ms;
  int quality = 0;
  uint16_t width = 0;
  uint16_t height = 0;
  uint64_t sent = 0;
  uint64_t dropped = 0;
  std::optional<ModemTelemetry> modem;
  std::optional<DeviceHealth> device;
};

// Writers. Strings are escaped (RFC 8259 section 7) and cut to kMaxControlStringBytes; the
// result is at most kMaxControlMessageBytes.
std::string encode_pong(const ControlValue& t, Instant now);
std::string encode_telemetry(const TelemetryMessage& telemetry);
// The server's and viewers' messages, for peers that play them (tests, tools).
std::string encode_ping(uint64_t t);
std::string encode_set(const SetMessage& set);
std::string encode_snapshot();
std::string encode_report(const ReportMessage& report);
std::string encode_turn_credentials(const TurnCredentialsMessage& credentials);
std::string encode_demand(const DemandMessage& demand);

// Direct mode, device -> server: the answer for viewer `id` in parts (empty when the SDP is over
// kMaxDirectSdpBytes), the state of its connection ("connected", "failed", "closed"), a
// refusal.
std::vector<std::string> encode_direct_answer(std::string_view id, std::string_view sdp);
// `sdp` cut into the parts of a direct-offer or direct-answer: each part's size once escaped by
// the writer (`escaped_size` of each byte) stays within kMaxDirectSdpPartBytes, and no part ends
// inside a UTF-8 character. Empty when `sdp` is empty or needs more than kMaxDirectSdpParts.
std::vector<std::string_view> split_direct_sdp(std::string_view sdp, size_t (*escaped_size)(char));
std::string encode_direct_state(std::string_view id, std::string_view state);
std::string encode_direct_error(std::string_view id, std::string_view reason);

// Typed reading of what a device sends, for peers that play the server.
ControlResult<TelemetryMessage> decode_telemetry(const ControlObject& object);

// A field's value as the writer formats it: integers without a fraction, others with up to
// three decimals.
std::string format_control_number(double value);

}  // namespace cellrtc::media
