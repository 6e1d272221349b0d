// DCEP (RFC 8832): DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK byte for byte as laid out in the
// figures of sections 5.1 and 5.2, PPIDs (RFC 8831 section 8), the stream-id parity rule
// (RFC 8832 section 6) and channel parameters.
#include <gtest/gtest.h>

#include <string>

#include "core/datachannel/dcep.h"

namespace cellrtc::datachannel {
namespace {

DataChannelOpen parse_open(const Bytes& bytes) {
  auto m = parse_dcep(bytes);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().reason);
  if (!m.ok() || !std::holds_alternative<DataChannelOpen>(*m)) return {};
  return std::get<DataChannelOpen>(*m);
}

Bytes encode_ok(const DataChannelOpen& open) {
  auto b = encode_open(open);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().reason);
  return b.ok() ? *b : Bytes{};
}

Errc parse_error(const Bytes& bytes) {
  auto m = parse_dcep(bytes);
  EXPECT_FALSE(m.ok());
  return m.ok() ? Errc::invalid_state : m.error().code;
}

// --- Section 5.1: DATA_CHANNEL_OPEN ----------------------------------------------------------

TEST(Dcep, OpenReliableOrdered) {
  // The control channel: reliable, ordered, normal priority, label "control", protocol "".
  const Bytes wire = {
      0x03,                                   // Message Type: DATA_CHANNEL_OPEN
      0x00,                                   // Channel Type: DATA_CHANNEL_RELIABLE
      0x01, 0x00,                             // Priority: 256
      0x00, 0x00, 0x00, 0x00,                 // Reliability Parameter
      0x00, 0x07,                             // Label Length
      0x00, 0x00,                             // Protocol Length
      'c',  'o',  'n',  't',  'r', 'o', 'l',  // Label
  };
  DataChannelOpen open;
  open.label = "control";
  EXPECT_EQ(encode_ok(open), wire);
  EXPECT_EQ(parse_open(wire), open);
}

TEST(Dcep, OpenPartialReliableRexmitUnorderedWithProtocol) {
  // The video channel: unordered, at most 0 retransmissions, high priority, with a protocol.
  const Bytes wire = {
      0x03, 0x81,                   // DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED
      0x02, 0x00,                   // Priority: 512
      0x00, 0x00, 0x00, 0x00,       // 0 retransmissions
      0x00, 0x05, 0x00, 0x0A,       // label 5, protocol 10
      'v',  'i',  'd',  'e',  'o',  //
      'c',  'e',  'l',  'l',  'r', 't', 'c', '.', 'v', '1',
  };
  DataChannelOpen open{ChannelType::partial_reliable_rexmit_unordered, priority::kHigh, 0, "video",
                       "cellrtc.v1"};
  EXPECT_EQ(encode_ok(open), wire);
  EXPECT_EQ(parse_open(wire), open);
}

TEST(Dcep, OpenPartialReliableTimed) {
  const Bytes wire = {
      0x03, 0x02,              // DATA_CHANNEL_PARTIAL_RELIABLE_TIMED
      0x00, 0x80,              // Priority: 128
      0x00, 0x00, 0x01, 0xF4,  // 500 ms lifetime
      0x00, 0x01, 0x00, 0x00,  //
      'x',
  };
  DataChannelOpen open{ChannelType::partial_reliable_timed, priority::kBelowNormal, 500, "x", ""};
  EXPECT_EQ(encode_ok(open), wire);
  EXPECT_EQ(parse_open(wire), open);
}

TEST(Dcep, EveryChannelTypeByte) {
  struct Case {
    ChannelType type;
    uint8_t byte;
    bool ordered;
  };
  for (Case c :
       {Case{ChannelType::reliable, 0x00, true}, Case{ChannelType::reliable_unordered, 0x80, false},
        Case{ChannelType::partial_reliable_rexmit, 0x01, true},
        Case{ChannelType::partial_reliable_rexmit_unordered, 0x81, false},
        Case{ChannelType::partial_reliable_timed, 0x02, true},
        Case{ChannelType::partial_reliable_timed_unordered, 0x82, false}}) {
    DataChannelOpen open;
    open.channel_type = c.type;
    Bytes b = encode_ok(open);
    ASSERT_EQ(b.size(), 12u);
    EXPECT_EQ(b[1], c.byte);
    EXPECT_EQ(is_ordered(c.type), c.ordered);
    EXPECT_EQ(parse_open(b).channel_type, c.type);
  }
}

TEST(Dcep, ReliableChannelsSendZeroAndIgnoreTheReliabilityParameter) {
  DataChannelOpen open;
  open.channel_type = ChannelType::reliable_unordered;
  open.reliability_parameter = 77;
  Bytes b = encode_ok(open);
  EXPECT_EQ(load_be32(&b[4]), 0u);
  store_be32(&b[4], 12345);
  EXPECT_EQ(parse_open(b).reliability_parameter, 0u);
}

TEST(Dcep, EmptyLabelAndProtocol) {
  const Bytes wire = {0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(encode_ok(DataChannelOpen{}), wire);
  EXPECT_EQ(parse_open(wire), DataChannelOpen{});
}

TEST(Dcep, LabelKeepsUtf8Bytes) {
  DataChannelOpen open;
  open.label = "c\xC3\xA1mara";  // "cámara"
  Bytes b = encode_ok(open);
  EXPECT_EQ(load_be16(&b[8]), 7);
  EXPECT_EQ(parse_open(b).label, open.label);
}

// --- Section 5.2: DATA_CHANNEL_ACK -----------------------------------------------------------

TEST(Dcep, Ack) {
  EXPECT_EQ(encode_ack(), Bytes{0x02});
  auto m = parse_dcep(Bytes{0x02});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::holds_alternative<DataChannelAck>(*m));
  EXPECT_EQ(parse_error(Bytes{0x02, 0x00}), Errc::malformed);
}

// --- Malformed messages ----------------------------------------------------------------------

TEST(Dcep, Errors) {
  EXPECT_EQ(parse_error(Bytes{}), Errc::truncated);
  for (uint8_t type : {0x00, 0x01, 0x04, 0x7F, 0xFF}) {
    EXPECT_EQ(parse_error(Bytes{type}), Errc::unsupported) << int(type);
  }
  // Header cut short.
  EXPECT_EQ(parse_error(Bytes{0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0}), Errc::truncated);
  // Lengths beyond the message.
  EXPECT_EQ(parse_error(Bytes{0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 'a', 'b'}),
            Errc::truncated);
  // Bytes after the protocol.
  EXPECT_EQ(parse_error(Bytes{0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 'a', 'b'}),
            Errc::malformed);
  // Unknown channel types, including the unordered bit on an unknown type.
  for (uint8_t t : {0x03, 0x7F, 0x83, 0xFF}) {
    EXPECT_EQ(parse_error(Bytes{0x03, t, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}), Errc::unsupported);
  }
  // Label or protocol over our bound, checked before the bytes are looked for.
  EXPECT_EQ(parse_error(Bytes{0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x04, 0x01, 0, 0}),
            Errc::limit_exceeded);
  EXPECT_EQ(parse_error(Bytes{0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}),
            Errc::limit_exceeded);
  DataChannelOpen big;
  big.label.assign(kMaxLabelLength + 1, 'a');
  EXPECT_FALSE(encode_open(big).ok());
  big.label.clear();
  big.protocol.assign(kMaxProtocolLength + 1, 'a');
  EXPECT_FALSE(encode_open(big).ok());
  big.protocol.clear();
  big.channel_type = static_cast<ChannelType>(0x05);
  EXPECT_EQ(encode_open(big).error().code, Errc::invalid_argument);
}

// --- RFC 8831 section 8: PPIDs ----------------------------------------------------------------

TEST(Dcep, Ppids) {
  EXPECT_EQ(static_cast<uint32_t>(Ppid::dcep), 50u);
  EXPECT_EQ(static_cast<uint32_t>(Ppid::string), 51u);
  EXPECT_EQ(static_cast<uint32_t>(Ppid::binary), 53u);
  EXPECT_EQ(static_cast<uint32_t>(Ppid::string_empty), 56u);
  EXPECT_EQ(static_cast<uint32_t>(Ppid::binary_empty), 57u);

  auto check = [](uint32_t ppid, PayloadKind kind, bool empty) {
    auto r = classify_ppid(ppid);
    ASSERT_TRUE(r.ok()) << ppid;
    EXPECT_EQ(r->kind, kind) << ppid;
    EXPECT_EQ(r->empty, empty) << ppid;
  };
  check(50, PayloadKind::dcep, false);
  check(51, PayloadKind::string, false);
  check(53, PayloadKind::binary, false);
  check(56, PayloadKind::string, true);
  check(57, PayloadKind::binary, true);
  for (uint32_t deprecated : {52u, 54u}) {
    auto r = classify_ppid(deprecated);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unsupported);
  }
  for (uint32_t other : {0u, 49u, 55u, 58u, 0xFFFFFFFFu})
    EXPECT_FALSE(classify_ppid(other).ok());

  EXPECT_EQ(message_ppid(false, false), Ppid::string);
  EXPECT_EQ(message_ppid(true, false), Ppid::binary);
  EXPECT_EQ(message_ppid(false, true), Ppid::string_empty);
  EXPECT_EQ(message_ppid(true, true), Ppid::binary_empty);
  ASSERT_EQ(empty_message_payload().size(), 1u);
  EXPECT_EQ(empty_message_payload()[0], 0);
}

// --- RFC 8832 section 6: stream id parity -----------------------------------------------------

TEST(Dcep, StreamIdParity) {
  EXPECT_EQ(first_stream_id(true), 0);
  EXPECT_EQ(first_stream_id(false), 1);
  EXPECT_TRUE(stream_id_is_ours(0, true));
  EXPECT_TRUE(stream_id_is_ours(2, true));
  EXPECT_FALSE(stream_id_is_ours(1, true));
  EXPECT_TRUE(stream_id_is_ours(1, false));
  EXPECT_FALSE(stream_id_is_ours(4, false));
  EXPECT_TRUE(stream_id_is_ours(65534, true));
  EXPECT_FALSE(stream_id_is_ours(65535, false));  // reserved
  EXPECT_TRUE(stream_id_is_peers(1, true));
  EXPECT_FALSE(stream_id_is_peers(0, true));  // what libpeer does as DTLS server
  EXPECT_TRUE(stream_id_is_peers(0, false));
  EXPECT_FALSE(stream_id_is_peers(65535, true));
}

// --- Channel parameters ------------------------------------------------------------------------

TEST(Dcep, ParametersToOpenMessage) {
  ChannelParameters video{.label = "video", .ordered = false, .max_retransmits = 0u};
  auto open = to_open_message(video);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->channel_type, ChannelType::partial_reliable_rexmit_unordered);
  EXPECT_EQ(open->reliability_parameter, 0u);
  EXPECT_EQ(open->priority, priority::kNormal);
  EXPECT_EQ(open->label, "video");

  ChannelParameters timed{
      .label = "t", .protocol = "p", .max_packet_lifetime = 150u, .priority = priority::kExtraHigh};
  open = to_open_message(timed);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->channel_type, ChannelType::partial_reliable_timed);
  EXPECT_EQ(open->reliability_parameter, 150u);
  EXPECT_EQ(open->priority, 1024);
  EXPECT_EQ(open->protocol, "p");

  open = to_open_message(ChannelParameters{.label = "control"});
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->channel_type, ChannelType::reliable);
  EXPECT_TRUE(ChannelParameters{}.reliable());
  EXPECT_FALSE(video.reliable());
}

TEST(Dcep, ParametersFromOpenMessageRoundTrip) {
  for (ChannelParameters p :
       {ChannelParameters{.label = "a"}, ChannelParameters{.label = "b", .ordered = false},
        ChannelParameters{.label = "c", .max_retransmits = 3u},
        ChannelParameters{.label = "d", .ordered = false, .max_packet_lifetime = 100u},
        ChannelParameters{.label = "e", .protocol = "json", .priority = priority::kHigh}}) {
    auto open = to_open_message(p);
    ASSERT_TRUE(open.ok());
    auto wire = encode_open(*open);
    ASSERT_TRUE(wire.ok());
    ChannelParameters back = from_open_message(parse_open(*wire), 6);
    p.id = 6;
    EXPECT_EQ(back, p) << p.label;
  }
}

TEST(Dcep, ParametersValidation) {
  auto code = [](const ChannelParameters& p) {
    auto s = validate(p);
    return s.ok() ? Errc::invalid_state : s.error().code;
  };
  EXPECT_TRUE(validate(ChannelParameters{.label = "ok"}).ok());
  EXPECT_EQ(code({.max_retransmits = 1u, .max_packet_lifetime = 1u}), Errc::invalid_argument);
  EXPECT_EQ(code({.negotiated = true}), Errc::invalid_argument);
  EXPECT_TRUE(validate({.negotiated = true, .id = 0}).ok());
  EXPECT_EQ(code({.id = 65535}), Errc::invalid_argument);
  EXPECT_EQ(code({.label = std::string(kMaxLabelLength + 1, 'x')}), Errc::limit_exceeded);
  EXPECT_EQ(code({.protocol = std::string(kMaxProtocolLength + 1, 'x')}), Errc::limit_exceeded);
  EXPECT_FALSE(to_open_message({.max_retransmits = 1u, .max_packet_lifetime = 1u}).ok());
}

}  // namespace
}  // namespace cellrtc::datachannel
