#include <gtest/gtest.h>

#include "core/sctp/crc32c.h"
#include "core/sctp/sctp_packet.h"

namespace cellrtc::sctp {
namespace {

// Encodes one chunk into a packet and parses it back.
template <class C>
RawChunk round_trip(const C& chunk, Bytes& storage) {
  PacketBuilder b(5000, 5001, 0x11223344, 65536);
  EXPECT_TRUE(b.add(chunk));
  storage = b.finish();
  auto p = parse_packet(storage);
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p->header.source_port, 5000);
  EXPECT_EQ(p->header.destination_port, 5001);
  EXPECT_EQ(p->header.verification_tag, 0x11223344u);
  EXPECT_EQ(p->chunks.size(), 1u);
  return p->chunks.at(0);
}

RawChunk raw(ChunkType type, const Bytes& value, uint8_t flags = 0) {
  return RawChunk{static_cast<uint8_t>(type), flags, value};
}

TEST(SctpPacket, HeaderAndChunkTiling) {
  Bytes storage;
  PacketBuilder b(1, 2, 3, 1200);
  EXPECT_TRUE(b.add(CookieAckChunk{}));
  EXPECT_TRUE(b.add(ShutdownAckChunk{}));
  storage = b.finish();
  auto p = parse_packet(storage);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->chunks.size(), 2u);
  EXPECT_EQ(p->chunks[0].type, static_cast<uint8_t>(ChunkType::cookie_ack));
  EXPECT_EQ(p->chunks[1].type, static_cast<uint8_t>(ChunkType::shutdown_ack));

  EXPECT_EQ(parse_packet(Bytes(11, 0)).error().code, Errc::truncated);
  Bytes bad = storage;
  bad[12] ^= 0xFF;
  EXPECT_EQ(parse_packet(bad).error().code, Errc::integrity);
  EXPECT_TRUE(parse_packet(bad, false).ok());
  // A chunk length that runs past the packet, or below 4.
  Bytes longer = storage;
  longer[15] = 40;
  write_sctp_checksum(longer);
  EXPECT_EQ(parse_packet(longer).error().code, Errc::truncated);
  Bytes shorter = storage;
  shorter[15] = 2;
  write_sctp_checksum(shorter);
  EXPECT_EQ(parse_packet(shorter).error().code, Errc::malformed);
  // A header alone carries no chunk.
  Bytes header_only(storage.begin(), storage.begin() + 12);
  write_sctp_checksum(header_only);
  EXPECT_EQ(parse_packet(header_only).error().code, Errc::malformed);
}

TEST(SctpPacket, ChunkCountIsBounded) {
  PacketBuilder b(1, 2, 3, 65536);
  for (size_t i = 0; i < kMaxChunksPerPacket + 1; ++i)
    b.add(CookieAckChunk{});
  Bytes packet = b.finish();
  EXPECT_EQ(parse_packet(packet).error().code, Errc::limit_exceeded);
}

TEST(SctpPacket, BuilderRespectsMaxSize) {
  PacketBuilder b(1, 2, 3, 100);
  Bytes payload(60, 7);
  DataChunk d;
  d.tsn = 1;
  d.payload = payload;
  EXPECT_TRUE(b.add(d));
  EXPECT_FALSE(b.add(d));  // 12 + 76 + 76 > 100
  EXPECT_EQ(b.size(), 12u + 76u);
  Bytes out = b.finish();
  EXPECT_EQ(out.size(), 88u);
  EXPECT_FALSE(b.has_chunks());
  EXPECT_TRUE(b.add(d));  // reusable after finish
}

TEST(SctpPacket, DataRoundTripAndFlags) {
  Bytes payload = {1, 2, 3, 4, 5};
  DataChunk d;
  d.tsn = 0xFFFFFFFE;
  d.stream = 7;
  d.ssn = 65535;
  d.ppid = 51;
  d.unordered = true;
  d.beginning = true;
  d.ending = false;
  d.payload = payload;
  Bytes storage;
  RawChunk c = round_trip(d, storage);
  EXPECT_EQ(c.flags, DataChunk::kUnordered | DataChunk::kBeginning);
  auto p = DataChunk::parse(c);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tsn, d.tsn);
  EXPECT_EQ(p->stream, 7);
  EXPECT_EQ(p->ssn, 65535);
  EXPECT_EQ(p->ppid, 51u);
  EXPECT_TRUE(p->unordered);
  EXPECT_TRUE(p->beginning);
  EXPECT_FALSE(p->ending);
  EXPECT_EQ(Bytes(p->payload.begin(), p->payload.end()), payload);
  EXPECT_EQ(storage.size() % 4, 0u);

  EXPECT_EQ(DataChunk::parse(raw(ChunkType::data, Bytes(11, 0))).error().code, Errc::truncated);
  EXPECT_EQ(DataChunk::parse(raw(ChunkType::data, Bytes(12, 0))).error().code, Errc::malformed);
  EXPECT_FALSE(DataChunk::parse(raw(ChunkType::sack, Bytes(16, 0))).ok());
}

TEST(SctpPacket, InitAndInitAckRoundTrip) {
  InitChunk init;
  init.initiate_tag = 0xCAFEBABE;
  init.a_rwnd = 131072;
  init.outbound_streams = 1024;
  init.inbound_streams = 2048;
  init.initial_tsn = 42;
  init.forward_tsn_supported = true;
  init.supported_extensions = {130, 192};
  Bytes cookie = {9, 8, 7};
  for (ChunkType type : {ChunkType::init, ChunkType::init_ack}) {
    InitChunk in = init;
    if (type == ChunkType::init_ack) in.state_cookie = ByteView(cookie);
    PacketBuilder b(1, 2, 0, 1200);
    EXPECT_TRUE(b.add_init(in, type));
    Bytes storage = b.finish();
    auto p = parse_packet(storage);
    ASSERT_TRUE(p.ok());
    auto q = InitChunk::parse(p->chunks[0]);
    ASSERT_TRUE(q.ok()) << q.error().reason;
    EXPECT_EQ(q->initiate_tag, init.initiate_tag);
    EXPECT_EQ(q->a_rwnd, init.a_rwnd);
    EXPECT_EQ(q->outbound_streams, 1024);
    EXPECT_EQ(q->inbound_streams, 2048);
    EXPECT_EQ(q->initial_tsn, 42u);
    EXPECT_TRUE(q->forward_tsn_supported);
    EXPECT_TRUE(q->supports(ChunkType::reconfig));
    EXPECT_TRUE(q->supports(ChunkType::forward_tsn));
    EXPECT_EQ(q->state_cookie.has_value(), type == ChunkType::init_ack);
    if (q->state_cookie) {
      EXPECT_EQ(Bytes(q->state_cookie->begin(), q->state_cookie->end()), cookie);
    }
  }
}

TEST(SctpPacket, InitMalformed) {
  Bytes fixed = {0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0};
  EXPECT_TRUE(InitChunk::parse(raw(ChunkType::init, fixed)).ok());
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, Bytes(15, 1))).error().code, Errc::truncated);
  Bytes zero_tag = fixed;
  zero_tag[3] = 0;
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, zero_tag)).error().code, Errc::malformed);
  Bytes zero_streams = fixed;
  zero_streams[9] = 0;
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, zero_streams)).error().code, Errc::malformed);
  // An INIT ACK must carry a cookie; an INIT must not.
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init_ack, fixed)).error().code, Errc::malformed);
  Bytes with_cookie = fixed;
  for (uint8_t b : {0, 7, 0, 5, 1, 0, 0, 0})
    with_cookie.push_back(b);
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, with_cookie)).error().code, Errc::malformed);
  EXPECT_TRUE(InitChunk::parse(raw(ChunkType::init_ack, with_cookie)).ok());
  // A parameter running past the chunk, one shorter than its header, unknown ones skipped.
  Bytes overrun = fixed;
  for (uint8_t b : {0x80, 0x08, 0, 12, 130})
    overrun.push_back(b);
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, overrun)).error().code, Errc::truncated);
  Bytes tiny = fixed;
  for (uint8_t b : {0x80, 0x08, 0, 2})
    tiny.push_back(b);
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, tiny)).error().code, Errc::malformed);
  Bytes unknown = fixed;
  for (uint8_t b : {0x00, 0x05, 0, 8, 192, 0, 2, 1})  // IPv4 address: skipped
    unknown.push_back(b);
  EXPECT_TRUE(InitChunk::parse(raw(ChunkType::init, unknown)).ok());
  Bytes many = fixed;
  for (size_t i = 0; i < kMaxInitParameters + 1; ++i)
    for (uint8_t b : {0x80, 0x00, 0, 4})  // ECN capable
      many.push_back(b);
  EXPECT_EQ(InitChunk::parse(raw(ChunkType::init, many)).error().code, Errc::limit_exceeded);
}

TEST(SctpPacket, SackRoundTripAndMalformed) {
  SackChunk s;
  s.cumulative_tsn_ack = 100;
  s.a_rwnd = 5000;
  s.gap_blocks = {{2, 3}, {5, 9}};
  s.duplicate_tsns = {98, 99};
  Bytes storage;
  auto p = SackChunk::parse(round_trip(s, storage));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cumulative_tsn_ack, 100u);
  EXPECT_EQ(p->a_rwnd, 5000u);
  EXPECT_EQ(p->gap_blocks, s.gap_blocks);
  EXPECT_EQ(p->duplicate_tsns, s.duplicate_tsns);

  Bytes short_sack(11, 0);
  EXPECT_EQ(SackChunk::parse(raw(ChunkType::sack, short_sack)).error().code, Errc::truncated);
  Bytes lying = {0, 0, 0, 1, 0, 0, 0, 1, 0, 5, 0, 0};  // 5 gap blocks, none present
  EXPECT_EQ(SackChunk::parse(raw(ChunkType::sack, lying)).error().code, Errc::truncated);
  Bytes backwards = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3};
  EXPECT_EQ(SackChunk::parse(raw(ChunkType::sack, backwards)).error().code, Errc::malformed);
  Bytes zero_start = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3};
  EXPECT_EQ(SackChunk::parse(raw(ChunkType::sack, zero_start)).error().code, Errc::malformed);
}

TEST(SctpPacket, HeartbeatRoundTripAndMalformed) {
  Bytes info = {1, 2, 3, 4, 5, 6};
  for (bool ack : {false, true}) {
    Bytes storage;
    auto p = HeartbeatChunk::parse(round_trip(HeartbeatChunk{ack, info}, storage));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->ack, ack);
    EXPECT_EQ(Bytes(p->info.begin(), p->info.end()), info);
  }
  EXPECT_FALSE(HeartbeatChunk::parse(raw(ChunkType::heartbeat, {})).ok());
  EXPECT_FALSE(HeartbeatChunk::parse(raw(ChunkType::heartbeat, {0, 2, 0, 4})).ok());  // type 2
  EXPECT_FALSE(HeartbeatChunk::parse(raw(ChunkType::heartbeat, {0, 1, 0, 9})).ok());
}

TEST(SctpPacket, AbortAndErrorRoundTrip) {
  Bytes reason = {'b', 'y', 'e'};
  AbortChunk a;
  a.tag_reflected = true;
  a.causes = {{12, reason}};
  Bytes storage;
  RawChunk c = round_trip(a, storage);
  EXPECT_EQ(c.flags, 1);
  auto p = AbortChunk::parse(c);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->tag_reflected);
  ASSERT_EQ(p->causes.size(), 1u);
  EXPECT_EQ(p->causes[0].code, 12);
  EXPECT_EQ(Bytes(p->causes[0].info.begin(), p->causes[0].info.end()), reason);

  Bytes staleness = {0, 0, 1, 0};
  auto e = ErrorChunk::parse(round_trip(ErrorChunk{{{3, staleness}}}, storage));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->causes.at(0).code, 3);
  EXPECT_FALSE(AbortChunk::parse(raw(ChunkType::abort, {0, 12, 0, 9, 1})).ok());
  Bytes many;
  for (size_t i = 0; i < kMaxErrorCauses + 1; ++i)
    for (uint8_t b : {0, 4, 0, 4})
      many.push_back(b);
  EXPECT_EQ(ErrorChunk::parse(raw(ChunkType::error, many)).error().code, Errc::limit_exceeded);
}

TEST(SctpPacket, ShutdownFamilyAndCookies) {
  Bytes storage;
  auto s = ShutdownChunk::parse(round_trip(ShutdownChunk{77}, storage));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->cumulative_tsn_ack, 77u);
  EXPECT_FALSE(ShutdownChunk::parse(raw(ChunkType::shutdown, {0, 0, 1})).ok());
  EXPECT_TRUE(ShutdownAckChunk::parse(round_trip(ShutdownAckChunk{}, storage)).ok());
  auto sc = ShutdownCompleteChunk::parse(round_trip(ShutdownCompleteChunk{true}, storage));
  ASSERT_TRUE(sc.ok());
  EXPECT_TRUE(sc->tag_reflected);
  EXPECT_TRUE(CookieAckChunk::parse(round_trip(CookieAckChunk{}, storage)).ok());
  Bytes cookie = {1, 2, 3, 4, 5, 6, 7};
  auto ce = CookieEchoChunk::parse(round_trip(CookieEchoChunk{cookie}, storage));
  ASSERT_TRUE(ce.ok());
  EXPECT_EQ(Bytes(ce->cookie.begin(), ce->cookie.end()), cookie);
  EXPECT_FALSE(CookieEchoChunk::parse(raw(ChunkType::cookie_echo, {})).ok());
  EXPECT_FALSE(CookieAckChunk::parse(raw(ChunkType::shutdown_ack, {})).ok());
}

TEST(SctpPacket, ForwardTsnRoundTripAndMalformed) {
  ForwardTsnChunk f;
  f.new_cumulative_tsn = 1234;
  f.skipped = {{1, 5}, {3, 65535}};
  Bytes storage;
  auto p = ForwardTsnChunk::parse(round_trip(f, storage));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->new_cumulative_tsn, 1234u);
  EXPECT_EQ(p->skipped, f.skipped);
  EXPECT_EQ(ForwardTsnChunk::parse(raw(ChunkType::forward_tsn, {0, 0})).error().code,
            Errc::truncated);
  EXPECT_EQ(ForwardTsnChunk::parse(raw(ChunkType::forward_tsn, {0, 0, 0, 1, 0, 1})).error().code,
            Errc::malformed);
}

TEST(SctpPacket, ReconfigRoundTripAndMalformed) {
  ReconfigChunk rc;
  rc.parameters.push_back(OutgoingResetRequest{10, 20, 30, {1, 2, 3}});
  rc.parameters.push_back(ReconfigResponse{9, ReconfigResponse::success_performed});
  Bytes storage;
  auto p = ReconfigChunk::parse(round_trip(rc, storage));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->parameters.size(), 2u);
  auto* q = std::get_if<OutgoingResetRequest>(&p->parameters[0]);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->request_sequence, 10u);
  EXPECT_EQ(q->response_sequence, 20u);
  EXPECT_EQ(q->last_tsn, 30u);
  EXPECT_EQ(q->streams, (std::vector<uint16_t>{1, 2, 3}));
  auto* r = std::get_if<ReconfigResponse>(&p->parameters[1]);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->response_sequence, 9u);
  EXPECT_EQ(r->result, 1u);

  ReconfigChunk in;
  in.parameters.push_back(IncomingResetRequest{5, {7}});
  auto pi = ReconfigChunk::parse(round_trip(in, storage));
  ASSERT_TRUE(pi.ok());
  EXPECT_EQ(std::get<IncomingResetRequest>(pi->parameters[0]).streams, std::vector<uint16_t>{7});
  ReconfigChunk add;
  add.parameters.push_back(OtherReconfigRequest{17, 8});
  auto pa = ReconfigChunk::parse(round_trip(add, storage));
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(std::get<OtherReconfigRequest>(pa->parameters[0]).request_sequence, 8u);

  EXPECT_FALSE(ReconfigChunk::parse(raw(ChunkType::reconfig, {})).ok());
  EXPECT_FALSE(ReconfigChunk::parse(raw(ChunkType::reconfig, {0, 13, 0, 8, 0, 0, 0, 1})).ok());
  EXPECT_FALSE(ReconfigChunk::parse(raw(ChunkType::reconfig, {0, 99, 0, 8, 0, 0, 0, 1})).ok());
  EXPECT_FALSE(ReconfigChunk::parse(raw(ChunkType::reconfig, {0, 16, 0, 8, 0, 0, 0, 1})).ok());
  // Three parameters are more than a RE-CONFIG chunk may carry.
  Bytes three;
  for (int i = 0; i < 3; ++i)
    for (uint8_t b : {0, 16, 0, 12, 0, 0, 0, 1, 0, 0, 0, 1})
      three.push_back(b);
  EXPECT_EQ(ReconfigChunk::parse(raw(ChunkType::reconfig, three)).error().code,
            Errc::limit_exceeded);
}

}  // namespace
}  // namespace cellrtc::sctp
