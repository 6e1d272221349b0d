// The Data Channel Establishment Protocol (RFC 8832) message codec, the payload protocol
// identifiers of data-channel messages (RFC 8831 section 8), the stream-id parity rule
// (RFC 8832 section 6) and the parameters of a channel as the application sees them.
//
// DATA_CHANNEL_OPEN (RFC 8832 section 5.1):
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Message Type |  Channel Type |            Priority           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Reliability Parameter                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Label Length          |       Protocol Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Label (variable)                       |
//   |                      Protocol (variable)                      |
//
// DATA_CHANNEL_ACK (section 5.2) is the Message Type byte alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::datachannel {

// --- Payload protocol identifiers (RFC 8831 section 8, IANA "SCTP Payload Protocol
// Identifiers") --------------------------------------------------------------------------------

enum class Ppid : uint32_t {
  dcep = 50,
  string = 51,
  binary_partial = 52,  // deprecated (RFC 8831 section 8): parts of a message, before EOR use
  binary = 53,
  string_partial = 54,  // deprecated, as 52
  string_empty = 56,
  binary_empty = 57,
};

// What a received SCTP user message is, by its PPID.
enum class PayloadKind : uint8_t { dcep, string, binary };

struct ReceivedPayload {
  PayloadKind kind;
  // RFC 8831 section 6.6: an empty message travels as one byte with PPID 56 or 57; that byte
  // is not part of the message.
  bool empty;
};

// Classifies a PPID. The deprecated partial PPIDs 52 and 54 are rejected (Errc::unsupported):
// no current browser sends them, and joining their parts would need state this codec does not
// keep. Unknown PPIDs are Errc::unsupported too.
Result<ReceivedPayload> classify_ppid(uint32_t ppid);

// The PPID to send a message with (RFC 8831 section 6.6): 51/53, or 56/57 when it is empty.
Ppid message_ppid(bool binary, bool empty);

// The payload that stands for an empty message (RFC 8831 section 6.6): one zero byte.
ByteView empty_message_payload();

// --- Stream ids (RFC 8832 section 6) ---------------------------------------------------------

// Stream identifiers 0..65534; 65535 is excluded (RFC 8831 section 6.4 negotiates 65535
// streams).
constexpr uint16_t kMaxStreamId = 65534;

// The DTLS client uses even stream ids, the DTLS server odd ones (RFC 8832 section 6), so two
// peers opening channels at once never pick the same id.
constexpr bool stream_id_is_ours(uint16_t id, bool dtls_client) {
  return id <= kMaxStreamId && ((id % 2 == 0) == dtls_client);
}
// The first id a side allocates; the next ones follow in steps of two.
constexpr uint16_t first_stream_id(bool dtls_client) {
  return dtls_client ? 0 : 1;
}
// Whether a DATA_CHANNEL_OPEN from the peer on `id` has the peer's parity. libpeer opens on
// stream 0 whatever its DTLS role; a caller may accept a wrong-parity OPEN on an unused id
// (the RFC's rule exists to avoid collisions, and an unused id cannot collide).
constexpr bool stream_id_is_peers(uint16_t id, bool local_dtls_client) {
  return id <= kMaxStreamId && ((id % 2 == 0) != local_dtls_client);
}

// --- DCEP messages -------------------------------------------------------------------------

enum class MessageType : uint8_t { ack = 0x02, open = 0x03 };  // RFC 8832 section 8.2.1

// RFC 8832 section 5.1 (and the IANA registry of section 8.2.2). The high bit means unordered.
enum class ChannelType : uint8_t {
  reliable = 0x00,
  reliable_unordered = 0x80,
  partial_reliable_rexmit = 0x01,
  partial_reliable_rexmit_unordered = 0x81,
  partial_reliable_timed = 0x02,
  partial_reliable_timed_unordered = 0x82,
};

// RFC 8831 section 6.4 / the W3C RTCPriorityType: the values browsers write.
namespace priority {
constexpr uint16_t kBelowNormal = 128;
constexpr uint16_t kNormal = 256;
constexpr uint16_t kHigh = 512;
constexpr uint16_t kExtraHigh = 1024;
}  // namespace priority

// Our bound on label and protocol lengths (the wire allows 65535 each).
constexpr size_t kMaxLabelLength = 1024;
constexpr size_t kMaxProtocolLength = 1024;

struct DataChannelOpen {
  ChannelType channel_type = ChannelType::reliable;
  uint16_t priority = priority::kNormal;
  // Retransmissions (rexmit types) or lifetime in milliseconds (timed types). For reliable
  // types it is sent as 0 and ignored on receipt (section 5.1), so it parses as 0.
  uint32_t reliability_parameter = 0;
  std::string label;     // UTF-8, not NUL-terminated
  std::string protocol;  // a WebSocket subprotocol name, or empty
  bool operator==(const DataChannelOpen&) const = default;
};

struct DataChannelAck {
  bool operator==(const DataChannelAck&) const = default;
};

using DcepMessage = std::variant<DataChannelOpen, DataChannelAck>;

// Parses the payload of a PPID 50 message. Errors: truncated (shorter than its header or its
// lengths), limit_exceeded (label or protocol over our bound), unsupported (unknown message or
// channel type), malformed (bytes after the message).
Result<DcepMessage> parse_dcep(ByteView data);

// 12 + label + protocol bytes; fails when a length is over our bound.
Result<Bytes> encode_open(const DataChannelOpen& open);
Bytes encode_ack();

bool is_ordered(ChannelType type);

// --- The application's view of a channel -----------------------------------------------------

// What RTCDataChannelInit carries (W3C WebRTC section 6.2), in the stack's terms.
// Every member has a default initializer, so designated initializers may name any subset:
// ChannelParameters{.label = "video", .ordered = false, .max_retransmits = 0u}.
struct ChannelParameters {
  std::string label{};
  std::string protocol{};
  bool ordered = true;
  std::optional<uint32_t> max_retransmits{};      // partial reliability by count (RFC 3758)
  std::optional<uint32_t> max_packet_lifetime{};  // by time, milliseconds
  bool negotiated = false;  // agreed out of band: no DCEP, `id` required (RFC 8832 section 6)
  std::optional<uint16_t> id{};
  uint16_t priority = priority::kNormal;

  bool reliable() const { return !max_retransmits && !max_packet_lifetime; }
  bool operator==(const ChannelParameters&) const = default;
};

// Checks the parameters as RTCPeerConnection.createDataChannel does: not both reliability
// limits, an id when negotiated, ids in range, label and protocol within our bounds.
Status validate(const ChannelParameters& params);

// The OPEN message announcing a channel with these parameters (section 5.1).
Result<DataChannelOpen> to_open_message(const ChannelParameters& params);

// The parameters of a channel the peer opened on `stream_id`.
ChannelParameters from_open_message(const DataChannelOpen& open, uint16_t stream_id);

}  // namespace cellrtc::datachannel
