// ICE-TCP (RFC 6544): the RFC 4571 framer, the first-bytes test that tells framed STUN from
// TLS and HTTP, TCP candidate priorities and pairing, and a full agent with an active TCP
// candidate reaching a lite agent's passive one through connection-shaped delivery.
#include <gtest/gtest.h>

#include <string>

#include "core/common/random.h"
#include "core/ice/candidate.h"
#include "core/ice/ice_agent.h"
#include "core/ice/tcp_framing.h"
#include "core/stun/stun_message.h"

namespace cellrtc {
namespace {

using ice::Rfc4571Framer;
using ice::Rfc4571FramerConfig;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

TEST(Rfc4571FramerTest, FramesRoundTripWhateverTheReadSizes) {
  Bytes stream;
  std::vector<Bytes> sent;
  for (size_t n : {1u, 20u, 300u, 1200u, 2u}) {
    Bytes m(n);
    for (size_t i = 0; i < n; ++i)
      m[i] = static_cast<uint8_t>(i * 7 + n);
    auto framed = ice::frame_rfc4571(m);
    ASSERT_TRUE(framed.ok());
    ASSERT_EQ(framed->size(), n + 2);
    EXPECT_EQ((*framed)[0], n >> 8);
    EXPECT_EQ((*framed)[1], n & 0xFF);
    stream.insert(stream.end(), framed->begin(), framed->end());
    sent.push_back(m);
  }
  for (size_t chunk : {1u, 2u, 3u, 7u, 1000u, 100000u}) {
    Rfc4571Framer framer;
    std::vector<Bytes> got;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      ByteView piece = ByteView(stream).subspan(pos, std::min(chunk, stream.size() - pos));
      ASSERT_TRUE(framer.push(piece).ok());
      EXPECT_LE(framer.buffered(), 4096u + 2);
      while (auto m = framer.next())
        got.push_back(std::move(*m));
    }
    EXPECT_EQ(got, sent) << "chunk " << chunk;
    EXPECT_EQ(framer.buffered(), 0u);
    EXPECT_EQ(framer.stats().frames, sent.size());
  }
}

TEST(Rfc4571FramerTest, IncompleteFrameWaits) {
  Rfc4571Framer framer;
  const uint8_t part[] = {0x00, 0x04, 'a', 'b'};
  ASSERT_TRUE(framer.push(part).ok());
  EXPECT_FALSE(framer.next());
  EXPECT_EQ(framer.buffered(), 4u);
  const uint8_t rest[] = {'c', 'd', 0x00};
  ASSERT_TRUE(framer.push(rest).ok());
  auto m = framer.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, bytes_of("abcd"));
  EXPECT_EQ(framer.buffered(), 1u);  // the next frame's first length byte
}

TEST(Rfc4571FramerTest, OversizeFrameFailsTheStream) {
  Rfc4571FramerConfig config;
  config.max_frame = 100;
  Rfc4571Framer framer(config);
  const uint8_t header[] = {0x00, 101};
  auto s = framer.push(header);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::limit_exceeded);
  EXPECT_TRUE(framer.failed());
  const uint8_t more[] = {0x00, 0x01, 'x'};
  EXPECT_FALSE(framer.push(more).ok());
  EXPECT_FALSE(framer.next());
}

TEST(Rfc4571FramerTest, EmptyFramesAreSkippedAndQueueIsBounded) {
  Rfc4571FramerConfig config;
  config.max_queued_frames = 2;
  Rfc4571Framer framer(config);
  const uint8_t stream[] = {0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 1, 'c'};
  ASSERT_TRUE(framer.push(stream).ok());
  EXPECT_EQ(framer.stats().empty_frames, 2u);
  EXPECT_EQ(framer.stats().queue_dropped, 1u);
  EXPECT_EQ(*framer.next(), bytes_of("a"));
  EXPECT_EQ(*framer.next(), bytes_of("b"));
  EXPECT_FALSE(framer.next());
}

TEST(Rfc4571FramerTest, FramingRefusesEmptyAndTooLong) {
  EXPECT_FALSE(ice::frame_rfc4571({}).ok());
  Bytes big(ice::kMaxRfc4571Frame + 1);
  EXPECT_EQ(ice::frame_rfc4571(big).error().code, Errc::limit_exceeded);
  Bytes max(ice::kMaxRfc4571Frame);
  EXPECT_TRUE(ice::frame_rfc4571(max).ok());
}

Bytes binding_request() {
  SeededRandom rng(3);
  auto b = stun::MessageBuilder(stun::Method::binding, stun::Class::request,
                                stun::random_transaction_id(rng));
  b.add_username("abcd:efgh");
  b.add_priority(1234);
  return std::move(b).finish_with_integrity(as_bytes(std::string_view("password")), true);
}

TEST(FramedStunPrefixTest, TellsFramedStunFromTlsAndHttp) {
  auto framed = ice::frame_rfc4571(binding_request());
  ASSERT_TRUE(framed.ok());
  EXPECT_TRUE(ice::starts_with_framed_stun(ByteView(*framed).first(ice::kStunPrefixBytes)));
  EXPECT_TRUE(ice::starts_with_framed_stun(*framed));
  // Fewer than the bytes needed: not yet.
  EXPECT_FALSE(ice::starts_with_framed_stun(ByteView(*framed).first(9)));
  // A TLS ClientHello record (RFC 8446 section 5.1: 0x16 0x03 0x01, length).
  const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
  EXPECT_FALSE(ice::starts_with_framed_stun(tls));
  EXPECT_FALSE(ice::starts_with_framed_stun(bytes_of("GET / HTTP/1.1\r\n")));
  EXPECT_FALSE(ice::starts_with_framed_stun(bytes_of("POST /whip HTTP/1.1\r\n")));
  // Unframed STUN (a client that forgot RFC 4571) and a frame length that disagrees.
  EXPECT_FALSE(ice::starts_with_framed_stun(binding_request()));
  Bytes wrong = *framed;
  wrong[1] = static_cast<uint8_t>(wrong[1] + 4);
  EXPECT_FALSE(ice::starts_with_framed_stun(wrong));
  Bytes cookie = *framed;
  cookie[6] ^= 0x01;
  EXPECT_FALSE(ice::starts_with_framed_stun(cookie));
}

TEST(TcpCandidateTest, PrioritiesFollowRfc6544) {
  using ice::CandidateType;
  using ice::TcpType;
  // (2^13) * direction-pref + other-pref.
  EXPECT_EQ(ice::tcp_local_preference(CandidateType::host, TcpType::active, 0), 6u << 13);
  EXPECT_EQ(ice::tcp_local_preference(CandidateType::host, TcpType::passive, 5), (4u << 13) + 5);
  EXPECT_EQ(ice::tcp_local_preference(CandidateType::host, TcpType::simultaneous_open, 0),
            2u << 13);
  EXPECT_EQ(
      ice::tcp_local_preference(CandidateType::server_reflexive, TcpType::simultaneous_open, 0),
      6u << 13);
  EXPECT_EQ(ice::tcp_local_preference(CandidateType::peer_reflexive, TcpType::passive, 0),
            2u << 13);
  EXPECT_EQ(ice::tcp_local_preference(CandidateType::host, TcpType::active, 100000),
            (6u << 13) + 8191);
  // Any UDP host candidate outranks any TCP host candidate.
  uint32_t udp = ice::compute_priority(
      ice::type_preference(CandidateType::host, TransportProtocol::udp), 0, 1);
  uint32_t tcp = ice::compute_priority(
      ice::type_preference(CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(CandidateType::host, TcpType::active, 8191), 1);
  EXPECT_GT(udp, tcp);
}

TEST(TcpCandidateTest, OnlyComplementaryTcpTypesPair) {
  using ice::TcpType;
  EXPECT_TRUE(ice::tcp_types_pair(TcpType::active, TcpType::passive));
  EXPECT_TRUE(ice::tcp_types_pair(TcpType::passive, TcpType::active));
  EXPECT_TRUE(ice::tcp_types_pair(TcpType::simultaneous_open, TcpType::simultaneous_open));
  EXPECT_TRUE(ice::tcp_types_pair(TcpType::none, TcpType::none));
  EXPECT_FALSE(ice::tcp_types_pair(TcpType::active, TcpType::active));
  EXPECT_FALSE(ice::tcp_types_pair(TcpType::passive, TcpType::passive));
  EXPECT_FALSE(ice::tcp_types_pair(TcpType::active, TcpType::simultaneous_open));
  EXPECT_FALSE(ice::tcp_types_pair(TcpType::none, TcpType::passive));
}

TEST(TcpCandidateTest, PassiveCandidateInSdp) {
  ice::Candidate c;
  c.foundation = "3";
  c.transport = TransportProtocol::tcp;
  c.priority = ice::compute_priority(
      ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::passive, 8191), 1);
  c.address = addr("127.0.0.1:443");
  c.tcp_type = ice::TcpType::passive;
  std::string line = ice::format_candidate(c);
  EXPECT_EQ(line, "candidate:3 1 TCP " + std::to_string(c.priority) +
                      " 127.0.0.1 443 typ host tcptype passive");
  auto back = ice::parse_candidate(line);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
}

// A full controlling agent with an active TCP candidate (RFC 6544 section 4.5: port 9 stands
// for "no port yet"), and a lite agent with a passive one. Delivery is shaped like a TCP
// connection: the lite side sees the connection's real client port, the full side sees the
// answers arrive on its active candidate.
TEST(IceTcpAgentTest, ActiveFullAgentConnectsToPassiveLiteAgent) {
  SeededRandom rng_a(1);
  SeededRandom rng_b(2);
  ice::IceConfig full_config;
  full_config.role = ice::Role::controlling;
  full_config.nomination = ice::Nomination::aggressive;
  ice::IceConfig lite_config;
  lite_config.lite = true;
  ice::IceAgent full(full_config, rng_a);
  ice::IceAgent lite(lite_config, rng_b);
  const Instant t0 = Instant::from_us(1'000'000);

  const SocketAddress active = addr("127.0.0.1:9");
  const SocketAddress connection_client = addr("127.0.0.1:50123");
  const SocketAddress passive = addr("127.0.0.1:8443");
  const SocketAddress udp = addr("127.0.0.1:8444");

  ice::Candidate a;
  a.foundation = "1";
  a.transport = TransportProtocol::tcp;
  a.tcp_type = ice::TcpType::active;
  a.address = active;
  a.priority = ice::compute_priority(
      ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::active, 8191), 1);
  ASSERT_TRUE(full.add_local_candidate(t0, a).ok());
  full.end_of_local_sockets(t0);

  ice::Candidate p = a;
  p.foundation = "2";
  p.tcp_type = ice::TcpType::passive;
  p.address = passive;
  p.priority = ice::compute_priority(
      ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::passive, 8191), 1);
  ASSERT_TRUE(lite.add_host_socket(t0, udp).ok());
  ASSERT_TRUE(lite.add_local_candidate(t0, p).ok());
  lite.end_of_local_sockets(t0);

  full.set_remote_credentials(t0, lite.local_credentials().ufrag, lite.local_credentials().pwd);
  lite.set_remote_credentials(t0, full.local_credentials().ufrag, full.local_credentials().pwd);
  for (const auto& c : lite.local_candidates())
    ASSERT_TRUE(full.add_remote_candidate(t0, c).ok());
  // The active candidate pairs with the passive one only, never with the UDP candidate.
  EXPECT_EQ(full.pair_count(), 1u);

  Instant now = t0;
  int udp_transmits = 0;
  for (int round = 0; round < 200 && !(full.selected_pair() && lite.selected_pair()); ++round) {
    full.handle_timeout(now);
    while (auto t = full.poll_transmit()) {
      if (t->protocol != TransportProtocol::tcp) {
        ++udp_transmits;
        continue;
      }
      EXPECT_EQ(t->from, active);
      EXPECT_EQ(t->to, passive);
      lite.handle_packet(now, t->to, connection_client, t->data, TransportProtocol::tcp);
    }
    while (auto t = lite.poll_transmit()) {
      ASSERT_EQ(t->protocol, TransportProtocol::tcp);
      EXPECT_EQ(t->from, passive);
      EXPECT_EQ(t->to, connection_client);
      full.handle_packet(now, active, passive, t->data, TransportProtocol::tcp);
    }
    now = now + milliseconds(10);
  }
  EXPECT_EQ(udp_transmits, 0);
  ASSERT_TRUE(full.selected_pair());
  ASSERT_TRUE(lite.selected_pair());
  EXPECT_EQ(full.selected_pair()->local.transport, TransportProtocol::tcp);
  EXPECT_EQ(full.selected_pair()->remote.address, passive);
  EXPECT_EQ(lite.selected_pair()->local.address, passive);
  EXPECT_EQ(lite.selected_pair()->remote.address, connection_client);
  EXPECT_EQ(lite.selected_pair()->remote.tcp_type, ice::TcpType::active);

  // Data leaves on the connection both ways.
  ASSERT_TRUE(lite.send(bytes_of("hello")).ok());
  auto t = lite.poll_transmit();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->protocol, TransportProtocol::tcp);
  EXPECT_EQ(t->to, connection_client);
  ASSERT_TRUE(full.send(bytes_of("hello")).ok());
  while (auto u = full.poll_transmit()) {
    EXPECT_EQ(u->protocol, TransportProtocol::tcp);
    EXPECT_EQ(u->from, active);
  }
}

}  // namespace
}  // namespace cellrtc
