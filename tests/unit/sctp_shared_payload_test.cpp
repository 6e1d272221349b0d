// SctpAssociation::send with SharedBytes: the association references the caller's buffer
// instead of copying it, keeps the reference while any chunk of the message may still be
// (re)transmitted, and lets go once the message is acknowledged or abandoned.
#include <gtest/gtest.h>

#include "core/common/shared_bytes.h"
#include "core/sctp/sctp_association.h"
#include "core/sctp/sctp_packet.h"
#include "support/sctp_pair.h"

namespace cellrtc::sctp {
namespace {

using testing::SctpPair;

SharedBytes shared_pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i)
    b[i] = static_cast<uint8_t>(i * 7 + seed);
  return make_shared_bytes(std::move(b));
}

bool carries_data(const Bytes& packet) {
  auto p = parse_packet(packet);
  if (!p) return false;
  for (const RawChunk& c : p->chunks)
    if (c.type == 0) return true;
  return false;
}

TEST(SctpSharedPayload, OneBufferServesManyAssociationsAndIsReleasedWhenAcked) {
  // One 20 KB frame to three receivers, the relay's case: each association holds a reference
  // (the buffer's address and contents stay the caller's), none holds a copy.
  SharedBytes frame = shared_pattern(20000, 3);
  const uint8_t* address = frame->data();
  std::vector<std::unique_ptr<SctpPair>> pairs;
  for (int i = 0; i < 3; ++i) {
    pairs.push_back(std::make_unique<SctpPair>());
    ASSERT_TRUE(pairs.back()->connect());
  }
  for (auto& p : pairs)
    ASSERT_TRUE(p->a.send(p->now(), 0, 53, frame).ok());
  // Sent but not yet acknowledged (nothing has crossed the wire): every association holds it,
  // once per chunk in flight and once for the part not yet cut into chunks.
  EXPECT_GE(frame.use_count(), 1 + 3 * 2);
  for (auto& p : pairs)
    EXPECT_EQ(p->a.buffered_amount(0), 20000u);
  for (auto& p : pairs) {
    ASSERT_TRUE(p->run([&] { return p->messages_b().size() == 1; }, seconds(10)));
    EXPECT_EQ(p->messages_b()[0].data, *frame);
    EXPECT_EQ(p->messages_b()[0].ppid, 53u);
    ASSERT_TRUE(p->run([&] { return p->a.buffered_amount(0) == 0; }, seconds(5)));
  }
  EXPECT_EQ(frame.use_count(), 1);
  EXPECT_EQ(frame->data(), address);
}

TEST(SctpSharedPayload, RetransmissionsComeFromTheSharedBuffer) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  // The first two packets with DATA are lost: the chunks go again after T3 or fast
  // retransmission, cut from the same buffer, which stays referenced until then.
  int lost = 0;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (!from_a || !carries_data(b) || lost == 2) return false;
    ++lost;
    return true;
  };
  SharedBytes frame = shared_pattern(5000, 11);
  ASSERT_TRUE(p.a.send(p.now(), 1, 53, frame).ok());
  p.run_for(milliseconds(30));  // the first flight has left and is lost
  EXPECT_EQ(lost, 2);
  EXPECT_GT(frame.use_count(), 1);
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 1; }, seconds(10)));
  EXPECT_EQ(p.messages_b()[0].data, *frame);
  EXPECT_GT(p.a.stats().retransmitted_chunks, 0u);
  ASSERT_TRUE(p.run([&] { return p.a.buffered_amount(1) == 0; }, seconds(5)));
  EXPECT_EQ(frame.use_count(), 1);
}

TEST(SctpSharedPayload, AbandonedMessagesReleaseTheBuffer) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  // Sent once and lost: abandoned (RFC 3758), the receiver is told by FORWARD TSN.
  bool dropped = false;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && carries_data(b) && !dropped) return dropped = true;
    return false;
  };
  SendOptions once;
  once.max_retransmits = 0;
  once.unordered = true;
  SharedBytes lost = shared_pattern(3000, 1);  // three fragments, the first one lost
  SharedBytes next = shared_pattern(100, 2);
  ASSERT_TRUE(p.a.send(p.now(), 1, 53, lost, once).ok());
  ASSERT_TRUE(p.a.send(p.now(), 1, 53, next, once).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 1; }, seconds(10)));
  EXPECT_EQ(p.messages_b()[0].data, *next);
  ASSERT_TRUE(p.run([&] { return p.a.buffered_amount(1) == 0; }, seconds(10)));
  EXPECT_EQ(p.a.stats().abandoned_messages, 1u);
  EXPECT_EQ(lost.use_count(), 1);
  EXPECT_EQ(next.use_count(), 1);

  // Expired before it was ever sent (queued behind a window that never opens): gone at once.
  SctpPair q;
  ASSERT_TRUE(q.connect());
  q.drop = [](bool from_a, const Bytes&) { return from_a; };
  SharedBytes blocker = shared_pattern(60000, 5);
  SharedBytes late = shared_pattern(100, 6);
  SendOptions lifetime;
  lifetime.max_lifetime = milliseconds(300);
  ASSERT_TRUE(q.a.send(q.now(), 0, 53, blocker).ok());
  ASSERT_TRUE(q.a.send(q.now(), 0, 53, late, lifetime).ok());
  EXPECT_EQ(late.use_count(), 2);
  q.run_for(seconds(1));
  EXPECT_EQ(q.a.stats().abandoned_messages, 1u);
  EXPECT_EQ(late.use_count(), 1);
  EXPECT_GT(blocker.use_count(), 1);  // reliable: still held for retransmission
  EXPECT_EQ(q.a.buffered_amount(0), 60000u);
}

TEST(SctpSharedPayload, SameLimitsAsCopyingSendAndNothingHeldWhenRefused) {
  SctpConfig c;
  c.send_buffer_limit = 10000;
  c.stream_send_buffer_limit = 6000;
  c.remote_max_message_size = 8000;
  SctpPair p(c, {});
  ASSERT_TRUE(p.connect());
  p.drop = [](bool from_a, const Bytes&) { return from_a; };
  SharedBytes five = shared_pattern(5000, 1);
  ASSERT_TRUE(p.a.send(p.now(), 0, 53, five).ok());
  SharedBytes more = shared_pattern(1001, 2);
  EXPECT_EQ(p.a.send(p.now(), 0, 53, more).error().code, Errc::limit_exceeded);
  EXPECT_EQ(more.use_count(), 1);
  SharedBytes too_big = shared_pattern(9000, 3);
  EXPECT_EQ(p.a.send(p.now(), 1, 53, too_big).error().code, Errc::invalid_argument);
  EXPECT_EQ(too_big.use_count(), 1);
  EXPECT_EQ(p.a.send(p.now(), 1, 53, SharedBytes{}).error().code, Errc::invalid_argument);
  EXPECT_EQ(p.a.send(p.now(), 1, 53, make_shared_bytes(Bytes{})).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(p.a.stats().buffered_amount, 5000u);
  EXPECT_EQ(p.a.stats().messages_sent, 1u);
}

TEST(SctpSharedPayload, AbortReleasesEverything) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  p.drop = [](bool from_a, const Bytes&) { return from_a; };
  SharedBytes frame = shared_pattern(30000, 4);
  ASSERT_TRUE(p.a.send(p.now(), 0, 53, frame).ok());
  EXPECT_GT(frame.use_count(), 1);
  p.a.abort(p.now(), "test");
  EXPECT_EQ(frame.use_count(), 1);
}

}  // namespace
}  // namespace cellrtc::sctp
