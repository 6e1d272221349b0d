// The emulator's direction (the model on a clock, packets held until due) and its schedule,
// driven with made-up instants.
#include "tools/linkem/timed_link.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/linkem/schedule.h"

namespace cellrtc::linkem {
namespace {

using namespace std::chrono_literals;

Instant at_ms(int64_t ms) {
  return Instant::from_us(ms * 1000);
}

Bytes packet(uint8_t tag, size_t size = 100) {
  return Bytes(size, tag);
}

std::vector<uint8_t> release(TimedLink& link, Instant now, bool accept = true) {
  std::vector<uint8_t> tags;
  link.release_due(now, [&](ByteView p) {
    tags.push_back(p[0]);
    return accept;
  });
  return tags;
}

TEST(TimedLink, HoldsPacketsUntilTheirArrival) {
  sim::LinkConfig c = default_link_config();
  c.rate_bps = 8000;  // 100 bytes = 100 ms
  c.delay = 50ms;
  TimedLink link(1, c);
  link.offer(at_ms(0), packet(1));
  link.offer(at_ms(0), packet(2));
  EXPECT_EQ(link.next_due(), at_ms(150));
  EXPECT_TRUE(release(link, at_ms(149)).empty());
  EXPECT_EQ(release(link, at_ms(150)), std::vector<uint8_t>{1});
  EXPECT_EQ(link.next_due(), at_ms(250));
  EXPECT_EQ(release(link, at_ms(1000)), std::vector<uint8_t>{2});
  EXPECT_FALSE(link.next_due());
  EXPECT_EQ(link.model().counters().packets_delivered, 2u);
}

TEST(TimedLink, ReleasesInArrivalOrderWithReordering) {
  sim::LinkConfig c = default_link_config();
  c.delay = 10ms;
  c.reorder = 0.3;
  c.reorder_delay = 25ms;
  TimedLink link(5, c);
  for (uint8_t i = 0; i < 100; ++i)
    link.offer(at_ms(i), packet(i));
  std::vector<uint8_t> out = release(link, at_ms(1000));
  ASSERT_EQ(out.size(), 100u);
  bool some_out_of_order = false;
  for (size_t i = 1; i < out.size(); ++i)
    some_out_of_order |= out[i] < out[i - 1];
  EXPECT_TRUE(some_out_of_order);
}

TEST(TimedLink, HardCapOnHeldPackets) {
  sim::LinkConfig c = default_link_config();
  c.delay = 1s;
  TimedLink link(1, c, HeldLimits{.max_packets = 3, .max_bytes = 250});
  for (uint8_t i = 0; i < 5; ++i)
    link.offer(at_ms(0), packet(i));
  EXPECT_EQ(link.held_packets(), 2u);  // the byte cap (250) binds first
  EXPECT_EQ(link.held_bytes(), 200u);
  EXPECT_EQ(link.counters().dropped_held_limit, 3u);
  // What was refused never used the model.
  EXPECT_EQ(link.model().counters().packets_sent, 2u);
}

TEST(TimedLink, DuplicatesAreWrittenTwice) {
  sim::LinkConfig c = default_link_config();
  c.duplicate = 1;
  TimedLink link(1, c);
  link.offer(at_ms(0), packet(7));
  EXPECT_EQ(release(link, at_ms(0)), (std::vector<uint8_t>{7, 7}));
}

TEST(TimedLink, OutageDropsPacketsInFlightAndFailedWritesAreCounted) {
  sim::LinkConfig c = default_link_config();
  c.delay = 100ms;
  TimedLink link(1, c);
  link.offer(at_ms(0), packet(1));
  link.model().begin_outage();
  link.offer(at_ms(10), packet(2));
  EXPECT_TRUE(release(link, at_ms(200)).empty());
  link.model().end_outage();
  EXPECT_EQ(link.model().counters().dropped(sim::DropReason::outage), 2u);
  link.offer(at_ms(300), packet(3));
  EXPECT_EQ(release(link, at_ms(400), false), std::vector<uint8_t>{3});
  EXPECT_EQ(link.counters().write_failed, 1u);
}

TEST(ScheduleRunner, AppliesChangesAtTheirTimeFromStart) {
  Profile p;
  p.up = default_link_config();
  p.down = default_link_config();
  ScheduledChange outage;
  outage.at = 2s;
  outage.action = ScheduleAction::outage;
  outage.direction = Directions::up;
  outage.duration = 1s;
  ScheduledChange rate;
  rate.at = 1s;
  rate.action = ScheduleAction::rate;
  rate.rate_bps = 64'000;
  ScheduledChange config;
  config.at = 4s;
  config.action = ScheduleAction::config;
  config.direction = Directions::down;
  config.down = p.down;
  config.down.delay = 300ms;
  p.schedule = {rate, outage, config};

  sim::LinkModel up(1, p.up), down(2, p.down);
  Instant start = at_ms(10'000);
  ScheduleRunner runner(p.schedule, start);
  EXPECT_EQ(runner.next_at(), at_ms(11'000));
  EXPECT_TRUE(runner.apply_due(at_ms(10'999), up, down).empty());
  auto lines = runner.apply_due(at_ms(11'000), up, down);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "1.000 s: rate 64.0 kbit/s (both)");
  EXPECT_EQ(up.config().rate_bps, 64'000u);
  EXPECT_EQ(down.config().rate_bps, 64'000u);
  EXPECT_EQ(runner.apply_due(at_ms(12'500), up, down).size(), 1u);
  EXPECT_TRUE(up.is_down());
  EXPECT_FALSE(down.is_down());
  EXPECT_EQ(runner.next_at(), at_ms(13'000));
  EXPECT_EQ(runner.apply_due(at_ms(20'000), up, down).size(), 2u);
  EXPECT_FALSE(up.is_down());
  EXPECT_EQ(down.config().delay, 300ms);
  EXPECT_EQ(down.config().rate_bps, 0u);  // a config change replaces the whole configuration
  EXPECT_FALSE(runner.next_at());
}

}  // namespace
}  // namespace cellrtc::linkem
