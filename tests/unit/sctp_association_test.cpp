#include <gtest/gtest.h>

#include <numeric>

#include "core/sctp/sctp_association.h"
#include "core/sctp/sctp_packet.h"
#include "support/sctp_pair.h"

namespace cellrtc::sctp {
namespace {

using testing::SctpPair;

Bytes pattern(size_t size, uint8_t seed = 0) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i)
    b[i] = static_cast<uint8_t>(i * 31 + seed);
  return b;
}

// The chunk types in a packet, or empty when it does not parse.
std::vector<ChunkType> chunk_types(const Bytes& packet) {
  std::vector<ChunkType> out;
  auto p = parse_packet(packet);
  if (!p) return out;
  for (const RawChunk& c : p->chunks)
    out.push_back(static_cast<ChunkType>(c.type));
  return out;
}
bool has_chunk(const Bytes& packet, ChunkType type) {
  auto t = chunk_types(packet);
  return std::find(t.begin(), t.end(), type) != t.end();
}
std::optional<DataChunk> first_data(const Bytes& packet) {
  static thread_local Bytes keep;
  keep = packet;
  auto p = parse_packet(keep);
  if (!p) return std::nullopt;
  for (const RawChunk& c : p->chunks) {
    if (c.type == 0) {
      auto d = DataChunk::parse(c);
      if (d) return *d;
    }
  }
  return std::nullopt;
}

TEST(SctpAssociation, BothSidesConnectCollision) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  EXPECT_EQ(SctpPair::of<event::Connected>(p.events_a).size(), 1u);
  EXPECT_EQ(SctpPair::of<event::Connected>(p.events_b).size(), 1u);
}

TEST(SctpAssociation, OneSideConnects) {
  SctpPair p;
  p.a.connect(p.now());
  ASSERT_TRUE(p.run(
      [&] {
        return p.a.state() == SctpState::established && p.b.state() == SctpState::established;
      },
      seconds(5)));
  // Four packets: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK.
  EXPECT_EQ(p.packets_a_to_b + p.packets_b_to_a, 4u);
}

TEST(SctpAssociation, SetupSurvivesLoss) {
  SctpPair p;
  int n = 0;
  p.drop = [&](bool, const Bytes&) { return ++n <= 3; };  // the first three packets vanish
  p.a.connect(p.now());
  ASSERT_TRUE(p.run(
      [&] {
        return p.a.state() == SctpState::established && p.b.state() == SctpState::established;
      },
      seconds(30)));
}

TEST(SctpAssociation, SetupGivesUpAfterMaxInitRetransmissions) {
  SctpPair p;
  p.drop = [](bool, const Bytes&) { return true; };
  p.a.connect(p.now());
  p.run_for(seconds(120));
  EXPECT_EQ(p.a.state(), SctpState::closed);
  ASSERT_EQ(SctpPair::of<event::Aborted>(p.events_a).size(), 1u);
}

TEST(SctpAssociation, MessagesBothWaysAndFragmentation) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  p.a.set_remote_max_message_size(256 * 1024);
  Bytes big = pattern(200 * 1024, 1);
  Bytes small = pattern(1, 2);
  ASSERT_TRUE(p.a.send(p.now(), 3, 53, big).ok());
  ASSERT_TRUE(p.a.send(p.now(), 3, 51, small).ok());
  ASSERT_TRUE(p.b.send(p.now(), 4, 51, small).ok());
  ASSERT_TRUE(
      p.run([&] { return p.messages_b().size() == 2 && p.messages_a().size() == 1; }, seconds(20)));
  auto mb = p.messages_b();
  EXPECT_EQ(mb[0].stream, 3);
  EXPECT_EQ(mb[0].ppid, 53u);
  EXPECT_EQ(mb[0].data, big);
  EXPECT_FALSE(mb[0].unordered);
  EXPECT_EQ(mb[1].data, small);
  EXPECT_EQ(p.messages_a()[0].stream, 4);
  EXPECT_TRUE(p.run([&] { return p.a.stats().bytes_in_flight == 0; }, seconds(2)));
  EXPECT_EQ(p.a.buffered_amount(3), 0u);
}

TEST(SctpAssociation, PacketsNeverExceedMtu) {
  SctpConfig c;
  c.mtu = 500;
  SctpPair p(c, c);
  size_t largest = 0;
  p.drop = [&](bool, const Bytes& b) {
    largest = std::max(largest, b.size());
    return false;
  };
  ASSERT_TRUE(p.connect());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(777 + i)).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 20; }, seconds(10)));
  EXPECT_LE(largest, 500u);
}

TEST(SctpAssociation, OrderedDeliveryDespiteLossAndUnorderedBypass) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  bool dropped = false;
  p.drop = [&](bool from_a, const Bytes& b) {
    auto d = first_data(b);
    if (from_a && d && !dropped && d->stream == 1) {
      dropped = true;  // the first ordered message's only packet
      return true;
    }
    return false;
  };
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 1)).ok());
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 2)).ok());
  SendOptions u;
  u.unordered = true;
  ASSERT_TRUE(p.a.send(p.now(), 2, 51, pattern(100, 3), u).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 3; }, seconds(10)));
  auto m = p.messages_b();
  // The unordered message does not wait for the lost one; stream 1 keeps its order.
  EXPECT_TRUE(m[0].unordered);
  EXPECT_EQ(m[0].data, pattern(100, 3));
  EXPECT_EQ(m[1].data, pattern(100, 1));
  EXPECT_EQ(m[2].data, pattern(100, 2));
}

TEST(SctpAssociation, SackReportsGapBlocksAndDuplicates) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  int data_packets = 0;
  std::vector<SackChunk> sacks;
  std::vector<Bytes> keep;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && first_data(b)) return ++data_packets == 2 || data_packets == 4;
    if (!from_a && has_chunk(b, ChunkType::sack)) {
      keep.push_back(b);
      auto pk = parse_packet(keep.back());
      for (const RawChunk& c : pk->chunks)
        if (c.type == 3) sacks.push_back(*SackChunk::parse(c));
    }
    return false;
  };
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1000, static_cast<uint8_t>(i))).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 6; }, seconds(10)));
  ASSERT_TRUE(p.run([&] { return p.a.stats().bytes_in_flight == 0; }, seconds(10)));
  bool two_blocks = false;
  for (const SackChunk& s : sacks)
    if (s.gap_blocks.size() == 2) two_blocks = true;
  EXPECT_TRUE(two_blocks);
  ASSERT_FALSE(sacks.empty());
  EXPECT_TRUE(sacks.back().gap_blocks.empty());

  // A retransmitted chunk the receiver already has is reported as a duplicate.
  SctpPair q;
  ASSERT_TRUE(q.connect());
  bool drop_sacks = true;
  std::vector<uint32_t> dups;
  std::vector<Bytes> keep2;
  q.drop = [&](bool from_a, const Bytes& b) {
    if (!from_a && has_chunk(b, ChunkType::sack)) {
      keep2.push_back(b);
      auto pk = parse_packet(keep2.back());
      for (const RawChunk& c : pk->chunks)
        if (c.type == 3) {
          auto sack = SackChunk::parse(c);
          for (uint32_t d : sack->duplicate_tsns)
            dups.push_back(d);
        }
      return drop_sacks;
    }
    return false;
  };
  ASSERT_TRUE(q.a.send(q.now(), 0, 51, pattern(10)).ok());
  ASSERT_TRUE(q.run([&] { return q.a.stats().rto_expirations > 0; }, seconds(5)));
  drop_sacks = false;
  ASSERT_TRUE(q.run([&] { return !dups.empty(); }, seconds(5)));
  EXPECT_EQ(q.messages_b().size(), 1u);
}

TEST(SctpAssociation, FastRetransmitAfterThreeMissIndications) {
  SctpPair p;
  p.one_way = milliseconds(50);
  ASSERT_TRUE(p.connect());
  int data_packets = 0;
  p.drop = [&](bool from_a, const Bytes& b) {
    return from_a && first_data(b) && ++data_packets == 1;
  };
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1100, static_cast<uint8_t>(i))).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 8; }, seconds(10)));
  SctpStats s = p.a.stats();
  EXPECT_EQ(s.fast_retransmits, 1u);
  EXPECT_EQ(s.rto_expirations, 0u);
  // Recovery finished well before any retransmission timeout could have fired.
  EXPECT_LT(p.now() - Instant{}, milliseconds(600));
  // RFC 9260 section 7.2.3: cwnd halved (floored at 4 MTU) on entering fast recovery.
  EXPECT_GE(s.ssthresh, 4 * p.a.config().mtu);
}

TEST(SctpAssociation, RtoBacksOffAndGivesUp) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  std::vector<Instant> sends;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && first_data(b)) sends.push_back(p.now());
    return from_a;
  };
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100)).ok());
  p.run_for(seconds(100));
  ASSERT_GE(sends.size(), 6u);
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < sends.size(); ++i)
    gaps.push_back((sends[i] - sends[i - 1]).count() / 1000);
  // RFC 6298 section 5.5: doubling from the initial 1 s up to the 10 s maximum.
  EXPECT_EQ(gaps[0], 1000);
  EXPECT_EQ(gaps[1], 2000);
  EXPECT_EQ(gaps[2], 4000);
  EXPECT_EQ(gaps[3], 8000);
  EXPECT_EQ(gaps[4], 10000);
  EXPECT_EQ(p.a.state(), SctpState::closed);
  auto aborted = SctpPair::of<event::Aborted>(p.events_a);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].reason, "retransmission limit reached");
}

TEST(SctpAssociation, RttAndRtoFollowRfc6298) {
  SctpPair p;
  p.one_way = milliseconds(100);
  ASSERT_TRUE(p.connect());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100)).ok());
    p.run_for(milliseconds(300));
  }
  SctpStats s = p.a.stats();
  ASSERT_TRUE(s.srtt);
  // 200 ms round trip, plus up to the 200 ms delayed ack on some samples.
  EXPECT_GE(s.srtt->count(), 200'000);
  EXPECT_LE(s.srtt->count(), 420'000);
  EXPECT_GE(s.rto, milliseconds(250));
  EXPECT_LE(s.rto, seconds(2));
}

TEST(SctpAssociation, DelayedAckWaitsForSecondPacketOr200ms) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  std::vector<Instant> sack_times;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (!from_a && has_chunk(b, ChunkType::sack)) sack_times.push_back(p.now());
    return false;
  };
  Instant sent = p.now();
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(10)).ok());
  ASSERT_TRUE(p.run([&] { return !sack_times.empty(); }, seconds(2)));
  EXPECT_EQ(sack_times[0] - sent, milliseconds(10) + milliseconds(200));
  sack_times.clear();
  sent = p.now();
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1100)).ok());
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1100)).ok());
  ASSERT_TRUE(p.run([&] { return !sack_times.empty(); }, seconds(2)));
  EXPECT_EQ(sack_times[0] - sent, milliseconds(10));
}

TEST(SctpAssociation, CongestionWindowGrowsInSlowStart) {
  SctpPair p;
  p.one_way = milliseconds(50);
  ASSERT_TRUE(p.connect());
  size_t initial = p.a.stats().cwnd;
  EXPECT_EQ(initial, 4380u);
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1100)).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 100; }, seconds(10)));
  EXPECT_GT(p.a.stats().cwnd, 4 * initial);
  EXPECT_GT(p.a.stats().delivery_rate_bps, 0u);
}

TEST(SctpAssociation, MaxRetransmitsZeroIsSkippedWithForwardTsn) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  bool dropped = false;
  bool forward_tsn_seen = false;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && has_chunk(b, ChunkType::forward_tsn)) forward_tsn_seen = true;
    auto d = first_data(b);
    if (from_a && d && !dropped) {
      dropped = true;
      return true;
    }
    return false;
  };
  SendOptions once;
  once.max_retransmits = 0;
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(3000, 1), once).ok());  // 3 fragments
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 2)).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 1; }, seconds(10)));
  EXPECT_EQ(p.messages_b()[0].data, pattern(100, 2));
  EXPECT_TRUE(forward_tsn_seen);
  EXPECT_EQ(p.a.stats().abandoned_messages, 1u);
  ASSERT_TRUE(p.run([&] { return p.a.stats().bytes_in_flight == 0; }, seconds(5)));
  EXPECT_EQ(p.a.buffered_amount(1), 0u);
  // Later messages keep flowing on the same ordered stream.
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(10, 3)).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 2; }, seconds(5)));
}

TEST(SctpAssociation, MaxLifetimeExpiresMessagesAndReceiverNeverWaits) {
  SctpPair p;
  p.one_way = milliseconds(100);
  ASSERT_TRUE(p.connect());
  // Every transmission of the first message is lost.
  p.drop = [&](bool from_a, const Bytes& b) {
    auto d = first_data(b);
    return from_a && d && d->payload.size() > 0 && d->payload[0] == pattern(500, 9)[0] &&
           d->stream == 2;
  };
  SendOptions lifetime;
  lifetime.max_lifetime = milliseconds(300);
  ASSERT_TRUE(p.a.send(p.now(), 2, 51, pattern(500, 9), lifetime).ok());
  ASSERT_TRUE(p.a.send(p.now(), 2, 51, pattern(600, 1)).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 1; }, seconds(5)));
  EXPECT_EQ(p.messages_b()[0].data, pattern(600, 1));
  EXPECT_EQ(p.a.stats().abandoned_messages, 1u);

  // A message queued behind a full window expires before it is ever sent: it just goes.
  SctpPair q;
  ASSERT_TRUE(q.connect());
  q.drop = [](bool from_a, const Bytes&) { return from_a; };
  ASSERT_TRUE(q.a.send(q.now(), 0, 51, pattern(60000)).ok());
  ASSERT_TRUE(q.a.send(q.now(), 0, 51, pattern(100), lifetime).ok());
  q.run_for(seconds(1));
  EXPECT_EQ(q.a.stats().abandoned_messages, 1u);
  EXPECT_EQ(q.a.buffered_amount(0), 60000u);
}

TEST(SctpAssociation, StreamResetBothWays) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 1)).ok());
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 2)).ok());
  uint16_t streams[] = {1};
  ASSERT_TRUE(p.a.reset_streams(p.now(), streams).ok());
  EXPECT_EQ(p.a.send(p.now(), 1, 51, pattern(1)).error().code, Errc::invalid_state);
  ASSERT_TRUE(p.run([&] { return !SctpPair::of<event::OutgoingResetDone>(p.events_a).empty(); },
                    seconds(5)));
  auto done = SctpPair::of<event::OutgoingResetDone>(p.events_a);
  EXPECT_TRUE(done[0].success);
  EXPECT_EQ(done[0].streams, std::vector<uint16_t>{1});
  auto by_peer = SctpPair::of<event::StreamsResetByPeer>(p.events_b);
  ASSERT_EQ(by_peer.size(), 1u);
  EXPECT_EQ(by_peer[0].streams, std::vector<uint16_t>{1});
  // Both messages sent before the reset arrived before it.
  EXPECT_EQ(p.messages_b().size(), 2u);
  // The peer closes its side too; then the stream is reused from SSN 0 in both directions.
  ASSERT_TRUE(p.b.reset_streams(p.now(), streams).ok());
  ASSERT_TRUE(p.run([&] { return !SctpPair::of<event::OutgoingResetDone>(p.events_b).empty(); },
                    seconds(5)));
  EXPECT_EQ(SctpPair::of<event::StreamsResetByPeer>(p.events_a).size(), 1u);
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(5, 3)).ok());
  ASSERT_TRUE(p.b.send(p.now(), 1, 51, pattern(5, 4)).ok());
  ASSERT_TRUE(
      p.run([&] { return p.messages_b().size() == 3 && p.messages_a().size() == 1; }, seconds(5)));
}

TEST(SctpAssociation, StreamResetWaitsForMissingData) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  bool dropped = false;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && first_data(b) && !dropped) return dropped = true;
    return false;
  };
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(100, 1)).ok());
  uint16_t streams[] = {1};
  ASSERT_TRUE(p.a.reset_streams(p.now(), streams).ok());
  ASSERT_TRUE(p.run([&] { return !SctpPair::of<event::OutgoingResetDone>(p.events_a).empty(); },
                    seconds(10)));
  // The message before the reset is delivered before the reset is reported.
  ASSERT_EQ(p.events_b.size(), 3u);  // connected, message, reset
  EXPECT_TRUE(std::holds_alternative<event::Message>(p.events_b[1]));
  EXPECT_TRUE(std::holds_alternative<event::StreamsResetByPeer>(p.events_b[2]));
}

TEST(SctpAssociation, MaxMessageSizeBothWays) {
  SctpConfig small_receiver;
  small_receiver.max_receive_message_size = 10000;
  SctpPair p({}, small_receiver);
  ASSERT_TRUE(p.connect());
  p.a.set_remote_max_message_size(5000);
  EXPECT_EQ(p.a.send(p.now(), 0, 51, pattern(5001)).error().code, Errc::invalid_argument);
  EXPECT_TRUE(p.a.send(p.now(), 0, 51, pattern(5000)).ok());
  EXPECT_EQ(p.a.send(p.now(), 0, 51, ByteView{}).error().code, Errc::invalid_argument);
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 1; }, seconds(5)));
  // A sender that ignores our limit gets the association aborted.
  p.a.set_remote_max_message_size(0);
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(20000)).ok());
  ASSERT_TRUE(p.run([&] { return p.a.state() == SctpState::closed; }, seconds(5)));
  auto b_aborted = SctpPair::of<event::Aborted>(p.events_b);
  ASSERT_EQ(b_aborted.size(), 1u);
  EXPECT_EQ(b_aborted[0].reason, "received message larger than max-message-size");
  auto a_aborted = SctpPair::of<event::Aborted>(p.events_a);
  ASSERT_EQ(a_aborted.size(), 1u);
  EXPECT_EQ(a_aborted[0].reason, "received message larger than max-message-size");
}

TEST(SctpAssociation, BufferedAmountLowEvent) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  p.a.set_buffered_amount_low_threshold(5, 2000);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(p.a.send(p.now(), 5, 51, pattern(1000)).ok());
  EXPECT_EQ(p.a.buffered_amount(5), 10000u);
  EXPECT_EQ(p.a.stats().buffered_amount, 10000u);
  ASSERT_TRUE(p.run([&] { return !SctpPair::of<event::BufferedAmountLow>(p.events_a).empty(); },
                    seconds(5)));
  EXPECT_LE(p.a.buffered_amount(5), 2000u);
  EXPECT_EQ(SctpPair::of<event::BufferedAmountLow>(p.events_a)[0].stream, 5);
  ASSERT_TRUE(p.run([&] { return p.a.buffered_amount(5) == 0; }, seconds(5)));
  EXPECT_EQ(SctpPair::of<event::BufferedAmountLow>(p.events_a).size(), 1u);
}

TEST(SctpAssociation, SendBufferLimits) {
  SctpConfig c;
  c.send_buffer_limit = 10000;
  c.stream_send_buffer_limit = 6000;
  SctpPair p(c, {});
  ASSERT_TRUE(p.connect());
  p.drop = [](bool from_a, const Bytes&) { return from_a; };
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(5000)).ok());
  EXPECT_EQ(p.a.send(p.now(), 0, 51, pattern(1001)).error().code, Errc::limit_exceeded);
  ASSERT_TRUE(p.a.send(p.now(), 1, 51, pattern(5000)).ok());
  EXPECT_EQ(p.a.send(p.now(), 2, 51, pattern(1)).error().code, Errc::limit_exceeded);
  EXPECT_EQ(p.a.send(p.now(), 2, 51, pattern(7000)).error().code, Errc::invalid_argument);
  EXPECT_EQ(p.a.stats().buffered_amount, 10000u);
}

TEST(SctpAssociation, StalledReceiverBoundsBothSides) {
  SctpConfig small;
  small.receive_window = 32 * 1024;
  SctpConfig sender;
  sender.send_buffer_limit = 64 * 1024;
  SctpPair p(sender, small);
  ASSERT_TRUE(p.connect());
  p.read_b = false;
  int sent = 0;
  int refused = 0;
  for (int round = 0; round < 200; ++round) {
    auto s = p.a.send(p.now(), 0, 51, pattern(4000, static_cast<uint8_t>(sent)));
    if (s.ok()) {
      ++sent;
    } else {
      EXPECT_EQ(s.error().code, Errc::limit_exceeded);
      ++refused;
    }
    EXPECT_LE(p.a.stats().buffered_amount, 64u * 1024);
    p.run_for(milliseconds(100));
  }
  EXPECT_GT(refused, 0);
  // Nothing was read: what b holds stays near its window.
  size_t held = 0;
  while (auto e = p.b.poll_event())
    if (auto* m = std::get_if<event::Message>(&*e)) held += m->data.size();
  EXPECT_LE(held, 2u * 32 * 1024 + 4000);
  // Reading again opens the window; everything accepted arrives in order.
  p.read_b = true;
  ASSERT_TRUE(p.run([&] { return p.a.stats().buffered_amount == 0; }, seconds(60)));
  EXPECT_EQ(static_cast<int>(p.messages_b().size()) + static_cast<int>(held / 4000), sent);
}

TEST(SctpAssociation, ShutdownClosesBothSides) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(50000)).ok());
  p.a.shutdown(p.now());
  EXPECT_EQ(p.a.send(p.now(), 0, 51, pattern(1)).error().code, Errc::invalid_state);
  ASSERT_TRUE(
      p.run([&] { return p.a.state() == SctpState::closed && p.b.state() == SctpState::closed; },
            seconds(10)));
  // Queued data is delivered before the association closes.
  EXPECT_EQ(p.messages_b().size(), 1u);
  EXPECT_EQ(SctpPair::of<event::Closed>(p.events_a).size(), 1u);
  EXPECT_EQ(SctpPair::of<event::Closed>(p.events_b).size(), 1u);
  EXPECT_FALSE(p.a.next_timeout());
}

TEST(SctpAssociation, AbortCarriesReason) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  p.a.abort(p.now(), "going away");
  ASSERT_TRUE(p.run([&] { return p.b.state() == SctpState::closed; }, seconds(1)));
  auto b = SctpPair::of<event::Aborted>(p.events_b);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].reason, "going away");
  EXPECT_EQ(SctpPair::of<event::Aborted>(p.events_a).size(), 1u);
}

TEST(SctpAssociation, HeartbeatMeasuresRttWhenIdle) {
  SctpPair p;
  p.one_way = milliseconds(40);
  ASSERT_TRUE(p.connect());
  EXPECT_FALSE(p.a.stats().srtt);
  p.run_for(seconds(35));
  ASSERT_TRUE(p.a.stats().srtt);
  EXPECT_EQ(p.a.stats().srtt->count(), 80'000);
}

TEST(SctpAssociation, PathRestoredRetransmitsAtOnceWithoutTheBackoff) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100)).ok());
  p.run_for(milliseconds(500));
  const Duration computed = p.a.stats().rto;
  // An outage of 12 s: T3 expires and doubles four times or more.
  std::vector<Instant> sends;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && first_data(b)) sends.push_back(p.now());
    return true;
  };
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100, 1)).ok());
  p.run_for(seconds(12));
  EXPECT_GE(p.a.stats().rto_expirations, 4u);
  EXPECT_GE(p.a.stats().rto, computed * 8);
  p.drop = nullptr;
  sends.clear();
  const Instant restored = p.now();
  p.a.handle_path_restored(p.now());
  EXPECT_EQ(p.a.stats().rto, computed);
  // RFC 9260 section 7.2.1's initial window, not T3's one MTU.
  EXPECT_EQ(p.a.stats().cwnd, 4380u);
  p.drop = [&](bool from_a, const Bytes& b) {
    if (from_a && first_data(b)) sends.push_back(p.now());
    return false;
  };
  ASSERT_TRUE(
      p.run([&] { return SctpPair::of<event::Message>(p.events_b).size() == 2; }, seconds(1)));
  ASSERT_FALSE(sends.empty());
  EXPECT_EQ(sends[0], restored);
  EXPECT_EQ(p.a.state(), SctpState::established);
}

TEST(SctpAssociation, PathRestoredWithNothingOutstandingSendsAHeartbeat) {
  SctpPair p;
  p.one_way = milliseconds(40);
  ASSERT_TRUE(p.connect());
  EXPECT_FALSE(p.a.stats().srtt);
  p.a.handle_path_restored(p.now());
  auto packet = p.a.poll_transmit();
  ASSERT_TRUE(packet);
  EXPECT_TRUE(has_chunk(*packet, ChunkType::heartbeat));
  p.b.handle_packet(p.now() + milliseconds(40), *packet);
  auto ack = p.b.poll_transmit();
  ASSERT_TRUE(ack);
  p.a.handle_packet(p.now() + milliseconds(80), *ack);
  ASSERT_TRUE(p.a.stats().srtt);
  EXPECT_EQ(p.a.stats().srtt->count(), 80'000);
}

// An outage of `outage` both ways while `a` has a message outstanding; returns when the link
// is back, with every packet from `a` during the outage counted in `heartbeats` / `data`.
struct Outage {
  int heartbeats = 0;
  int data = 0;
};
Outage cut_link(SctpPair& p, Duration outage) {
  Outage o;
  p.drop = [&o](bool from_a, const Bytes& b) {
    if (from_a && has_chunk(b, ChunkType::heartbeat)) ++o.heartbeats;
    if (from_a && first_data(b)) ++o.data;
    return true;
  };
  EXPECT_TRUE(p.a.send(p.now(), 0, 51, pattern(100, 1)).ok());
  p.run_for(outage);
  p.drop = nullptr;
  return o;
}

TEST(SctpAssociation, BackedOffT3ProbesAndResumesSoonAfterTheLinkReturns) {
  // Nobody reports the path's return (handle_path_restored is never called).
  for (Duration probe_interval : {Duration{seconds(1)}, Duration{0}}) {
    SctpConfig config;
    config.backoff_probe_interval = probe_interval;
    SctpPair p(config, config);
    p.one_way = milliseconds(50);
    ASSERT_TRUE(p.connect());
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100)).ok());
    p.run_for(milliseconds(500));
    const Duration computed = p.a.stats().rto;
    cut_link(p, seconds(10));
    EXPECT_GE(p.a.stats().rto_expirations, 3u);
    EXPECT_GE(p.a.stats().rto, computed * 8);  // doubled at every expiry (6.3.3 E2)
    const Instant back = p.now();
    const bool delivered = p.run(
        [&] { return SctpPair::of<event::Message>(p.events_b).size() == 2; }, milliseconds(1500));
    if (probe_interval == Duration{0}) {
      // Without probes the next backed-off T3 expiry is several seconds away.
      EXPECT_FALSE(delivered);
      continue;
    }
    ASSERT_TRUE(delivered);
    // A probe within a second, its answer half a round trip later ends the backoff, the
    // retransmission another one-way delay on.
    EXPECT_LE(p.now() - back, seconds(1) + milliseconds(150));
    EXPECT_LT(p.a.stats().rto, computed * 2);
    EXPECT_GE(p.a.stats().backoff_probes, 1u);
    EXPECT_EQ(p.a.state(), SctpState::established);
  }
}

TEST(SctpAssociation, NoBackoffProbesWhileTheTimerIsNotBackedOff) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  int heartbeats = 0;
  int dropped = 0;
  p.drop = [&](bool from_a, const Bytes& b) {
    if (!from_a) return false;
    if (has_chunk(b, ChunkType::heartbeat)) ++heartbeats;
    // Every 7th DATA packet is lost: fast retransmissions, and a T3 expiry when the lost one
    // is the last of a burst.
    return first_data(b) && ++dropped % 7 == 0;
  };
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(1000, static_cast<uint8_t>(i))).ok());
    p.run_for(milliseconds(100));
  }
  ASSERT_TRUE(
      p.run([&] { return SctpPair::of<event::Message>(p.events_b).size() == 100; }, seconds(5)));
  EXPECT_GE(p.a.stats().rto_expirations, 1u);  // backed off once; the retransmission's SACK
                                               // ended it before a probe was due
  EXPECT_EQ(p.a.stats().backoff_probes, 0u);
  EXPECT_EQ(heartbeats, 0);
}

TEST(SctpAssociation, BackoffProbesAreBoundedInALongOutage) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.a.send(p.now(), 0, 51, pattern(100)).ok());
  p.run_for(milliseconds(500));
  // 60 s: T3 expires nine or ten times (doubling to rto_max 10 s), short of
  // Association.Max.Retrans; probes go at most once a second, none counted as an error.
  Outage o = cut_link(p, seconds(60));
  EXPECT_GE(p.a.stats().rto_expirations, 9u);
  EXPECT_EQ(p.a.stats().backoff_probes, static_cast<uint64_t>(o.heartbeats));
  EXPECT_LE(o.heartbeats, 60);
  EXPECT_GE(o.heartbeats, 45);
  EXPECT_EQ(p.a.state(), SctpState::established);
  ASSERT_TRUE(
      p.run([&] { return SctpPair::of<event::Message>(p.events_b).size() == 2; }, seconds(2)));
}

TEST(SctpAssociation, WrongVerificationTagIsIgnored) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  PacketBuilder b(5000, 5000, 0x12345678, 1200);
  b.add(AbortChunk{});
  p.b.handle_packet(p.now(), b.finish());
  EXPECT_EQ(p.b.state(), SctpState::established);
}

class CookieTest : public ::testing::Test {
 protected:
  SeededRandom rng{7};
  SctpAssociation server{SctpConfig{}, rng};
  Instant now;

  // Sends an INIT and returns the INIT ACK's tag and cookie.
  std::pair<uint32_t, Bytes> init_ack() {
    InitChunk init;
    init.initiate_tag = 0xABCD;
    init.a_rwnd = 100000;
    init.outbound_streams = 16;
    init.inbound_streams = 16;
    init.initial_tsn = 1;
    init.supported_extensions = {130, 192};
    PacketBuilder b(5000, 5000, 0, 1200);
    b.add_init(init, ChunkType::init);
    server.handle_packet(now, b.finish());
    EXPECT_EQ(server.state(), SctpState::closed);  // no state kept before the cookie
    auto out = server.poll_transmit();
    EXPECT_TRUE(out);
    keep_ = *out;
    auto p = parse_packet(keep_);
    EXPECT_EQ(p->header.verification_tag, 0xABCDu);
    auto ack = InitChunk::parse(p->chunks.at(0));
    return {ack->initiate_tag, Bytes(ack->state_cookie->begin(), ack->state_cookie->end())};
  }
  void echo(uint32_t tag, const Bytes& cookie, Instant at) {
    PacketBuilder b(5000, 5000, tag, 1200);
    b.add(CookieEchoChunk{cookie});
    server.handle_packet(at, b.finish());
  }
  Bytes keep_;
};

TEST_F(CookieTest, ValidCookieEstablishes) {
  auto [tag, cookie] = init_ack();
  echo(tag, cookie, now + seconds(1));
  EXPECT_EQ(server.state(), SctpState::established);
  auto out = server.poll_transmit();
  ASSERT_TRUE(out);
  EXPECT_TRUE(has_chunk(*out, ChunkType::cookie_ack));
  // A retransmitted COOKIE ECHO (our COOKIE ACK was lost) is answered again.
  echo(tag, cookie, now + seconds(2));
  auto again = server.poll_transmit();
  ASSERT_TRUE(again);
  EXPECT_TRUE(has_chunk(*again, ChunkType::cookie_ack));
}

TEST_F(CookieTest, TamperedCookieIsDropped) {
  auto [tag, cookie] = init_ack();
  for (size_t i = 0; i < cookie.size(); i += 7) {
    Bytes bad = cookie;
    bad[i] ^= 0x40;
    echo(tag, bad, now + seconds(1));
    EXPECT_EQ(server.state(), SctpState::closed);
    EXPECT_FALSE(server.poll_transmit());
  }
  Bytes truncated(cookie.begin(), cookie.end() - 1);
  echo(tag, truncated, now + seconds(1));
  EXPECT_EQ(server.state(), SctpState::closed);
  // The right cookie under the wrong verification tag.
  echo(tag + 1, cookie, now + seconds(1));
  EXPECT_EQ(server.state(), SctpState::closed);
}

TEST_F(CookieTest, StaleCookieGetsAnError) {
  auto [tag, cookie] = init_ack();
  echo(tag, cookie, now + seconds(61));
  EXPECT_EQ(server.state(), SctpState::closed);
  auto out = server.poll_transmit();
  ASSERT_TRUE(out);
  Bytes keep = *out;
  auto p = parse_packet(keep);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.verification_tag, 0xABCDu);
  auto e = ErrorChunk::parse(p->chunks.at(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->causes.at(0).code, static_cast<uint16_t>(CauseCode::stale_cookie));
}

TEST(SctpAssociation, ManyStreamsInterleave) {
  SctpPair p;
  ASSERT_TRUE(p.connect());
  for (uint16_t s = 0; s < 50; ++s)
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(p.a.send(p.now(), s, 51, pattern(2000 + s, static_cast<uint8_t>(i))).ok());
  ASSERT_TRUE(p.run([&] { return p.messages_b().size() == 150; }, seconds(20)));
  std::map<uint16_t, int> next;
  for (const auto& m : p.messages_b()) {
    EXPECT_EQ(m.data, pattern(2000 + m.stream, static_cast<uint8_t>(next[m.stream]++)));
  }
}

TEST(SctpAssociation, LossyTransferDeliversEverythingInOrder) {
  SctpPair p;
  p.one_way = milliseconds(30);
  ASSERT_TRUE(p.connect());
  SeededRandom loss(99);
  p.drop = [&](bool, const Bytes&) { return loss.unit() < 0.1; };
  int queued = 0;
  for (int round = 0; round < 400 && queued < 300; ++round) {
    while (queued < 300 && p.a.send(p.now(), static_cast<uint16_t>(queued % 3), 51,
                                    pattern(3000 + queued, static_cast<uint8_t>(queued)))
                               .ok())
      ++queued;
    p.run_for(milliseconds(100));
  }
  bool all = p.run([&] { return p.messages_b().size() == 300; }, seconds(120));
  ASSERT_TRUE(all) << p.messages_b().size() << " queued " << queued << " flight "
                   << p.a.stats().bytes_in_flight << " buffered " << p.a.stats().buffered_amount
                   << " cwnd " << p.a.stats().cwnd << " rwnd " << p.a.stats().peer_rwnd << " state "
                   << to_string(p.a.state()) << " rto " << p.a.stats().rto.count() << " b "
                   << to_string(p.b.state()) << " "
                   << (SctpPair::of<event::Aborted>(p.events_a).empty()
                           ? std::string()
                           : SctpPair::of<event::Aborted>(p.events_a)[0].reason)
                   << " b dropped " << p.b.stats().dropped_chunks << " dups "
                   << p.b.stats().duplicate_chunks;
  std::map<uint16_t, int> last;
  for (const auto& m : p.messages_b()) {
    int index = static_cast<int>(m.data.size()) - 3000;
    EXPECT_EQ(m.data, pattern(3000 + index, static_cast<uint8_t>(index)));
    EXPECT_EQ(index % 3, m.stream);
    EXPECT_GT(index + 1, last[m.stream]);
    last[m.stream] = index + 1;
  }
}

// A chunk given as its bytes, for packets written field by field.
struct HandChunk {
  Bytes bytes;
  void encode(Bytes& out) const { out.insert(out.end(), bytes.begin(), bytes.end()); }
};
void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
uint32_t get32(ByteView b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         b[at + 3];
}
// RFC 9260 section 3.3.1: an unfragmented DATA chunk of four bytes.
HandChunk data_chunk(uint32_t tsn, uint16_t stream, uint16_t ssn) {
  Bytes b = {0, 0x03};  // type DATA, flags B and E
  put16(b, 16 + 4);
  put32(b, tsn);
  put16(b, stream);
  put16(b, ssn);
  put32(b, 51);  // PPID: WebRTC string
  for (uint8_t x : {'d', 'a', 't', 'a'})
    b.push_back(x);
  return {b};
}
// RFC 6525 sections 3.1 and 4.1: RE-CONFIG with one Outgoing SSN Reset Request parameter.
HandChunk outgoing_reset_request(uint32_t request, uint32_t response, uint32_t last_tsn,
                                 std::initializer_list<uint16_t> streams) {
  Bytes b = {130, 0};
  uint16_t param_length = static_cast<uint16_t>(16 + 2 * streams.size());
  put16(b, static_cast<uint16_t>(4 + ((param_length + 3) & ~3)));
  put16(b, 13);  // Outgoing SSN Reset Request
  put16(b, param_length);
  put32(b, request);
  put32(b, response);
  put32(b, last_tsn);
  for (uint16_t s : streams)
    put16(b, s);
  while (b.size() % 4)
    b.push_back(0);
  return {b};
}

// The (response sequence, result) of every Re-configuration Response parameter (RFC 6525
// section 4.4: type 16, length 12) in the packets the association sent.
std::vector<std::pair<uint32_t, uint32_t>> reconfig_responses(SctpAssociation& a) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  while (auto packet = a.poll_transmit()) {
    auto p = parse_packet(*packet);
    if (!p) continue;
    for (const RawChunk& c : p->chunks) {
      if (c.type != 130) continue;
      ByteView v = c.value;
      for (size_t at = 0; at + 4 <= v.size();) {
        uint16_t type = static_cast<uint16_t>((v[at] << 8) | v[at + 1]);
        uint16_t length = static_cast<uint16_t>((v[at + 2] << 8) | v[at + 3]);
        if (length < 4 || at + length > v.size()) break;
        if (type == 16 && length == 12) out.emplace_back(get32(v, at + 4), get32(v, at + 8));
        at += (length + 3) & ~size_t{3};
      }
    }
  }
  return out;
}

// RFC 6525 section 5.2.2 on the receiving side, from packets written field by field: a reset
// whose last TSN is not yet received is answered "In progress" (6); when the missing DATA
// arrives, the messages before the reset are delivered, the stream's SSN starts again from 0
// and "Success - Performed" (1) follows; a retransmitted request gets the same answer.
TEST_F(CookieTest, IncomingOutgoingResetRequestInProgressThenPerformed) {
  auto [tag, cookie] = init_ack();
  echo(tag, cookie, now);
  ASSERT_EQ(server.state(), SctpState::established);
  reconfig_responses(server);  // COOKIE ACK
  auto send = [&](std::initializer_list<HandChunk> chunks) {
    PacketBuilder b(5000, 5000, tag, 1200);
    for (const HandChunk& c : chunks)
      b.add(c);
    server.handle_packet(now, b.finish());
  };
  std::vector<SctpEvent> events;
  auto drain = [&] {
    while (auto e = server.poll_event())
      events.push_back(std::move(*e));
  };
  // The peer's first TSN and first request sequence number are its initial TSN, 1.
  send({data_chunk(1, 3, 0)});
  send({data_chunk(3, 3, 2), outgoing_reset_request(1, 0, 3, {3})});
  auto answers = reconfig_responses(server);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0], (std::pair<uint32_t, uint32_t>{1, 6}));  // In progress
  drain();
  EXPECT_TRUE(SctpPair::of<event::StreamsResetByPeer>(events).empty());

  send({data_chunk(2, 3, 1)});
  answers = reconfig_responses(server);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0], (std::pair<uint32_t, uint32_t>{1, 1}));  // Success - Performed
  drain();
  // connected, three messages in SSN order, then the reset.
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(SctpPair::of<event::Message>(events).size(), 3u);
  auto reset = SctpPair::of<event::StreamsResetByPeer>(events);
  ASSERT_EQ(reset.size(), 1u);
  EXPECT_EQ(reset[0].streams, std::vector<uint16_t>{3});
  EXPECT_TRUE(std::holds_alternative<event::StreamsResetByPeer>(events.back()));

  // The retransmitted request: the same answer, no second reset.
  send({outgoing_reset_request(1, 0, 3, {3})});
  answers = reconfig_responses(server);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0], (std::pair<uint32_t, uint32_t>{1, 1}));
  // The stream starts again from SSN 0.
  send({data_chunk(4, 3, 0)});
  drain();
  EXPECT_EQ(SctpPair::of<event::Message>(events).size(), 4u);
  EXPECT_EQ(SctpPair::of<event::StreamsResetByPeer>(events).size(), 1u);
  // A request with the next sequence number and nothing missing: performed at once.
  send({outgoing_reset_request(2, 0, 4, {3})});
  answers = reconfig_responses(server);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0], (std::pair<uint32_t, uint32_t>{2, 1}));
}

}  // namespace
}  // namespace cellrtc::sctp
