// The SDP candidate codec (RFC 8839 section 5.1, RFC 6544 section 4.5) against lines as
// Chrome, Firefox, aioice and libpeer write them, and the priority rules of RFC 8445 5.1.2.
#include <gtest/gtest.h>

#include <string>

#include "core/ice/candidate.h"

namespace cellrtc::ice {
namespace {

SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}

Candidate parse_ok(std::string_view line) {
  auto c = parse_candidate(line);
  EXPECT_TRUE(c.ok()) << line << ": " << (c.ok() ? "" : c.error().reason);
  return c.ok() ? *c : Candidate{};
}

// --- Real lines -------------------------------------------------------------------------

TEST(IceCandidate, ChromeHostUdp) {
  auto c = parse_ok(
      "candidate:2999745851 1 udp 2122260223 192.168.56.1 54321 typ host generation 0 ufrag EsAw "
      "network-id 1 network-cost 10");
  EXPECT_EQ(c.foundation, "2999745851");
  EXPECT_EQ(c.component, 1);
  EXPECT_EQ(c.transport, TransportProtocol::udp);
  EXPECT_EQ(c.priority, 2122260223u);
  EXPECT_EQ(c.address, addr("192.168.56.1:54321"));
  EXPECT_FALSE(c.hostname);
  EXPECT_EQ(c.type, CandidateType::host);
  EXPECT_FALSE(c.related);
  EXPECT_EQ(c.tcp_type, TcpType::none);
  ASSERT_EQ(c.extensions.size(), 4u);
  EXPECT_EQ(c.extensions[0], (std::pair<std::string, std::string>{"generation", "0"}));
  EXPECT_EQ(c.extensions[1], (std::pair<std::string, std::string>{"ufrag", "EsAw"}));
  EXPECT_EQ(c.extensions[2], (std::pair<std::string, std::string>{"network-id", "1"}));
  EXPECT_EQ(c.extensions[3], (std::pair<std::string, std::string>{"network-cost", "10"}));
}

TEST(IceCandidate, ChromeMdnsHost) {
  auto c = parse_ok(
      "a=candidate:1467250027 1 udp 2122260223 3d6d1b0a-5d3f-4a4b-9f3e-2c1f0e8f7b3a.local 54321 "
      "typ host generation 0 ufrag EsAw network-id 1\r\n");
  ASSERT_TRUE(c.hostname);
  EXPECT_EQ(*c.hostname, "3d6d1b0a-5d3f-4a4b-9f3e-2c1f0e8f7b3a.local");
  EXPECT_EQ(c.address.port(), 54321);
  EXPECT_TRUE(c.address.ip().is_unspecified());
  EXPECT_EQ(format_candidate(c),
            "candidate:1467250027 1 UDP 2122260223 3d6d1b0a-5d3f-4a4b-9f3e-2c1f0e8f7b3a.local "
            "54321 typ host generation 0 ufrag EsAw network-id 1");
}

TEST(IceCandidate, ChromeSrflxHiddenRelatedAddress) {
  auto c = parse_ok(
      "candidate:842163049 1 udp 1677729535 203.0.113.4 61764 typ srflx raddr 0.0.0.0 rport 0 "
      "generation 0 ufrag EsAw network-cost 999");
  EXPECT_EQ(c.type, CandidateType::server_reflexive);
  ASSERT_TRUE(c.related);
  EXPECT_EQ(*c.related, addr("0.0.0.0:0"));
  EXPECT_EQ(c.extensions.size(), 3u);
}

TEST(IceCandidate, ChromeTcpActiveAndPassive) {
  auto a = parse_ok(
      "candidate:1853887674 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active generation 0 "
      "ufrag EsAw network-id 1");
  EXPECT_EQ(a.transport, TransportProtocol::tcp);
  EXPECT_EQ(a.tcp_type, TcpType::active);
  EXPECT_EQ(a.address.port(), 9);
  auto p = parse_ok(
      "candidate:3497187490 1 tcp 1518280447 192.168.1.10 45555 typ host tcptype passive "
      "generation 0");
  EXPECT_EQ(p.tcp_type, TcpType::passive);
}

TEST(IceCandidate, ChromeRelayAndPrflx) {
  auto r = parse_ok(
      "candidate:1808221584 1 udp 33562367 203.0.113.5 59844 typ relay raddr 198.51.100.7 rport "
      "55132 generation 0 ufrag EsAw network-id 1 network-cost 10");
  EXPECT_EQ(r.type, CandidateType::relayed);
  EXPECT_EQ(*r.related, addr("198.51.100.7:55132"));
  auto p = parse_ok(
      "candidate:3019873436 1 udp 1853824767 198.51.100.20 62011 typ prflx raddr 192.168.1.10 "
      "rport 62011 generation 0 ufrag EsAw network-id 1");
  EXPECT_EQ(p.type, CandidateType::peer_reflexive);
}

TEST(IceCandidate, ChromeIpv6Host) {
  auto c = parse_ok(
      "candidate:2157334355 1 udp 2122197247 2001:db8:85a3::8a2e:370:7334 50123 typ host "
      "generation 0 ufrag EsAw network-id 2");
  EXPECT_TRUE(c.address.ip().is_v6());
  EXPECT_EQ(c.address.port(), 50123);
  EXPECT_EQ(c.address.ip().to_string(), "2001:db8:85a3::8a2e:370:7334");
}

TEST(IceCandidate, FirefoxLines) {
  auto h = parse_ok("candidate:0 1 UDP 2122252543 192.168.1.10 49203 typ host");
  EXPECT_EQ(h.foundation, "0");
  EXPECT_TRUE(h.extensions.empty());
  auto t = parse_ok("candidate:1 1 TCP 2105524479 192.168.1.10 9 typ host tcptype active");
  EXPECT_EQ(t.tcp_type, TcpType::active);
  auto s = parse_ok(
      "candidate:2 1 UDP 1686052863 203.0.113.7 49203 typ srflx raddr 192.168.1.10 rport 49203");
  EXPECT_EQ(*s.related, addr("192.168.1.10:49203"));
  auto r = parse_ok(
      "candidate:3 1 UDP 92217087 198.51.100.2 61236 typ relay raddr 198.51.100.2 rport 61236");
  EXPECT_EQ(r.type, CandidateType::relayed);
  auto m = parse_ok(
      "candidate:0 1 UDP 2122252543 6a6e0b1c-8e0b-4d85-a8e5-0c6ff6a3e9f8.local 49203 typ host");
  EXPECT_EQ(*m.hostname, "6a6e0b1c-8e0b-4d85-a8e5-0c6ff6a3e9f8.local");
  auto v6 = parse_ok("candidate:4 2 UDP 2122187007 fe80::1c2f:5aff:fe33:1 49204 typ host");
  EXPECT_EQ(v6.component, 2);
  EXPECT_TRUE(v6.address.ip().is_link_local());
}

TEST(IceCandidate, AioiceLines) {
  // aioice 0.8: md5 hex foundation (32 characters, the maximum), lower-case transport.
  auto h = parse_ok("a6b6a4a0a4c0e2b4b5f1e3d2c1b0a9f8 1 udp 2130706431 127.0.0.1 45897 typ host");
  EXPECT_EQ(h.foundation.size(), 32u);
  EXPECT_EQ(h.address, addr("127.0.0.1:45897"));
  auto s = parse_ok(
      "0f3b6a0c2d9e8f7a6b5c4d3e2f1a0b9c 1 udp 1694498815 203.0.113.9 45897 typ srflx raddr "
      "10.0.0.2 rport 45897");
  EXPECT_EQ(*s.related, addr("10.0.0.2:45897"));
  auto t = parse_ok(
      "candidate:1b5c9f1f5f0e4d3c2b1a09f8e7d6c5b4 1 tcp 1694498815 10.0.0.2 9 typ host tcptype "
      "active generation 0");
  EXPECT_EQ(t.tcp_type, TcpType::active);
}

TEST(IceCandidate, LibpeerLines) {
  // libpeer writes a whole attribute line with CRLF, upper-case transport, no extensions.
  auto h = parse_ok("a=candidate:1 1 UDP 2130706431 192.168.1.10 51234 typ host\r\n");
  EXPECT_EQ(h.foundation, "1");
  EXPECT_EQ(h.address, addr("192.168.1.10:51234"));
  auto s = parse_ok(
      "a=candidate:2 1 UDP 1694498815 203.0.113.9 51234 typ srflx raddr 192.168.1.10 rport "
      "51234\n");
  EXPECT_EQ(s.type, CandidateType::server_reflexive);
}

TEST(IceCandidate, PrefixesAndLineEndingsAreOptional) {
  const Candidate expected = parse_ok("candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host");
  for (const char* line : {"1 1 UDP 2130706431 10.0.0.1 5000 typ host",
                           "a=candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host",
                           "candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host\r\n",
                           "candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host\n",
                           "candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host\r"}) {
    EXPECT_EQ(parse_ok(line), expected) << line;
  }
}

TEST(IceCandidate, TransportIsCaseInsensitive) {
  EXPECT_EQ(parse_ok("1 1 uDp 1 10.0.0.1 1 typ host").transport, TransportProtocol::udp);
  EXPECT_EQ(parse_ok("1 1 tCP 1 10.0.0.1 1 typ host").transport, TransportProtocol::tcp);
}

TEST(IceCandidate, FieldLimits) {
  auto c = parse_ok("+/Az09 256 UDP 4294967295 10.0.0.1 65535 typ host");
  EXPECT_EQ(c.component, 256);
  EXPECT_EQ(c.priority, 4294967295u);
  EXPECT_EQ(c.address.port(), 65535);
  EXPECT_EQ(parse_ok("1 1 UDP 0 10.0.0.1 0 typ host").priority, 0u);
  // raddr/rport may come after other extensions; tcptype may come before raddr.
  auto o =
      parse_ok("1 1 TCP 1 10.0.0.1 1 typ srflx tcptype so generation 0 raddr 10.0.0.2 rport 7");
  EXPECT_EQ(o.tcp_type, TcpType::simultaneous_open);
  EXPECT_EQ(*o.related, addr("10.0.0.2:7"));
  EXPECT_EQ(o.extensions.size(), 1u);
  // TCP without tcptype is accepted (harmless; RFC 6544 section 4.5 wants it present).
  EXPECT_EQ(parse_ok("1 1 TCP 1 10.0.0.1 1 typ host").tcp_type, TcpType::none);
  // Extension values are any VCHARs.
  auto e = parse_ok("1 1 UDP 1 10.0.0.1 1 typ host x-odd !\"#$%&'()*+,-./:;<=>?@[]^_`{|}~");
  EXPECT_EQ(e.extensions[0].second, "!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~");
}

TEST(IceCandidate, ExtensionCountLimit) {
  std::string line = "1 1 UDP 1 10.0.0.1 1 typ host";
  for (size_t i = 0; i < kMaxCandidateExtensions; ++i)
    line += " x" + std::to_string(i) + " v";
  EXPECT_EQ(parse_ok(line).extensions.size(), kMaxCandidateExtensions);
  line += " one more";
  auto c = parse_candidate(line);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::limit_exceeded);
}

TEST(IceCandidate, LineLengthLimit) {
  std::string base = "1 1 UDP 1 10.0.0.1 1 typ host x ";
  std::string at_limit = base + std::string(kMaxCandidateLineLength - base.size(), 'v');
  ASSERT_EQ(at_limit.size(), kMaxCandidateLineLength);
  EXPECT_TRUE(parse_candidate(at_limit).ok());
  auto c = parse_candidate(at_limit + "v");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::limit_exceeded);
}

// --- Round trips ----------------------------------------------------------------------

TEST(IceCandidate, FormatIsCanonicalAndRoundTrips) {
  const char* canonical[] = {
      "candidate:2999745851 1 UDP 2122260223 192.168.56.1 54321 typ host generation 0 ufrag EsAw "
      "network-id 1 network-cost 10",
      "candidate:842163049 1 UDP 1677729535 203.0.113.4 61764 typ srflx raddr 0.0.0.0 rport 0 "
      "generation 0",
      "candidate:1 1 TCP 2105524479 192.168.1.10 9 typ host tcptype active",
      "candidate:7 2 TCP 1 2001:db8::1 443 typ relay raddr 2001:db8::2 rport 5000 tcptype passive "
      "x y",
      "candidate:a 1 UDP 1 abc.local 1 typ prflx",
  };
  for (const char* line : canonical) {
    auto c = parse_ok(line);
    EXPECT_EQ(format_candidate(c), line);
    EXPECT_EQ(parse_ok(format_candidate(c)), c);
  }
  // Non-canonical input comes out canonical: upper-case transport, RFC 5952 IPv6, raddr/rport
  // and tcptype before the other extensions.
  EXPECT_EQ(format_candidate(parse_ok(
                "a=candidate:1 1 tcp 5 2001:0DB8:0:0:0:0:0:1 9 typ srflx generation 0 tcptype so "
                "rport 3 raddr 10.0.0.1\r\n")),
            "candidate:1 1 TCP 5 2001:db8::1 9 typ srflx raddr 10.0.0.1 rport 3 tcptype so "
            "generation 0");
}

TEST(IceCandidate, FormatsBuiltCandidate) {
  Candidate c;
  c.foundation = "4";
  c.component = 1;
  c.transport = TransportProtocol::udp;
  c.priority = compute_priority(
      type_preference(CandidateType::server_reflexive, TransportProtocol::udp), 65535, 1);
  c.address = addr("198.51.100.1:40000");
  c.type = CandidateType::server_reflexive;
  c.related = addr("10.1.2.3:40000");
  EXPECT_EQ(format_candidate(c),
            "candidate:4 1 UDP 1694498815 198.51.100.1 40000 typ srflx raddr 10.1.2.3 rport "
            "40000");
  EXPECT_EQ(parse_ok(format_candidate(c)), c);
}

// --- Malformed ------------------------------------------------------------------------

struct Bad {
  const char* line;
  Errc code;
  const char* reason;
};

TEST(IceCandidate, RejectsMalformed) {
  const Bad cases[] = {
      {"", Errc::truncated, "empty candidate"},
      {"candidate:", Errc::truncated, "empty candidate"},
      {"a=", Errc::malformed, "attribute is not a=candidate"},
      {"a=ice-ufrag:abcd", Errc::malformed, "attribute is not a=candidate"},
      {"1 1 UDP 1 10.0.0.1 1 typ host\t", Errc::malformed,
       "candidate contains a control or non-ASCII character"},
      {"1 1 UDP 1 10.0.0.1 1 typ h\xc3\xa9st", Errc::malformed,
       "candidate contains a control or non-ASCII character"},
      {"1 1 UDP 1 10.0.0.1 1 typ host\r\n\r\n", Errc::malformed,
       "candidate contains a control or non-ASCII character"},
      {" 1 1 UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "empty field (double, leading or trailing space)"},
      {"1 1 UDP 1 10.0.0.1 1 typ host ", Errc::malformed,
       "empty field (double, leading or trailing space)"},
      {"1 1  UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "empty field (double, leading or trailing space)"},
      // foundation
      {"123456789012345678901234567890123 1 UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "foundation longer than 32 characters"},
      {"ab-c 1 UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "foundation has a character outside ice-char"},
      // component-id
      {"1", Errc::truncated, "candidate ends before component-id"},
      {"1 0 UDP 1 10.0.0.1 1 typ host", Errc::malformed, "component-id is not a number in 1..256"},
      {"1 257 UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "component-id is not a number in 1..256"},
      {"1 0001 UDP 1 10.0.0.1 1 typ host", Errc::malformed,
       "component-id is not a number in 1..256"},
      {"1 x UDP 1 10.0.0.1 1 typ host", Errc::malformed, "component-id is not a number in 1..256"},
      // transport
      {"1 1", Errc::truncated, "candidate ends before transport"},
      {"1 1 ssltcp 1 10.0.0.1 1 typ host", Errc::unsupported, "transport is neither UDP nor TCP"},
      {"1 1 UDP/DTLS 1 10.0.0.1 1 typ host", Errc::malformed, "transport is not a token"},
      // priority
      {"1 1 UDP", Errc::truncated, "candidate ends before priority"},
      {"1 1 UDP 4294967296 10.0.0.1 1 typ host", Errc::malformed,
       "priority is not a number in 0..2^32-1"},
      {"1 1 UDP 12345678901 10.0.0.1 1 typ host", Errc::malformed,
       "priority is not a number in 0..2^32-1"},
      {"1 1 UDP -1 10.0.0.1 1 typ host", Errc::malformed, "priority is not a number in 0..2^32-1"},
      // connection-address
      {"1 1 UDP 1", Errc::truncated, "candidate ends before connection-address"},
      {"1 1 UDP 1 256.0.0.1 1 typ host", Errc::malformed, "malformed IPv4 address"},
      {"1 1 UDP 1 10.0.0 1 typ host", Errc::malformed, "malformed IPv4 address"},
      {"1 1 UDP 1 1::2::3 1 typ host", Errc::malformed, "malformed IPv6 address"},
      {"1 1 UDP 1 fe80::1%eth0 1 typ host", Errc::malformed, "malformed IPv6 address"},
      {"1 1 UDP 1 [::1] 1 typ host", Errc::malformed, "malformed IPv6 address"},
      {"1 1 UDP 1 bad_host.local 1 typ host", Errc::malformed,
       "connection-address is neither an IP address nor a host name"},
      {"1 1 UDP 1 a..local 1 typ host", Errc::malformed,
       "connection-address is neither an IP address nor a host name"},
      // port
      {"1 1 UDP 1 10.0.0.1", Errc::truncated, "candidate ends before port"},
      {"1 1 UDP 1 10.0.0.1 65536 typ host", Errc::malformed, "port is not a number in 0..65535"},
      {"1 1 UDP 1 10.0.0.1 123456 typ host", Errc::malformed, "port is not a number in 0..65535"},
      {"1 1 UDP 1 10.0.0.1 8a typ host", Errc::malformed, "port is not a number in 0..65535"},
      // typ
      {"1 1 UDP 1 10.0.0.1 1", Errc::truncated, "candidate ends before typ"},
      {"1 1 UDP 1 10.0.0.1 1 type host", Errc::malformed, "expected \"typ\" after port"},
      {"1 1 UDP 1 10.0.0.1 1 typ", Errc::truncated, "candidate ends before the candidate type"},
      {"1 1 UDP 1 10.0.0.1 1 typ nat", Errc::unsupported, "unknown candidate type"},
      {"1 1 UDP 1 10.0.0.1 1 typ HOST", Errc::unsupported, "unknown candidate type"},
      {"1 1 UDP 1 10.0.0.1 1 typ ho/st", Errc::malformed, "candidate type is not a token"},
      // related address
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr", Errc::malformed, "attribute name without a value"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2", Errc::malformed,
       "raddr without rport or rport without raddr"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx rport 5", Errc::malformed,
       "raddr without rport or rport without raddr"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr x.local rport 5", Errc::malformed,
       "raddr is a host name, not an IP address"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.300 rport 5", Errc::malformed,
       "malformed IPv4 address"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2 rport 70000", Errc::malformed,
       "rport is not a number in 0..65535"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2 rport 5 raddr 10.0.0.3", Errc::malformed,
       "raddr appears twice"},
      {"1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2 rport 5 rport 6", Errc::malformed,
       "rport appears twice"},
      // tcptype
      {"1 1 UDP 1 10.0.0.1 1 typ host tcptype active", Errc::malformed,
       "tcptype on a UDP candidate"},
      {"1 1 TCP 1 10.0.0.1 1 typ host tcptype both", Errc::malformed,
       "tcptype is not active, passive or so"},
      {"1 1 TCP 1 10.0.0.1 1 typ host tcptype active tcptype so", Errc::malformed,
       "tcptype appears twice"},
      // extensions
      {"1 1 UDP 1 10.0.0.1 1 typ host generation", Errc::malformed,
       "attribute name without a value"},
      {"1 1 UDP 1 10.0.0.1 1 typ host gen(eration) 0", Errc::malformed,
       "extension attribute name is not a token"},
  };
  for (const auto& bad : cases) {
    auto c = parse_candidate(bad.line);
    ASSERT_FALSE(c.ok()) << bad.line;
    EXPECT_EQ(c.error().code, bad.code) << bad.line;
    EXPECT_STREQ(c.error().reason, bad.reason) << bad.line;
  }
}

TEST(IceCandidate, NeverReadsPastTheView) {
  // Every prefix of a valid line, as a view into the longer buffer: only the prefixes that end
  // after a complete field set parse, and nothing after the view is taken in.
  const std::string_view buffer = "1 1 UDP 1 10.0.0.1 1 typ host generation 0";
  const std::string_view shortest = "1 1 UDP 1 10.0.0.1 1 typ host";
  for (size_t n = 0; n <= buffer.size(); ++n) {
    auto c = parse_candidate(buffer.substr(0, n));
    bool expect_ok = n == buffer.size() || n == shortest.size();
    EXPECT_EQ(c.ok(), expect_ok) << n;
  }
  EXPECT_TRUE(parse_ok(shortest).extensions.empty());
}

// --- Priorities -----------------------------------------------------------------------

TEST(IcePriority, TypePreferences) {
  // RFC 8445 section 5.1.2.2.
  EXPECT_EQ(type_preference(CandidateType::host, TransportProtocol::udp), 126u);
  EXPECT_EQ(type_preference(CandidateType::peer_reflexive, TransportProtocol::udp), 110u);
  EXPECT_EQ(type_preference(CandidateType::server_reflexive, TransportProtocol::udp), 100u);
  EXPECT_EQ(type_preference(CandidateType::relayed, TransportProtocol::udp), 0u);
  // RFC 6544 section 4.2: every non-relayed TCP candidate below every non-relayed UDP one,
  // the RFC 8445 order kept among TCP ones.
  const CandidateType order[] = {CandidateType::host, CandidateType::peer_reflexive,
                                 CandidateType::server_reflexive};
  for (auto tcp : order) {
    for (auto udp : order) {
      EXPECT_LT(type_preference(tcp, TransportProtocol::tcp),
                type_preference(udp, TransportProtocol::udp));
    }
  }
  EXPECT_GT(type_preference(CandidateType::host, TransportProtocol::tcp),
            type_preference(CandidateType::peer_reflexive, TransportProtocol::tcp));
  EXPECT_GT(type_preference(CandidateType::peer_reflexive, TransportProtocol::tcp),
            type_preference(CandidateType::server_reflexive, TransportProtocol::tcp));
  EXPECT_GT(type_preference(CandidateType::server_reflexive, TransportProtocol::tcp),
            type_preference(CandidateType::relayed, TransportProtocol::tcp));
  EXPECT_EQ(type_preference(CandidateType::host, TransportProtocol::tls),
            type_preference(CandidateType::host, TransportProtocol::tcp));
}

TEST(IcePriority, Formula) {
  // RFC 8445 section 5.1.2.1; the values real stacks emit.
  EXPECT_EQ(compute_priority(126, 65535, 1), 2130706431u);  // aioice / libpeer host
  EXPECT_EQ(compute_priority(100, 65535, 1), 1694498815u);  // aioice srflx
  EXPECT_EQ(compute_priority(126, 65535, 2), 2130706430u);
  EXPECT_EQ(compute_priority(0, 0, 256), 0u);
  EXPECT_EQ(compute_priority(110, 0, 1), (110u << 24) + 255u);
  // Out-of-range inputs are clamped rather than overflowing.
  EXPECT_EQ(compute_priority(200, 1u << 20, 0), compute_priority(126, 65535, 1));
  EXPECT_EQ(compute_priority(126, 65535, 300), compute_priority(126, 65535, 256));
}

TEST(IceCandidate, TypeNames) {
  EXPECT_STREQ(to_string(CandidateType::host), "host");
  EXPECT_STREQ(to_string(CandidateType::server_reflexive), "srflx");
  EXPECT_STREQ(to_string(CandidateType::peer_reflexive), "prflx");
  EXPECT_STREQ(to_string(CandidateType::relayed), "relay");
}

}  // namespace
}  // namespace cellrtc::ice
