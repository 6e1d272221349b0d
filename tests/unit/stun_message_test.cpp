#include "core/stun/stun_message.h"

#include <gtest/gtest.h>

#include <string>

#include "core/common/crc32.h"
#include "core/common/random.h"

namespace cellrtc::stun {
namespace {

Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}

constexpr TransactionId kTid = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

// RFC 5769 section 2.1: a Binding request with short-term credentials.
const Bytes kSampleRequest =
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
        "00 24 00 04 6e 00 01 ff"
        "80 29 00 08 93 2f f9 b1 51 26 3b 36"
        "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
        "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
        "80 28 00 04 e5 7a 3b cf");
constexpr std::string_view kSamplePassword = "VOkJxbRl1RmTxUk/WvJxBt";

// RFC 5769 section 2.2: a success response with an IPv4 XOR-MAPPED-ADDRESS.
const Bytes kSampleV4Response =
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
        "00 20 00 08 00 01 a1 47 e1 12 a6 43"
        "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
        "80 28 00 04 c0 7d 4c 96");

// RFC 5769 section 2.3: the same with an IPv6 XOR-MAPPED-ADDRESS.
const Bytes kSampleV6Response =
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
        "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
        "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
        "80 28 00 04 c8 fb 0b 4c");

// RFC 5769 section 2.4: a request with long-term credentials (no FINGERPRINT). The username
// is U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9; the password after SASLprep is "TheMatrIX".
const Bytes kSampleLongTermRequest =
    hex("00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
        "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
        "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 "
        "73 41"
        "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
        "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66");
constexpr std::string_view kLongTermUsername =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

TEST(StunRfc5769, SampleRequest) {
  auto m = Message::parse(kSampleRequest);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_EQ(m->method(), Method::binding);
  EXPECT_EQ(m->cls(), Class::request);
  EXPECT_EQ(m->transaction_id(), kTid);
  EXPECT_EQ(m->software(), "STUN test client");
  EXPECT_EQ(m->priority(), 0x6e0001ffu);
  EXPECT_EQ(m->ice_controlled(), 0x932ff9b151263b36u);
  EXPECT_FALSE(m->ice_controlling());
  EXPECT_EQ(m->username(), "evtj:h6vY");
  EXPECT_TRUE(m->has_fingerprint());
  EXPECT_TRUE(m->has_message_integrity());
  EXPECT_TRUE(m->check_integrity(as_bytes(kSamplePassword)));
  EXPECT_FALSE(m->check_integrity(as_bytes("VOkJxbRl1RmTxUk/WvJxBu")));
  EXPECT_TRUE(m->unknown_comprehension_required().empty());
  EXPECT_TRUE(looks_like_stun(kSampleRequest));
}

TEST(StunRfc5769, SampleIpv4Response) {
  auto m = Message::parse(kSampleV4Response);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_EQ(m->method(), Method::binding);
  EXPECT_EQ(m->cls(), Class::success_response);
  EXPECT_EQ(m->software(), "test vector");
  EXPECT_EQ(m->xor_mapped_address(), addr("192.0.2.1:32853"));
  EXPECT_TRUE(m->check_integrity(as_bytes(kSamplePassword)));
}

TEST(StunRfc5769, SampleIpv6Response) {
  auto m = Message::parse(kSampleV6Response);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_EQ(m->cls(), Class::success_response);
  EXPECT_EQ(m->xor_mapped_address(), addr("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_TRUE(m->check_integrity(as_bytes(kSamplePassword)));
}

TEST(StunRfc5769, SampleLongTermRequest) {
  auto m = Message::parse(kSampleLongTermRequest);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_EQ(m->username(), kLongTermUsername);
  EXPECT_EQ(m->nonce(), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m->realm(), "example.org");
  EXPECT_FALSE(m->has_fingerprint());
  auto key = long_term_key(kLongTermUsername, "example.org", "TheMatrIX");
  EXPECT_TRUE(m->check_integrity(key));
  auto wrong = long_term_key(kLongTermUsername, "example.org", "TheMatrix");
  EXPECT_FALSE(m->check_integrity(wrong));
}

// RFC 5769 section 2.4 pads with zeros, as the builder does, so it is rebuilt byte for byte
// (the other vectors pad with spaces).
TEST(StunRfc5769, BuilderReproducesLongTermRequest) {
  MessageBuilder b(Method::binding, Class::request,
                   {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e});
  b.add_username(kLongTermUsername)
      .add_nonce("f//499k954d6OL34oL9FSTvy64sA")
      .add_realm("example.org");
  Bytes out = std::move(b).finish_with_integrity(
      long_term_key(kLongTermUsername, "example.org", "TheMatrIX"), false);
  EXPECT_EQ(out, kSampleLongTermRequest);
}

TEST(StunRfc5769, BuilderReproducesSampleRequestWithItsPadding) {
  // The builder pads with zeros; with the vector's space padding replaced by zeros (and the
  // MESSAGE-INTEGRITY and FINGERPRINT recomputed), parse and check must still agree.
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_software("STUN test client")
      .add_priority(0x6e0001ff)
      .add_ice_controlled(0x932ff9b151263b36)
      .add_username("evtj:h6vY");
  Bytes out = std::move(b).finish_with_integrity(as_bytes(kSamplePassword), true);
  ASSERT_EQ(out.size(), kSampleRequest.size());
  // Identical up to the username padding.
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 73, kSampleRequest.begin()));
  auto m = Message::parse(out);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_TRUE(m->check_integrity(as_bytes(kSamplePassword)));
}

TEST(StunMessage, MethodAndClassInterleaving) {
  // RFC 8489 section 5: Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011.
  struct Case {
    Method method;
    Class cls;
    uint16_t type;
  } cases[] = {
      {Method::binding, Class::request, 0x0001},
      {Method::binding, Class::indication, 0x0011},
      {Method::binding, Class::success_response, 0x0101},
      {Method::binding, Class::error_response, 0x0111},
      {Method::allocate, Class::request, 0x0003},
      {Method::allocate, Class::error_response, 0x0113},
      {Method::refresh, Class::success_response, 0x0104},
      {Method::send, Class::indication, 0x0016},
      {Method::data, Class::indication, 0x0017},
      {Method::create_permission, Class::request, 0x0008},
      {Method::channel_bind, Class::success_response, 0x0109},
      {static_cast<Method>(0x0FFF), Class::error_response, 0x3FFF},
      {static_cast<Method>(0x0080), Class::request, 0x0200},
  };
  for (const auto& c : cases) {
    Bytes out = MessageBuilder(c.method, c.cls, kTid).finish();
    EXPECT_EQ(load_be16(out.data()), c.type) << static_cast<int>(c.method);
    auto m = Message::parse(out);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->raw_method(), static_cast<uint16_t>(c.method));
    EXPECT_EQ(m->method(), c.method);
    EXPECT_EQ(m->cls(), c.cls);
  }
}

TEST(StunMessage, EveryMethodAndClassRoundTrips) {
  for (uint16_t method = 0; method < 0x1000; ++method) {
    for (uint8_t cls = 0; cls < 4; ++cls) {
      Bytes out =
          MessageBuilder(static_cast<Method>(method), static_cast<Class>(cls), kTid).finish();
      auto m = Message::parse(out);
      ASSERT_TRUE(m);
      ASSERT_EQ(m->raw_method(), method);
      ASSERT_EQ(m->cls(), static_cast<Class>(cls));
    }
  }
}

TEST(StunMessage, UnknownMethodKeepsRawValue) {
  Bytes out = MessageBuilder(static_cast<Method>(0x0080), Class::request, kTid).finish();
  EXPECT_EQ(load_be16(out.data()), 0x0200);  // M7 sits at bit 9
  auto m = Message::parse(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->raw_method(), 0x080);
  EXPECT_EQ(static_cast<uint16_t>(m->method()), 0x080);
}

TEST(StunMessage, ResponseToCopiesMethodAndTransactionId) {
  Bytes req = MessageBuilder(Method::allocate, Class::request, kTid).finish();
  auto m = Message::parse(req);
  ASSERT_TRUE(m);
  Bytes resp = MessageBuilder::response_to(*m, Class::error_response).finish();
  auto r = Message::parse(resp);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method(), Method::allocate);
  EXPECT_EQ(r->cls(), Class::error_response);
  EXPECT_EQ(r->transaction_id(), kTid);
}

TEST(StunMessage, StringAttributesRoundTrip) {
  MessageBuilder b(Method::allocate, Class::request, kTid);
  b.add_username("user").add_realm("realm.example").add_nonce("n0nce").add_software("sw 1.0");
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->username(), "user");
  EXPECT_EQ(m->realm(), "realm.example");
  EXPECT_EQ(m->nonce(), "n0nce");
  EXPECT_EQ(m->software(), "sw 1.0");
  EXPECT_FALSE(m->has_fingerprint());
}

TEST(StunMessage, StringLengthLimits) {
  // RFC 8489 sections 14.3, 14.9, 14.10, 14.14: the getter treats longer values as malformed.
  const std::string user_ok(513, 'u'), user_long(514, 'u');
  const std::string text_ok(763, 't'), text_long(764, 't');
  {
    MessageBuilder b(Method::binding, Class::request, kTid);
    b.add_username(user_ok).add_realm(text_ok).add_nonce(text_ok).add_software(text_ok);
    auto m = Message::parse(std::move(b).finish());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->username(), user_ok);
    EXPECT_EQ(m->realm(), text_ok);
    EXPECT_EQ(m->nonce(), text_ok);
    EXPECT_EQ(m->software(), text_ok);
  }
  {
    MessageBuilder b(Method::binding, Class::request, kTid);
    b.add_username(user_long).add_realm(text_long).add_nonce(text_long).add_software(text_long);
    auto m = Message::parse(std::move(b).finish());
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->has(attr::kUsername));
    EXPECT_FALSE(m->username());
    EXPECT_FALSE(m->realm());
    EXPECT_FALSE(m->nonce());
    EXPECT_FALSE(m->software());
  }
}

TEST(StunMessage, AddressAttributesRoundTrip) {
  const char* addrs[] = {
      "192.0.2.1:32853",    "0.0.0.0:0", "255.255.255.255:65535",
      "[2001:db8::1]:3478", "[::]:1",    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:9"};
  for (const char* text : addrs) {
    const SocketAddress a = addr(text);
    MessageBuilder b(Method::allocate, Class::success_response, kTid);
    b.add_mapped_address(a)
        .add_xor_mapped_address(a)
        .add_xor_relayed_address(a)
        .add_xor_peer_address(a)
        .add_xor_peer_address(addr("198.51.100.7:4000"))
        .add_raw(attr::kAlternateServer, {});
    auto m = Message::parse(std::move(b).finish(true));
    ASSERT_TRUE(m) << text;
    EXPECT_EQ(m->mapped_address(), a) << text;
    EXPECT_EQ(m->xor_mapped_address(), a) << text;
    EXPECT_EQ(m->xor_relayed_address(), a) << text;
    auto peers = m->xor_peer_addresses();
    ASSERT_EQ(peers.size(), 2u);
    EXPECT_EQ(peers[0], a);
    EXPECT_EQ(peers[1], addr("198.51.100.7:4000"));
    EXPECT_FALSE(m->alternate_server());  // empty value is malformed
  }
}

TEST(StunMessage, XorAddressIsActuallyXored) {
  MessageBuilder b(Method::binding, Class::success_response, kTid);
  b.add_xor_mapped_address(addr("192.0.2.1:32853"));
  Bytes out = std::move(b).finish();
  // Same bytes as RFC 5769 section 2.2.
  EXPECT_EQ(Bytes(out.begin() + 20, out.end()), hex("00 20 00 08 00 01 a1 47 e1 12 a6 43"));
  auto m = Message::parse(out);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->mapped_address());
}

TEST(StunMessage, AlternateServerIsPlain) {
  MessageBuilder b(Method::allocate, Class::error_response, kTid);
  b.add_error_code(error::kTryAlternate, "Try Alternate");
  // ALTERNATE-SERVER shares the MAPPED-ADDRESS encoding (RFC 8489 section 14.15).
  const uint8_t v[] = {0, 1, 0x0d, 0x96, 203, 0, 113, 5};
  b.add_raw(attr::kAlternateServer, v);
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->alternate_server(), addr("203.0.113.5:3478"));
  EXPECT_EQ(m->error_code()->code, 300);
}

TEST(StunMessage, MalformedAddressValues) {
  const Bytes bad[] = {
      hex(""),
      hex("00 01 00"),
      hex("00 01 00 50 01 02 03"),        // v4, 3 address bytes
      hex("00 01 00 50 01 02 03 04 05"),  // v4, 5 address bytes
      hex("00 02 00 50 01 02 03 04"),     // v6 family, v4 size
      hex("00 03 00 50 01 02 03 04"),     // unknown family
      hex("00 00 00 50 01 02 03 04"),     // family 0
  };
  for (const Bytes& v : bad) {
    MessageBuilder b(Method::binding, Class::success_response, kTid);
    b.add_raw(attr::kXorMappedAddress, v).add_raw(attr::kMappedAddress, v);
    auto m = Message::parse(std::move(b).finish());
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->xor_mapped_address());
    EXPECT_FALSE(m->mapped_address());
  }
}

TEST(StunMessage, NumericAttributesRoundTrip) {
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_priority(0x7effffff)
      .add_use_candidate()
      .add_ice_controlling(0x0123456789abcdef)
      .add_ice_controlled(0xfedcba9876543210)
      .add_lifetime(600)
      .add_channel_number(0x4abc)
      .add_requested_transport(17);
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->priority(), 0x7effffffu);
  EXPECT_TRUE(m->use_candidate());
  EXPECT_EQ(m->ice_controlling(), 0x0123456789abcdefu);
  EXPECT_EQ(m->ice_controlled(), 0xfedcba9876543210u);
  EXPECT_EQ(m->lifetime(), 600u);
  EXPECT_EQ(m->channel_number(), 0x4abc);
  EXPECT_EQ(m->requested_transport(), 17);
  // Encodings: CHANNEL-NUMBER and REQUESTED-TRANSPORT carry RFFU zeros (RFC 8656 18.1, 18.7).
  EXPECT_EQ(Bytes(m->find(attr::kChannelNumber)->begin(), m->find(attr::kChannelNumber)->end()),
            hex("4a bc 00 00"));
  EXPECT_EQ(
      Bytes(m->find(attr::kRequestedTransport)->begin(), m->find(attr::kRequestedTransport)->end()),
      hex("11 00 00 00"));
}

TEST(StunMessage, NumericAttributesWithWrongSizes) {
  const uint8_t three[] = {1, 2, 3};
  const uint8_t five[] = {1, 2, 3, 4, 5};
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_raw(attr::kPriority, three)
      .add_raw(attr::kIceControlling, five)
      .add_raw(attr::kIceControlled, three)
      .add_raw(attr::kLifetime, five)
      .add_raw(attr::kChannelNumber, three)
      .add_raw(attr::kRequestedTransport, five)
      .add_raw(attr::kErrorCode, three)
      .add_raw(attr::kUnknownAttributes, three);
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->priority());
  EXPECT_FALSE(m->ice_controlling());
  EXPECT_FALSE(m->ice_controlled());
  EXPECT_FALSE(m->lifetime());
  EXPECT_FALSE(m->channel_number());
  EXPECT_FALSE(m->requested_transport());
  EXPECT_FALSE(m->error_code());
  EXPECT_FALSE(m->unknown_attributes());
}

TEST(StunMessage, ChannelNumberOutOfRange) {
  for (uint16_t ch : {0x0000, 0x3fff, 0x5000, 0xffff}) {
    MessageBuilder b(Method::channel_bind, Class::request, kTid);
    b.add_channel_number(ch);
    auto m = Message::parse(std::move(b).finish());
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->channel_number()) << ch;
  }
  for (uint16_t ch : {0x4000, 0x4fff}) {
    MessageBuilder b(Method::channel_bind, Class::request, kTid);
    b.add_channel_number(ch);
    auto m = Message::parse(std::move(b).finish());
    EXPECT_EQ(m->channel_number(), ch);
  }
}

TEST(StunMessage, ErrorCodeRoundTrip) {
  for (uint16_t code : {300, 400, 401, 420, 438, 487, 500, 508, 699}) {
    MessageBuilder b(Method::binding, Class::error_response, kTid);
    b.add_error_code(code, "Reason \xc3\xa9");
    Bytes out = std::move(b).finish();
    // Class in the hundreds, number below (RFC 8489 section 14.8).
    EXPECT_EQ(out[20 + 6], code / 100);
    EXPECT_EQ(out[20 + 7], code % 100);
    auto m = Message::parse(out);
    ASSERT_TRUE(m);
    auto e = m->error_code();
    ASSERT_TRUE(e) << code;
    EXPECT_EQ(e->code, code);
    EXPECT_EQ(e->reason, "Reason \xc3\xa9");
  }
}

TEST(StunMessage, ErrorCodeOutOfRange) {
  const Bytes bad[] = {hex("00 00 02 63"), hex("00 00 07 00"), hex("00 00 04 64"),
                       hex("00 00 00 00")};
  for (const Bytes& v : bad) {
    MessageBuilder b(Method::binding, Class::error_response, kTid);
    b.add_raw(attr::kErrorCode, v);
    auto m = Message::parse(std::move(b).finish());
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->error_code());
  }
  // A reason over 763 bytes is malformed; an empty reason is fine.
  MessageBuilder b(Method::binding, Class::error_response, kTid);
  b.add_error_code(400, std::string(764, 'r'));
  EXPECT_FALSE(Message::parse(std::move(b).finish())->error_code());
  MessageBuilder b2(Method::binding, Class::error_response, kTid);
  b2.add_error_code(401, "");
  auto e = Message::parse(std::move(b2).finish())->error_code();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 401);
  EXPECT_EQ(e->reason, "");
}

TEST(StunMessage, UnknownAttributesRoundTrip) {
  for (const std::vector<uint16_t>& types : {std::vector<uint16_t>{}, std::vector<uint16_t>{0x7777},
                                             std::vector<uint16_t>{0x0002, 0x0003, 0x0004}}) {
    MessageBuilder b(Method::binding, Class::error_response, kTid);
    b.add_error_code(error::kUnknownAttribute, "Unknown Attribute").add_unknown_attributes(types);
    Bytes out = std::move(b).finish(true);
    EXPECT_EQ(out.size() % 4, 0u);
    auto m = Message::parse(out);
    ASSERT_TRUE(m) << m.error().reason;
    EXPECT_EQ(m->unknown_attributes(), types);
  }
}

TEST(StunMessage, DataRoundTripAndPadding) {
  for (size_t n : {0, 1, 2, 3, 4, 5, 1000}) {
    Bytes payload(n);
    for (size_t i = 0; i < n; ++i)
      payload[i] = static_cast<uint8_t>(i * 7 + 1);
    MessageBuilder b(Method::data, Class::indication, kTid);
    b.add_xor_peer_address(addr("192.0.2.9:1000")).add_data(payload).add_lifetime(5);
    Bytes out = std::move(b).finish();
    EXPECT_EQ(out.size() % 4, 0u);
    // Padding is zeros (RFC 8489 section 14).
    const size_t data_end = 20 + 12 + 4 + n;
    for (size_t i = data_end; i < 20 + 12 + 4 + ((n + 3) & ~size_t{3}); ++i)
      EXPECT_EQ(out[i], 0) << n;
    auto m = Message::parse(out);
    ASSERT_TRUE(m);
    auto d = m->data();
    ASSERT_TRUE(d);
    EXPECT_EQ(Bytes(d->begin(), d->end()), payload);
    EXPECT_EQ(m->lifetime(), 5u);
  }
}

TEST(StunMessage, FindReturnsFirstAndAttributesKeepOrder) {
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_priority(1).add_priority(2).add_software("x");
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->priority(), 1u);
  ASSERT_EQ(m->attributes().size(), 3u);
  EXPECT_EQ(m->attributes()[0].type, attr::kPriority);
  EXPECT_EQ(m->attributes()[2].type, attr::kSoftware);
  EXPECT_FALSE(m->find(attr::kUsername));
  EXPECT_FALSE(m->has(attr::kUsername));
}

TEST(StunMessage, CopyRepointsAttributeViews) {
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_username("alice").add_priority(7);
  auto parsed = Message::parse(std::move(b).finish());
  ASSERT_TRUE(parsed);
  Message copy = *parsed;
  Message assigned;
  assigned = copy;
  parsed = Message::parse(kSampleV4Response);  // the original buffer is gone
  for (const Message* m : {&copy, &assigned}) {
    EXPECT_EQ(m->username(), "alice");
    EXPECT_EQ(m->priority(), 7u);
    for (const auto& a : m->attributes()) {
      EXPECT_GE(a.value.data(), m->bytes().data());
      EXPECT_LE(a.value.data() + a.value.size(), m->bytes().data() + m->bytes().size());
    }
  }
  Message moved = std::move(copy);
  EXPECT_EQ(moved.username(), "alice");
}

TEST(StunMessage, UnknownComprehensionRequired) {
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_raw(0x0002, {})
      .add_raw(0x7fff, {})
      .add_raw(0x0002, {})
      .add_raw(0x8001, {})  // comprehension-optional: never reported
      .add_raw(attr::kMessageIntegritySha256, hex("00 00 00 00"))
      .add_priority(1);
  auto m = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->unknown_comprehension_required(),
            (std::vector<uint16_t>{0x0002, 0x7fff, attr::kMessageIntegritySha256}));
  EXPECT_TRUE(is_known_attribute(attr::kXorMappedAddress));
  EXPECT_TRUE(is_known_attribute(attr::kUseCandidate));
  EXPECT_TRUE(is_known_attribute(attr::kRequestedTransport));
  EXPECT_FALSE(is_known_attribute(0x0002));
  EXPECT_FALSE(is_known_attribute(attr::kUserhash));
}

TEST(StunMessage, IntegrityWithAndWithoutFingerprint) {
  const auto key = as_bytes("secret");
  for (bool fp : {false, true}) {
    MessageBuilder b(Method::binding, Class::request, kTid);
    b.add_username("a:b").add_priority(99);
    Bytes out = std::move(b).finish_with_integrity(key, fp);
    auto m = Message::parse(out);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->has_fingerprint(), fp);
    EXPECT_TRUE(m->check_integrity(key));
    EXPECT_FALSE(m->check_integrity(as_bytes("Secret")));
    EXPECT_FALSE(m->check_integrity({}));
    // The header length covers the whole message once finished.
    EXPECT_EQ(load_be16(out.data() + 2), out.size() - 20);
  }
}

TEST(StunMessage, IntegrityAbsentOrWrongSize) {
  auto m = Message::parse(MessageBuilder(Method::binding, Class::request, kTid).finish(true));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->has_message_integrity());
  EXPECT_FALSE(m->check_integrity(as_bytes("k")));
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_raw(attr::kMessageIntegrity, hex("01 02 03 04"));
  auto m2 = Message::parse(std::move(b).finish());
  ASSERT_TRUE(m2);
  EXPECT_FALSE(m2->check_integrity(as_bytes("k")));
}

TEST(StunMessage, IntegrityDetectsTampering) {
  const auto key = as_bytes("secret");
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_username("a:b").add_priority(99);
  Bytes out = std::move(b).finish_with_integrity(key, false);
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == 2 || i == 3) continue;  // length: caught by parse
    Bytes tampered = out;
    tampered[i] ^= 0x01;
    auto m = Message::parse(tampered);
    if (!m) continue;
    EXPECT_FALSE(m->check_integrity(key)) << i;
  }
}

TEST(StunMessage, AttributesAfterIntegrityAreIgnored) {
  // RFC 8489 section 14.5: only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow.
  const auto key = as_bytes("secret");
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_username("a:b");
  Bytes signed_msg = std::move(b).finish_with_integrity(key, false);
  // Append PRIORITY, a second MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and USERNAME, then
  // FINGERPRINT, by hand.
  Bytes out = signed_msg;
  ByteWriter w(out);
  w.u16(attr::kPriority);
  w.u16(4);
  w.u32(42);
  w.u16(attr::kMessageIntegrity);
  w.u16(20);
  w.zeros(20);
  w.u16(attr::kMessageIntegritySha256);
  w.u16(32);
  w.zeros(32);
  w.u16(attr::kUsername);
  w.u16(4);
  w.u32(0x65766531);
  w.patch_u16(2, static_cast<uint16_t>(out.size() + 8 - 20));
  const uint32_t fp = crc32(out) ^ 0x5354554e;
  w.u16(attr::kFingerprint);
  w.u16(4);
  w.u32(fp);
  auto m = Message::parse(out);
  ASSERT_TRUE(m) << m.error().reason;
  EXPECT_FALSE(m->priority());
  EXPECT_EQ(m->username(), "a:b");
  EXPECT_TRUE(m->has(attr::kMessageIntegritySha256));
  EXPECT_TRUE(m->has_fingerprint());
  ASSERT_EQ(m->attributes().size(), 4u);  // USERNAME, MI, MI-SHA256, FINGERPRINT
  EXPECT_TRUE(m->check_integrity(key));
}

// --- Malformed input -------------------------------------------------------------------------

Bytes sample() {
  MessageBuilder b(Method::binding, Class::request, kTid);
  b.add_username("user:peer").add_priority(5);
  return std::move(b).finish(true);
}

void expect_error(ByteView bytes, Errc code, const char* what) {
  auto m = Message::parse(bytes);
  ASSERT_FALSE(m) << what;
  EXPECT_EQ(m.error().code, code) << what << ": " << m.error().reason;
  EXPECT_NE(m.error().reason, nullptr);
  EXPECT_FALSE(std::string_view(m.error().reason).empty());
}

TEST(StunMessageMalformed, TruncatedHeader) {
  const Bytes s = sample();
  for (size_t n = 0; n < 20; ++n)
    expect_error(ByteView(s).first(n), Errc::truncated, "header");
}

TEST(StunMessageMalformed, EveryTruncationFails) {
  const Bytes s = sample();
  for (size_t n = 0; n < s.size(); ++n) {
    EXPECT_FALSE(Message::parse(ByteView(s).first(n))) << n;
    EXPECT_FALSE(looks_like_stun(ByteView(s).first(n))) << n;
  }
  EXPECT_TRUE(Message::parse(s));
}

TEST(StunMessageMalformed, LeadingBits) {
  for (uint8_t bits : {0x40, 0x80, 0xc0}) {
    Bytes s = sample();
    s[0] |= bits;
    expect_error(s, Errc::malformed, "leading bits");
    EXPECT_FALSE(looks_like_stun(s));
  }
}

TEST(StunMessageMalformed, BadCookie) {
  Bytes s = sample();
  s[7] ^= 0x01;
  expect_error(s, Errc::malformed, "cookie");
  EXPECT_FALSE(looks_like_stun(s));
}

TEST(StunMessageMalformed, LengthNotMultipleOfFour) {
  Bytes s = MessageBuilder(Method::binding, Class::request, kTid).finish();
  s.push_back(0);
  s.push_back(0);
  store_be16(&s[2], 2);
  expect_error(s, Errc::malformed, "length % 4");
  EXPECT_FALSE(looks_like_stun(s));
}

TEST(StunMessageMalformed, LengthDisagreesWithSize) {
  Bytes s = sample();
  Bytes longer = s;
  longer.insert(longer.end(), {0, 0, 0, 0});
  expect_error(longer, Errc::malformed, "trailing bytes");
  Bytes shorter_field = s;
  store_be16(&shorter_field[2], static_cast<uint16_t>(s.size() - 20 + 4));
  expect_error(shorter_field, Errc::truncated, "length past the end");
}

TEST(StunMessageMalformed, AttributeRunsPastEnd) {
  // PRIORITY claiming 8 bytes in a 4-byte slot at the end of the message.
  Bytes s = MessageBuilder(Method::binding, Class::request, kTid).finish();
  ByteWriter w(s);
  w.u16(attr::kPriority);
  w.u16(8);
  w.u32(1);
  w.patch_u16(2, 8);
  expect_error(s, Errc::truncated, "attribute length");
  // Padding past the end: a 5-byte value with only 8 bytes of room.
  Bytes p = MessageBuilder(Method::binding, Class::request, kTid).finish();
  ByteWriter wp(p);
  wp.u16(attr::kUsername);
  wp.u16(5);
  wp.u32(0x61626364);
  wp.patch_u16(2, 8);
  expect_error(p, Errc::truncated, "padding");
  // Length 0xffff.
  Bytes big = MessageBuilder(Method::binding, Class::request, kTid).finish();
  ByteWriter wb(big);
  wb.u16(attr::kData);
  wb.u16(0xffff);
  wb.zeros(12);
  wb.patch_u16(2, 16);
  expect_error(big, Errc::truncated, "huge attribute");
}

TEST(StunMessageMalformed, TooManyAttributes) {
  MessageBuilder ok(Method::binding, Class::request, kTid);
  for (size_t i = 0; i < kMaxAttributes; ++i)
    ok.add_raw(0x8001, {});
  EXPECT_TRUE(Message::parse(std::move(ok).finish()));
  MessageBuilder b(Method::binding, Class::request, kTid);
  for (size_t i = 0; i < kMaxAttributes + 1; ++i)
    b.add_raw(0x8001, {});
  expect_error(std::move(b).finish(), Errc::limit_exceeded, "too many");
}

TEST(StunMessageMalformed, Oversize) {
  MessageBuilder b(Method::send, Class::indication, kTid);
  b.add_data(Bytes(kMaxMessageSize - 20 - 4));
  Bytes at_limit = std::move(b).finish();
  ASSERT_EQ(at_limit.size(), kMaxMessageSize);
  EXPECT_TRUE(Message::parse(at_limit));
  MessageBuilder b2(Method::send, Class::indication, kTid);
  b2.add_data(Bytes(kMaxMessageSize - 20));
  expect_error(std::move(b2).finish(), Errc::limit_exceeded, "oversize");
}

TEST(StunMessageMalformed, BadFingerprint) {
  Bytes s = sample();
  s.back() ^= 0x80;
  expect_error(s, Errc::integrity, "fingerprint value");
  Bytes v = kSampleRequest;
  v[30] ^= 0x01;  // inside SOFTWARE, covered by the CRC
  expect_error(v, Errc::integrity, "fingerprint over tampered body");
}

TEST(StunMessageMalformed, FingerprintNotLast) {
  Bytes s = sample();
  ByteWriter w(s);
  w.u16(attr::kPriority);
  w.u16(4);
  w.u32(1);
  w.patch_u16(2, static_cast<uint16_t>(s.size() - 20));
  expect_error(s, Errc::integrity, "fingerprint not last");
}

TEST(StunMessageMalformed, FingerprintWrongLength) {
  Bytes s = MessageBuilder(Method::binding, Class::request, kTid).finish();
  ByteWriter w(s);
  w.u16(attr::kFingerprint);
  w.u16(8);
  w.zeros(8);
  w.patch_u16(2, 12);
  expect_error(s, Errc::integrity, "fingerprint length");
}

TEST(StunMessageMalformed, WrongKeyFailsIntegrity) {
  auto m = Message::parse(kSampleV6Response);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->check_integrity(as_bytes("wrong")));
  EXPECT_FALSE(m->check_integrity(as_bytes(std::string(kSamplePassword) + "x")));
}

TEST(StunHelpers, RandomTransactionIdUsesInjectedRandom) {
  SeededRandom a(7), b(7), c(8);
  const TransactionId x = random_transaction_id(a);
  EXPECT_EQ(x, random_transaction_id(b));
  EXPECT_NE(x, random_transaction_id(c));
  EXPECT_NE(x, random_transaction_id(a));
}

TEST(StunHelpers, LongTermKeyIsMd5OfJoinedCredentials) {
  EXPECT_EQ(long_term_key("user", "realm", "pass"), md5(as_bytes("user:realm:pass")));
}

TEST(StunHelpers, LooksLikeStun) {
  EXPECT_TRUE(looks_like_stun(sample()));
  EXPECT_TRUE(looks_like_stun(kSampleLongTermRequest));
  EXPECT_FALSE(looks_like_stun({}));
  Bytes s = sample();
  s.push_back(0);
  EXPECT_FALSE(looks_like_stun(s));
}

}  // namespace
}  // namespace cellrtc::stun
