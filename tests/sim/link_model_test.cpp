// The link model on its own, fed with instants and sizes the way sim::Link and cellrtc-linkem
// feed it: serialization, the drop-tail queue, outages, FIFO under jitter, and that the same
// seed gives the same decisions.
#include "sim/link_model.h"

#include <gtest/gtest.h>

#include <vector>

namespace cellrtc::sim {
namespace {

using namespace std::chrono_literals;

Instant at_ms(int64_t ms) {
  return Instant::from_us(ms * 1000);
}

TEST(LinkModel, SerializesBackToBackPacketsAtTheRate) {
  LinkConfig c;
  c.rate_bps = 80'000;  // 1000 bytes = 100 ms
  c.delay = 50ms;
  c.overhead_bytes = 0;
  LinkModel m(1, c);
  auto a = m.admit(at_ms(0), 1000);
  auto b = m.admit(at_ms(0), 1000);
  auto d = m.admit(at_ms(500), 1000);  // the transmitter is idle again by then
  ASSERT_FALSE(a.drop);
  ASSERT_FALSE(b.drop);
  ASSERT_FALSE(d.drop);
  EXPECT_EQ(a.arrival, at_ms(150));
  EXPECT_EQ(b.arrival, at_ms(250));
  EXPECT_EQ(d.arrival, at_ms(650));
}

TEST(LinkModel, OverheadCountsAgainstTheRate) {
  LinkConfig c;
  c.rate_bps = 80'000;
  c.overhead_bytes = 28;
  LinkModel m(1, c);
  EXPECT_EQ(m.admit(at_ms(0), 972).arrival, at_ms(100));
}

TEST(LinkModel, QueueLimitDropsTail) {
  LinkConfig c;
  c.rate_bps = 80'000;
  c.queue_limit_bytes = 2500;
  c.overhead_bytes = 0;
  LinkModel m(1, c);
  EXPECT_FALSE(m.admit(at_ms(0), 1000).drop);
  EXPECT_FALSE(m.admit(at_ms(0), 1000).drop);
  auto third = m.admit(at_ms(0), 1000);
  ASSERT_TRUE(third.drop);
  EXPECT_EQ(*third.drop, DropReason::queue);
  EXPECT_EQ(m.backlog_bytes(at_ms(0)), 2000u);
  // Once the first packet is out there is room again.
  EXPECT_EQ(m.backlog_bytes(at_ms(100)), 1000u);
  EXPECT_FALSE(m.admit(at_ms(100), 1000).drop);
  EXPECT_EQ(m.counters().dropped(DropReason::queue), 1u);
  EXPECT_EQ(m.counters().packets_sent, 4u);
}

TEST(LinkModel, OutagesNestAndDropOnEntryAndExit) {
  LinkModel m(1, LinkConfig{});
  m.begin_outage();
  m.begin_outage();
  EXPECT_EQ(*m.admit(at_ms(0), 100).drop, DropReason::outage);
  m.end_outage();
  EXPECT_TRUE(m.is_down());
  EXPECT_FALSE(m.leave(100));
  m.end_outage();
  m.end_outage();  // one too many does not make the link "more up"
  EXPECT_FALSE(m.is_down());
  EXPECT_FALSE(m.admit(at_ms(0), 100).drop);
  EXPECT_TRUE(m.leave(100));
  EXPECT_EQ(m.counters().dropped(DropReason::outage), 2u);
  EXPECT_EQ(m.counters().packets_delivered, 1u);
}

TEST(LinkModel, JitterKeepsFifoOrder) {
  LinkConfig c;
  c.delay = 10ms;
  c.jitter = 200ms;
  LinkModel m(7, c);
  Instant last;
  for (int i = 0; i < 1000; ++i) {
    auto a = m.admit(at_ms(i), 100);
    ASSERT_FALSE(a.drop);
    EXPECT_GE(a.arrival, at_ms(i + 10));
    EXPECT_LE(a.arrival, at_ms(i + 210));
    EXPECT_GE(a.arrival, last);
    last = a.arrival;
  }
}

TEST(LinkModel, ReorderingLetsLaterPacketsPass) {
  LinkConfig c;
  c.delay = 10ms;
  c.reorder = 0.2;
  c.reorder_delay = 30ms;
  LinkModel m(3, c);
  int overtaken = 0;
  Instant prev;
  for (int i = 0; i < 1000; ++i) {
    auto a = m.admit(at_ms(i * 5), 100);
    if (i > 0 && a.arrival < prev) ++overtaken;
    prev = a.arrival;
  }
  EXPECT_GT(overtaken, 100);
  EXPECT_GT(m.counters().reordered, 120u);
  EXPECT_LT(m.counters().reordered, 280u);
}

TEST(LinkModel, DuplicatesArriveWithTheOriginal) {
  LinkConfig c;
  c.delay = 20ms;
  c.duplicate = 1;
  LinkModel m(1, c);
  auto a = m.admit(at_ms(0), 100);
  ASSERT_TRUE(a.duplicate_arrival);
  EXPECT_EQ(*a.duplicate_arrival, a.arrival);
  EXPECT_EQ(m.counters().duplicated, 1u);
}

TEST(LinkModel, GilbertElliottLosesInBursts) {
  LinkConfig c;
  c.burst_loss = {.p_good_to_bad = 0.02, .p_bad_to_good = 0.25, .loss_in_bad = 1};
  LinkModel m(11, c);
  int lost = 0, bursts = 0;
  bool previous_lost = false;
  constexpr int kPackets = 20000;
  for (int i = 0; i < kPackets; ++i) {
    bool l = m.admit(at_ms(i), 100).drop.has_value();
    lost += l;
    if (l && !previous_lost) ++bursts;
    previous_lost = l;
  }
  // Long-run bad share 0.02 / 0.27 = 7.4 %; mean burst 1 / 0.25 = 4 packets.
  double share = static_cast<double>(lost) / kPackets;
  EXPECT_GT(share, 0.05);
  EXPECT_LT(share, 0.10);
  double mean_burst = static_cast<double>(lost) / bursts;
  EXPECT_GT(mean_burst, 3.0);
  EXPECT_LT(mean_burst, 5.0);
}

TEST(LinkModel, SameSeedSameDecisions) {
  LinkConfig c;
  c.rate_bps = 1'000'000;
  c.jitter = 30ms;
  c.loss = 0.1;
  c.reorder = 0.05;
  c.duplicate = 0.05;
  auto run = [&](uint64_t seed) {
    LinkModel m(seed, c);
    std::vector<int64_t> out;
    for (int i = 0; i < 500; ++i) {
      auto a = m.admit(at_ms(i), 500);
      out.push_back(a.drop ? -1 : a.arrival.us());
      out.push_back(a.duplicate_arrival ? a.duplicate_arrival->us() : -2);
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(LinkModel, NewConfigAppliesToLaterPackets) {
  LinkConfig c;
  c.delay = 100ms;
  LinkModel m(1, c);
  EXPECT_EQ(m.admit(at_ms(0), 100).arrival, at_ms(100));
  c.delay = 10ms;
  m.set_config(c);
  // FIFO: the faster link does not let the new packet pass the one still in flight.
  EXPECT_EQ(m.admit(at_ms(1), 100).arrival, at_ms(100));
  EXPECT_EQ(m.admit(at_ms(200), 100).arrival, at_ms(210));
  m.set_rate(8'000);  // 100 bytes + 28 overhead = 128 ms
  EXPECT_EQ(m.admit(at_ms(300), 100).arrival, at_ms(438));
}

}  // namespace
}  // namespace cellrtc::sim
