#include <gtest/gtest.h>

#include "core/common/bytes.h"
#include "core/common/crc32.h"
#include "core/common/crypto.h"
#include "core/common/random.h"
#include "core/common/socket_address.h"

namespace cellrtc {
namespace {

TEST(IpAddress, ParsesAndPrintsV4) {
  auto a = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4_value(), 0xC0000201u);
  EXPECT_EQ(a->to_string(), "192.0.2.1");
}

TEST(IpAddress, RejectsBadV4) {
  for (const char* s : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
                        "1..2.3", "1.2.3."}) {
    EXPECT_FALSE(IpAddress::parse(s)) << s;
  }
}

TEST(IpAddress, ParsesAndPrintsV6Rfc5952) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"::", "::"},
      {"::1", "::1"},
      {"2001:db8::1", "2001:db8::1"},
      {"2001:0DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
      {"fe80::", "fe80::"},
      {"::ffff:192.0.2.1", "::ffff:c000:201"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
  };
  for (const auto& c : cases) {
    auto a = IpAddress::parse(c.in);
    ASSERT_TRUE(a) << c.in;
    EXPECT_TRUE(a->is_v6());
    EXPECT_EQ(a->to_string(), c.out) << c.in;
  }
}

TEST(IpAddress, RejectsBadV6) {
  for (const char* s : {":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "1:", ":1",
                        "1:2:3:4:5:6:7:8::", "::1.2.3"}) {
    EXPECT_FALSE(IpAddress::parse(s)) << s;
  }
}

TEST(IpAddress, Classifies) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("10.1.2.3")->is_private());
  EXPECT_TRUE(IpAddress::parse("100.64.0.1")->is_private());
  EXPECT_FALSE(IpAddress::parse("8.8.8.8")->is_private());
  EXPECT_TRUE(IpAddress::parse("fe80::1")->is_link_local());
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
}

TEST(SocketAddress, ParsesBothFamilies) {
  auto a = SocketAddress::parse("192.0.2.1:3478");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), 3478);
  EXPECT_EQ(a->to_string(), "192.0.2.1:3478");
  auto b = SocketAddress::parse("[2001:db8::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->to_string(), "[2001:db8::1]:443");
  EXPECT_FALSE(SocketAddress::parse("2001:db8::1:443"));
  EXPECT_FALSE(SocketAddress::parse("1.2.3.4:65536"));
  EXPECT_FALSE(SocketAddress::parse("1.2.3.4:"));
  EXPECT_FALSE(SocketAddress::parse("[::1]"));
  EXPECT_NE(std::hash<SocketAddress>{}(*a), std::hash<SocketAddress>{}(*b));
}

TEST(ByteReader, StopsAtEnd) {
  const uint8_t data[] = {1, 2, 3};
  ByteReader r(data);
  EXPECT_EQ(r.u16(), 0x0102);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u16(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(r.take(1).empty());
}

TEST(Crc32, CheckValue) {
  // The standard check value of CRC-32/ISO-HDLC.
  EXPECT_EQ(crc32(as_bytes("123456789")), 0xCBF43926u);
}

TEST(Crypto, HmacSha1Rfc2202) {
  // RFC 2202 test case 2.
  auto mac = hmac_sha1(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  const uint8_t want[] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
                          0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
  EXPECT_TRUE(constant_time_equal(mac, want));
}

TEST(Random, SeededIsReproducibleAndIceCharsValid) {
  SeededRandom a(42), b(42), c(43);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  auto s = a.ice_chars(24);
  EXPECT_EQ(s.size(), 24u);
  for (char ch : s)
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/');
  for (int i = 0; i < 1000; ++i)
    EXPECT_LT(a.uniform(7), 7u);
}

}  // namespace
}  // namespace cellrtc
