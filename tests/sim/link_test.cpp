// Measures that each link property does what LinkConfig says, with tolerances where it is
// random.
#include <algorithm>
#include <cmath>

#include "sim_test_util.h"

namespace cellrtc::sim {
namespace {

using namespace std::chrono_literals;
using testing::at_s;
using testing::seconds_of;
using testing::TwoHosts;

// Payload that makes 1000 bytes on the wire with the default 28-byte IPv4+UDP overhead.
constexpr size_t kPayload = 972;

TEST(Link, DeliveryTakesDelayPlusSerialization) {
  LinkConfig c;
  c.rate_bps = 100'000;
  c.delay = 50ms;
  TwoHosts t(c);
  // Two back to back: the second waits for the first to be serialized (8000 bits = 80 ms).
  t.a.send_stamped(t.net.now(), t.a_addr, t.b_addr, kPayload);
  t.a.send_stamped(t.net.now(), t.a_addr, t.b_addr, kPayload);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(1s).ok());
  ASSERT_EQ(t.b.received().size(), 2u);
  EXPECT_EQ(t.b.received()[0].at, Instant() + 130ms);
  EXPECT_EQ(t.b.received()[1].at, Instant() + 210ms);
  EXPECT_EQ(t.link().counters().packets_delivered, 2u);
  EXPECT_EQ(t.link().counters().bytes_delivered, 2 * kPayload);
}

TEST(Link, UnlimitedRateHasOnlyDelay) {
  LinkConfig c;
  c.delay = 40ms;
  TwoHosts t(c);
  for (int i = 0; i < 5; ++i)
    t.a.send_stamped(t.net.now(), t.a_addr, t.b_addr, 1200);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(1s).ok());
  ASSERT_EQ(t.b.received().size(), 5u);
  for (const Received& r : t.b.received())
    EXPECT_EQ(r.at, Instant() + 40ms);
}

// Offered 150 kbit/s into 100 kbit/s with a deep queue: what comes out is the link rate.
TEST(Link, ThroughputMatchesRate) {
  LinkConfig c;
  c.rate_bps = 100'000;
  c.delay = 20ms;
  TwoHosts t(c);
  // 1000 wire bytes every 53.33 ms = 150 kbit/s.
  t.a.send_periodically(t.a_addr, t.b_addr, kPayload, Duration(53'333), Instant(), at_s(30));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_until(at_s(30)).ok());
  uint64_t bits = 0;
  for (const Received& r : t.b.received()) {
    if (r.at >= at_s(5) && r.at < at_s(25)) bits += (r.data.size() + 28) * 8;
  }
  double rate = static_cast<double>(bits) / 20.0;
  std::printf("measured %.0f bit/s through a 100 kbit/s link\n", rate);
  EXPECT_NEAR(rate, 100'000, 2'000);
  EXPECT_EQ(t.link().counters().dropped_total(), 0u);
}

TEST(Link, QueueLimitDropsTail) {
  LinkConfig c;
  c.rate_bps = 100'000;
  c.queue_limit_bytes = 10'000;  // ten 1000-byte packets, the one being sent included
  TwoHosts t(c);
  for (int i = 0; i < 100; ++i)
    t.a.send_stamped(t.net.now(), t.a_addr, t.b_addr, kPayload);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(5s).ok());
  EXPECT_EQ(t.b.received().size(), 10u);
  EXPECT_EQ(t.link().counters().dropped(DropReason::queue), 90u);
  EXPECT_EQ(t.net.dropped(DropReason::queue), 90u);
  // The first ten were kept, not the last ten.
  EXPECT_EQ(*t.b.received().back().sequence(), 9u);

  // Drained, the queue takes packets again.
  t.a.send_stamped(t.net.now(), t.a_addr, t.b_addr, kPayload);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(1s).ok());
  EXPECT_EQ(t.b.received().size(), 11u);
}

TEST(Link, RandomLossRateMatchesConfig) {
  LinkConfig c;
  c.loss = 0.1;
  TwoHosts t(c, 7);
  constexpr int kCount = 20'000;
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 1ms, Instant(), Instant() + kCount * 1ms);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(30s).ok());
  double measured = 1.0 - static_cast<double>(t.b.received().size()) / kCount;
  std::printf("configured loss 0.100, measured %.4f\n", measured);
  EXPECT_NEAR(measured, 0.1, 0.01);
  EXPECT_EQ(t.link().counters().dropped(DropReason::loss), kCount - t.b.received().size());
}

// Lengths of runs of consecutive missing sequence numbers.
std::vector<int> loss_bursts(const std::vector<Received>& received, uint32_t sent) {
  std::vector<int> bursts;
  uint32_t expected = 0;
  auto close = [&](uint32_t next) {
    if (next > expected) bursts.push_back(static_cast<int>(next - expected));
    expected = next + 1;
  };
  for (const Received& r : received)
    close(*r.sequence());
  close(sent);
  return bursts;
}

double mean(const std::vector<int>& v) {
  double sum = 0;
  for (int x : v)
    sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

TEST(Link, GilbertElliottLossComesInBursts) {
  LinkConfig c;
  c.burst_loss = {
      .p_good_to_bad = 0.01, .p_bad_to_good = 0.25, .loss_in_bad = 1, .loss_in_good = 0};
  TwoHosts t(c, 11);
  constexpr uint32_t kCount = 100'000;
  t.a.send_periodically(t.a_addr, t.b_addr, 20, 1ms, Instant(), Instant() + kCount * 1ms);
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(120s).ok());

  auto bursts = loss_bursts(t.b.received(), kCount);
  double loss = 1.0 - static_cast<double>(t.b.received().size()) / kCount;
  std::printf("GE: loss %.4f (expected %.4f), mean burst %.2f (expected 4), %zu bursts\n", loss,
              0.01 / 0.26, mean(bursts), bursts.size());
  EXPECT_NEAR(mean(bursts), 1 / 0.25, 0.4);
  EXPECT_NEAR(loss, 0.01 / 0.26, 0.006);

  // Independent loss at the same rate gives bursts of about one packet.
  LinkConfig r;
  r.loss = loss;
  TwoHosts u(r, 11);
  u.a.send_periodically(u.a_addr, u.b_addr, 20, 1ms, Instant(), Instant() + kCount * 1ms);
  u.net.wake(u.a);
  ASSERT_TRUE(u.net.run_for(120s).ok());
  double independent = mean(loss_bursts(u.b.received(), kCount));
  std::printf("independent loss at the same rate: mean burst %.2f\n", independent);
  EXPECT_LT(independent, 1.2);
}

TEST(Link, JitterIsBoundedAndKeepsOrder) {
  LinkConfig c;
  c.delay = 50ms;
  c.jitter = 30ms;
  TwoHosts t(c, 3);
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 5ms, Instant(), at_s(20));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(21s).ok());
  ASSERT_EQ(t.b.received().size(), 4000u);
  auto delays = t.delays();
  auto [lo, hi] = std::minmax_element(delays.begin(), delays.end());
  std::printf("delay with 30 ms jitter: %.4f .. %.4f s\n", *lo, *hi);
  EXPECT_GE(*lo, 0.050);
  EXPECT_LE(*hi, 0.080);
  EXPECT_GT(*hi - *lo, 0.020);  // the jitter is really there
  for (size_t i = 1; i < t.b.received().size(); ++i)
    ASSERT_EQ(*t.b.received()[i].sequence(), *t.b.received()[i - 1].sequence() + 1);
  EXPECT_EQ(t.link().counters().reordered, 0u);
}

TEST(Link, ReordersWhenAsked) {
  LinkConfig c;
  c.delay = 30ms;
  c.reorder = 0.1;
  c.reorder_delay = 20ms;
  TwoHosts t(c, 5);
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 5ms, Instant(), at_s(10));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(11s).ok());
  ASSERT_EQ(t.b.received().size(), 2000u);  // reordered, not lost
  int late = 0;
  uint32_t highest = 0;
  for (const Received& r : t.b.received()) {
    if (*r.sequence() < highest) ++late;
    highest = std::max(highest, *r.sequence());
  }
  std::printf("reorder 0.1: %d of 2000 arrived after a later packet\n", late);
  EXPECT_NEAR(late, 200, 50);
  EXPECT_EQ(static_cast<uint64_t>(late), t.link().counters().reordered);
}

TEST(Link, Duplicates) {
  LinkConfig c;
  c.delay = 10ms;
  c.duplicate = 0.05;
  TwoHosts t(c, 9);
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 1ms, Instant(), at_s(10));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(11s).ok());
  auto extra = static_cast<int64_t>(t.b.received().size()) - 10'000;
  std::printf("duplicate 0.05: %lld extra of 10000\n", static_cast<long long>(extra));
  EXPECT_NEAR(static_cast<double>(extra), 500, 80);
  EXPECT_EQ(static_cast<uint64_t>(extra), t.link().counters().duplicated);
}

TEST(Link, OutageDropsThenRecovers) {
  LinkConfig c;
  c.delay = 50ms;
  TwoHosts t(c);
  t.link().schedule_outage(at_s(3), 2s);
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 10ms, Instant(), at_s(10));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(11s).ok());
  for (const Received& r : t.b.received()) {
    EXPECT_FALSE(r.at >= at_s(3) && r.at < at_s(5)) << "arrived during the outage";
    EXPECT_FALSE(*r.sent_at() >= at_s(3) && *r.sent_at() < at_s(5)) << "sent during the outage";
  }
  // 200 sent while down, plus the 5 in flight when it went down.
  EXPECT_EQ(t.link().counters().dropped(DropReason::outage), 205u);
  EXPECT_EQ(t.b.received().size(), 1000u - 205u);
  // Everything sent after the outage arrives.
  EXPECT_EQ(*t.b.received().back().sequence(), 999u);
}

TEST(Link, RateChangeTakesEffect) {
  LinkConfig c;
  c.rate_bps = 100'000;
  c.queue_limit_bytes = 5'000;
  TwoHosts t(c);
  t.link().schedule_rate(at_s(10), 50'000);
  // 200 kbit/s offered: the link stays saturated at whatever its rate is.
  t.a.send_periodically(t.a_addr, t.b_addr, kPayload, 40ms, Instant(), at_s(20));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(21s).ok());
  auto rate_between = [&](double from, double to) {
    uint64_t bits = 0;
    for (const Received& r : t.b.received())
      if (r.at >= at_s(from) && r.at < at_s(to)) bits += (r.data.size() + 28) * 8;
    return static_cast<double>(bits) / (to - from);
  };
  double before = rate_between(2, 9);
  double after = rate_between(12, 19);
  std::printf("rate before %.0f, after %.0f bit/s\n", before, after);
  EXPECT_NEAR(before, 100'000, 3'000);
  EXPECT_NEAR(after, 50'000, 2'000);
  EXPECT_GT(t.link().counters().dropped(DropReason::queue), 0u);
}

TEST(Link, ScheduledConfigReplacesEverything) {
  LinkConfig c;
  c.delay = 10ms;
  TwoHosts t(c);
  LinkConfig slow;
  slow.delay = 300ms;
  t.link().schedule_config(at_s(1), slow);
  t.a.send_periodically(t.a_addr, t.b_addr, 100, 100ms, Instant(), at_s(2));
  t.net.wake(t.a);
  ASSERT_TRUE(t.net.run_for(3s).ok());
  auto delays = t.delays();
  ASSERT_EQ(delays.size(), 20u);
  EXPECT_DOUBLE_EQ(delays[9], 0.010);
  EXPECT_DOUBLE_EQ(delays[10], 0.300);
}

}  // namespace
}  // namespace cellrtc::sim
