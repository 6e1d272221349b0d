#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/dtls/client_hello_reassembler.h"
#include "core/dtls/record.h"

namespace cellrtc::dtls {
namespace {

Bytes client_hello_body(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// One record carrying one ClientHello fragment [offset, offset + len).
Bytes fragment_record(const Bytes& body, uint32_t offset, uint32_t len, uint64_t record_seq,
                      uint16_t message_seq = 0) {
  HandshakeFragment f;
  f.msg_type = kClientHello;
  f.length = static_cast<uint32_t>(body.size());
  f.message_seq = message_seq;
  f.fragment_offset = offset;
  f.fragment_length = len;
  f.body = ByteView(body).subspan(offset, len);
  Bytes payload;
  write_handshake_fragment(payload, f);
  Bytes out;
  write_record(out, RecordHeader{22, 0xfeff, 0, record_seq, 0}, payload);
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(DtlsRecord, DemultiplexesByFirstByte) {
  // RFC 7983 section 7.
  for (int b = 0; b < 256; ++b) {
    uint8_t d[1] = {static_cast<uint8_t>(b)};
    EXPECT_EQ(is_dtls_datagram(d), b >= 20 && b <= 63) << b;
  }
  EXPECT_FALSE(is_dtls_datagram({}));
}

TEST(DtlsRecord, ReadsSeveralRecordsOfADatagram) {
  Bytes d;
  const uint8_t p1[] = {1, 2, 3};
  const uint8_t p2[] = {9};
  write_record(d, RecordHeader{22, 0xfefd, 0, 0x0000'1234'5678'9abcull & 0xffff'ffff'ffffull, 0},
               p1);
  write_record(d, RecordHeader{20, 0xfefd, 1, 5, 0}, p2);
  RecordReader r(d);
  auto a = r.next();
  ASSERT_TRUE(a && *a);
  EXPECT_EQ(a->value().header.content_type, 22);
  EXPECT_EQ(a->value().header.version, 0xfefd);
  EXPECT_EQ(a->value().header.sequence, 0x1234'5678'9abcull);
  EXPECT_EQ(a->value().payload.size(), 3u);
  auto b = r.next();
  ASSERT_TRUE(b && *b);
  EXPECT_EQ(b->value().header.epoch, 1);
  EXPECT_EQ(b->value().payload[0], 9);
  EXPECT_FALSE(r.next());
}

TEST(DtlsRecord, TruncatedRecordsFail) {
  Bytes d;
  const uint8_t p[] = {1, 2, 3, 4};
  write_record(d, RecordHeader{23, 0xfefd, 1, 1, 0}, p);
  for (size_t cut = 1; cut < d.size(); ++cut) {
    RecordReader r(ByteView(d).first(cut));
    auto rec = r.next();
    ASSERT_TRUE(rec);
    EXPECT_FALSE(*rec) << cut;
    EXPECT_FALSE(r.next());
  }
}

TEST(DtlsRecord, HandshakeFragmentsMustLieInTheirMessage) {
  Bytes body = client_hello_body(10);
  Bytes rec = fragment_record(body, 4, 6, 0);
  RecordReader r(rec);
  auto record = r.next();
  ASSERT_TRUE(record && *record);
  HandshakeReader h(record->value().payload);
  auto f = h.next();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ(f->value().fragment_offset, 4u);
  EXPECT_EQ(f->value().fragment_length, 6u);
  EXPECT_EQ(f->value().length, 10u);
  EXPECT_FALSE(f->value().is_whole());

  // offset + fragment_length > length
  Bytes bad = {1, 0, 0, 10, 0, 0, 0, 0, 8, 0, 0, 3, 1, 2, 3};
  HandshakeReader hb(bad);
  auto fb = hb.next();
  ASSERT_TRUE(fb);
  EXPECT_FALSE(*fb);
}

TEST(ClientHelloReassembler, LeavesOtherDatagramsAlone) {
  ClientHelloReassembler r;
  Bytes body = client_hello_body(50);
  EXPECT_FALSE(r.process(Instant(), fragment_record(body, 0, 50, 0)));  // whole: unchanged
  Bytes app;
  const uint8_t p[] = {1};
  write_record(app, RecordHeader{23, 0xfefd, 1, 1, 0}, p);
  EXPECT_FALSE(r.process(Instant(), app));
  const uint8_t junk[] = {22, 0xfe};
  EXPECT_FALSE(r.process(Instant(), junk));
}

TEST(ClientHelloReassembler, ReassemblesOutOfOrderOverlappingFragments) {
  ClientHelloReassembler r;
  Bytes body = client_hello_body(700);
  Instant t;
  // Several records per datagram, out of order, with an overlap and a duplicate.
  auto d1 =
      r.process(t, concat({fragment_record(body, 500, 200, 7), fragment_record(body, 0, 250, 3)}));
  ASSERT_TRUE(d1);
  EXPECT_TRUE(d1->empty());
  auto d2 = r.process(t, fragment_record(body, 0, 250, 4));
  ASSERT_TRUE(d2);
  EXPECT_TRUE(d2->empty());
  EXPECT_TRUE(r.in_progress());
  Bytes app;
  const uint8_t p[] = {42};
  write_record(app, RecordHeader{23, 0xfefd, 1, 1, 0}, p);
  auto d3 = r.process(t, concat({app, fragment_record(body, 200, 320, 5)}));
  ASSERT_TRUE(d3);
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.stats().reassembled, 1u);

  RecordReader records(*d3);
  auto first = records.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(first->value().header.content_type, 23);  // the other record, unchanged
  auto whole = records.next();
  ASSERT_TRUE(whole && *whole);
  EXPECT_EQ(whole->value().header.content_type, 22);
  EXPECT_EQ(whole->value().header.version, 0xfeff);
  EXPECT_EQ(whole->value().header.sequence, 3u);  // the lowest of its records
  HandshakeReader h(whole->value().payload);
  auto f = h.next();
  ASSERT_TRUE(f && *f);
  EXPECT_TRUE(f->value().is_whole());
  EXPECT_EQ(f->value().length, 700u);
  EXPECT_TRUE(std::equal(f->value().body.begin(), f->value().body.end(), body.begin(), body.end()));
  EXPECT_FALSE(records.next());
}

TEST(ClientHelloReassembler, BoundsSizeAndTime) {
  ClientHelloReassembler r({1000, seconds(2)});
  Bytes big = client_hello_body(1001);
  auto d = r.process(Instant(), fragment_record(big, 0, 100, 0));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->empty());
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.stats().oversized, 1u);

  Bytes body = client_hello_body(300);
  Instant t0 = Instant::from_us(1'000'000);
  (void)r.process(t0, fragment_record(body, 0, 100, 0));
  EXPECT_TRUE(r.in_progress());
  EXPECT_EQ(r.deadline(), t0 + seconds(2));
  r.expire(t0 + seconds(2));
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.stats().abandoned, 1u);
  // The rest alone cannot complete it.
  auto rest = r.process(t0 + seconds(3), fragment_record(body, 100, 200, 1));
  ASSERT_TRUE(rest);
  EXPECT_TRUE(rest->empty());
  EXPECT_TRUE(r.in_progress());
}

TEST(ClientHelloReassembler, NewerMessageReplacesOlder) {
  ClientHelloReassembler r;
  Bytes a = client_hello_body(300), b = client_hello_body(320);
  (void)r.process(Instant(), fragment_record(a, 0, 100, 0, 0));
  (void)r.process(Instant(), fragment_record(b, 0, 100, 1, 1));
  EXPECT_EQ(r.stats().abandoned, 1u);
  // A fragment of the older message is ignored now.
  auto old = r.process(Instant(), fragment_record(a, 100, 200, 2, 0));
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->empty());
  auto done = r.process(Instant(), fragment_record(b, 100, 220, 3, 1));
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->empty());
}

}  // namespace
}  // namespace cellrtc::dtls
