// DCEP codec (RFC 8832 section 5), PPIDs (RFC 8831 sections 6.6 and 8), channel parameters.
#include "core/datachannel/dcep.h"

namespace cellrtc::datachannel {
namespace {

constexpr size_t kOpenHeaderSize = 12;  // type, channel type, priority, reliability, 2 lengths

bool known_channel_type(uint8_t t) {
  switch (t) {
    case 0x00:
    case 0x80:
    case 0x01:
    case 0x81:
    case 0x02:
    case 0x82:
      return true;
    default:
      return false;
  }
}

bool is_reliable(ChannelType type) {
  return (static_cast<uint8_t>(type) & 0x7F) == 0x00;
}

}  // namespace

Result<ReceivedPayload> classify_ppid(uint32_t ppid) {
  switch (static_cast<Ppid>(ppid)) {
    case Ppid::dcep:
      return ReceivedPayload{PayloadKind::dcep, false};
    case Ppid::string:
      return ReceivedPayload{PayloadKind::string, false};
    case Ppid::binary:
      return ReceivedPayload{PayloadKind::binary, false};
    case Ppid::string_empty:
      return ReceivedPayload{PayloadKind::string, true};
    case Ppid::binary_empty:
      return ReceivedPayload{PayloadKind::binary, true};
    case Ppid::binary_partial:
    case Ppid::string_partial:
      return Error{Errc::unsupported, "deprecated partial-message PPID (RFC 8831 section 8)"};
  }
  return Error{Errc::unsupported, "PPID is not a data-channel PPID"};
}

Ppid message_ppid(bool binary, bool empty) {
  if (binary) return empty ? Ppid::binary_empty : Ppid::binary;
  return empty ? Ppid::string_empty : Ppid::string;
}

ByteView empty_message_payload() {
  static constexpr uint8_t kZero[1] = {0};
  return ByteView(kZero, 1);
}

bool is_ordered(ChannelType type) {
  return (static_cast<uint8_t>(type) & 0x80) == 0;  // section 5.1: the high bit is "unordered"
}

Result<DcepMessage> parse_dcep(ByteView data) {
  ByteReader r(data);
  uint8_t type = r.u8();
  if (!r.ok()) return Error{Errc::truncated, "empty DCEP message"};
  if (type == static_cast<uint8_t>(MessageType::ack)) {
    // Section 5.2: the ACK is the message type alone.
    if (!r.empty()) return Error{Errc::malformed, "DATA_CHANNEL_ACK longer than one byte"};
    return DcepMessage{DataChannelAck{}};
  }
  if (type != static_cast<uint8_t>(MessageType::open)) {
    // Sections 8.2.1: 0x00, 0x01 and 0xFF are reserved, the others unassigned.
    return Error{Errc::unsupported, "unknown DCEP message type"};
  }
  uint8_t channel_type = r.u8();
  uint16_t prio = r.u16();
  uint32_t reliability = r.u32();
  uint16_t label_length = r.u16();
  uint16_t protocol_length = r.u16();
  if (!r.ok()) return Error{Errc::truncated, "DATA_CHANNEL_OPEN shorter than its header"};
  if (!known_channel_type(channel_type)) {
    return Error{Errc::unsupported, "unknown DATA_CHANNEL_OPEN channel type"};
  }
  if (label_length > kMaxLabelLength) {
    return Error{Errc::limit_exceeded, "DATA_CHANNEL_OPEN label longer than kMaxLabelLength"};
  }
  if (protocol_length > kMaxProtocolLength) {
    return Error{Errc::limit_exceeded, "DATA_CHANNEL_OPEN protocol longer than kMaxProtocolLength"};
  }
  ByteView label = r.take(label_length);
  ByteView protocol = r.take(protocol_length);
  if (!r.ok()) return Error{Errc::truncated, "DATA_CHANNEL_OPEN ends inside its label or protocol"};
  if (!r.empty()) return Error{Errc::malformed, "bytes after DATA_CHANNEL_OPEN's protocol"};

  DataChannelOpen open;
  open.channel_type = static_cast<ChannelType>(channel_type);
  open.priority = prio;
  // Section 5.1: for reliable channels the parameter "MUST be ignored on the receiving side".
  open.reliability_parameter = is_reliable(open.channel_type) ? 0 : reliability;
  open.label = std::string(as_chars(label));
  open.protocol = std::string(as_chars(protocol));
  return DcepMessage{std::move(open)};
}

Result<Bytes> encode_open(const DataChannelOpen& open) {
  if (!known_channel_type(static_cast<uint8_t>(open.channel_type))) {
    return Error{Errc::invalid_argument, "unknown channel type"};
  }
  if (open.label.size() > kMaxLabelLength) {
    return Error{Errc::limit_exceeded, "label longer than kMaxLabelLength"};
  }
  if (open.protocol.size() > kMaxProtocolLength) {
    return Error{Errc::limit_exceeded, "protocol longer than kMaxProtocolLength"};
  }
  Bytes out;
  out.reserve(kOpenHeaderSize + open.label.size() + open.protocol.size());
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::open));
  w.u8(static_cast<uint8_t>(open.channel_type));
  w.u16(open.priority);
  // Section 5.1: reliable channels send 0.
  w.u32(is_reliable(open.channel_type) ? 0 : open.reliability_parameter);
  w.u16(static_cast<uint16_t>(open.label.size()));
  w.u16(static_cast<uint16_t>(open.protocol.size()));
  w.bytes(as_bytes(open.label));
  w.bytes(as_bytes(open.protocol));
  return out;
}

Bytes encode_ack() {
  return Bytes{static_cast<uint8_t>(MessageType::ack)};
}

Status validate(const ChannelParameters& params) {
  // W3C WebRTC createDataChannel: maxPacketLifeTime and maxRetransmits are exclusive; a
  // negotiated channel needs an id; ids stop at 65534.
  if (params.max_retransmits && params.max_packet_lifetime) {
    return Error{Errc::invalid_argument, "both max_retransmits and max_packet_lifetime set"};
  }
  if (params.negotiated && !params.id) {
    return Error{Errc::invalid_argument, "a negotiated channel needs an id"};
  }
  if (params.id && *params.id > kMaxStreamId) {
    return Error{Errc::invalid_argument, "stream id 65535 is reserved"};
  }
  if (params.label.size() > kMaxLabelLength) {
    return Error{Errc::limit_exceeded, "label longer than kMaxLabelLength"};
  }
  if (params.protocol.size() > kMaxProtocolLength) {
    return Error{Errc::limit_exceeded, "protocol longer than kMaxProtocolLength"};
  }
  return {};
}

Result<DataChannelOpen> to_open_message(const ChannelParameters& params) {
  if (auto s = validate(params); !s) return s.error();
  DataChannelOpen open;
  uint8_t type = 0x00;
  if (params.max_retransmits) {
    type = 0x01;
    open.reliability_parameter = *params.max_retransmits;
  } else if (params.max_packet_lifetime) {
    type = 0x02;
    open.reliability_parameter = *params.max_packet_lifetime;
  }
  if (!params.ordered) type |= 0x80;
  open.channel_type = static_cast<ChannelType>(type);
  open.priority = params.priority;
  open.label = params.label;
  open.protocol = params.protocol;
  return open;
}

ChannelParameters from_open_message(const DataChannelOpen& open, uint16_t stream_id) {
  ChannelParameters p;
  p.label = open.label;
  p.protocol = open.protocol;
  p.ordered = is_ordered(open.channel_type);
  switch (static_cast<uint8_t>(open.channel_type) & 0x7F) {
    case 0x01:
      p.max_retransmits = open.reliability_parameter;
      break;
    case 0x02:
      p.max_packet_lifetime = open.reliability_parameter;
      break;
    default:
      break;
  }
  p.negotiated = false;
  p.id = stream_id;
  p.priority = open.priority;
  return p;
}

}  // namespace cellrtc::datachannel
