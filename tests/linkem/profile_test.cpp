// The link profile format: every shipped profile parses and says what its comments claim, and
// a bad file is refused with its file:line and the key at fault.
#include "tools/linkem/profile.h"

#include <gtest/gtest.h>

#include <string>
#include "support/build_paths.h"

namespace cellrtc::linkem {
namespace {

using namespace std::chrono_literals;

std::string profile_path(const std::string& name) {
  return cellrtc::test_paths::source_dir() + "/tools/linkem/profiles/" + name + ".toml";
}

Profile parse_ok(const std::string& text) {
  auto p = parse_profile(text, "test.toml");
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : Profile{};
}

std::string parse_error(const std::string& text) {
  auto p = parse_profile(text, "test.toml");
  EXPECT_FALSE(p) << "accepted:\n" << text;
  return p ? "" : p.error().message;
}

constexpr const char* kMinimal = "[up]\n[down]\n";

TEST(Profile, ReadsEveryKeyOfADirection) {
  Profile p = parse_ok(R"(name = "x"
description = "d"
[up]
rate_kbps = 40
delay_ms = 405.5
jitter_ms = 150
loss = 0.03
queue_bytes = 16000
reorder = 0.01
reorder_delay_ms = 20
duplicate = 0.002
overhead_bytes = 8
[up.gilbert_elliott]
p_good_to_bad = 0.01
p_bad_to_good = 0.25
loss_in_bad = 0.5
loss_in_good = 0.001
[down]
rate_kbps = 1.5
)");
  EXPECT_EQ(p.name, "x");
  EXPECT_EQ(p.description, "d");
  EXPECT_EQ(p.up.rate_bps, 40'000u);
  EXPECT_EQ(p.up.delay, Duration(405'500));
  EXPECT_EQ(p.up.jitter, 150ms);
  EXPECT_DOUBLE_EQ(p.up.loss, 0.03);
  EXPECT_EQ(p.up.queue_limit_bytes, 16000u);
  EXPECT_DOUBLE_EQ(p.up.reorder, 0.01);
  EXPECT_EQ(p.up.reorder_delay, 20ms);
  EXPECT_DOUBLE_EQ(p.up.duplicate, 0.002);
  EXPECT_EQ(p.up.overhead_bytes, 8u);
  EXPECT_DOUBLE_EQ(p.up.burst_loss.p_good_to_bad, 0.01);
  EXPECT_DOUBLE_EQ(p.up.burst_loss.p_bad_to_good, 0.25);
  EXPECT_DOUBLE_EQ(p.up.burst_loss.loss_in_bad, 0.5);
  EXPECT_DOUBLE_EQ(p.up.burst_loss.loss_in_good, 0.001);
  EXPECT_EQ(p.down.rate_bps, 1500u);
  // Unlisted keys: an unlimited, lossless link; TUN packets are whole IP packets.
  EXPECT_EQ(p.down.delay, 0ms);
  EXPECT_EQ(p.down.overhead_bytes, 0u);
  EXPECT_EQ(p.down.queue_limit_bytes, 0u);
}

TEST(Profile, ReadsTheScheduleInTimeOrder) {
  Profile p = parse_ok(R"([up]
rate_kbps = 1000
delay_ms = 20
[down]
rate_kbps = 2000
[[schedule]]
at_s = 50
action = "outage"
duration_s = 10
[[schedule]]
at_s = 20
action = "rate"
direction = "up"
rate_kbps = 500
[[schedule]]
at_s = 60.5
action = "config"
direction = "down"
values = { rate_kbps = 240, gilbert_elliott = { p_good_to_bad = 0.1 } }
)");
  ASSERT_EQ(p.schedule.size(), 3u);
  EXPECT_EQ(p.schedule[0].action, ScheduleAction::rate);
  EXPECT_EQ(p.schedule[0].at, 20s);
  EXPECT_EQ(p.schedule[0].direction, Directions::up);
  EXPECT_EQ(p.schedule[0].rate_bps, 500'000u);
  EXPECT_EQ(p.schedule[1].action, ScheduleAction::outage);
  EXPECT_EQ(p.schedule[1].direction, Directions::both);
  EXPECT_EQ(p.schedule[1].duration, 10s);
  const ScheduledChange& c = p.schedule[2];
  EXPECT_EQ(c.action, ScheduleAction::config);
  EXPECT_EQ(c.at, Duration(60'500'000));
  EXPECT_TRUE(c.applies_to(Directions::down));
  EXPECT_FALSE(c.applies_to(Directions::up));
  EXPECT_EQ(c.down.rate_bps, 240'000u);
  EXPECT_DOUBLE_EQ(c.down.burst_loss.p_good_to_bad, 0.1);
  // Keys the change does not list keep the direction's own values.
  EXPECT_EQ(c.up.delay, 20ms);
}

TEST(Profile, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(parse_error("[up]\nloss = 1.5\n[down]\n"),
            "test.toml:2: up.loss: must be between 0 and 1");
  EXPECT_EQ(parse_error("[up]\n[down]\nrate_kbs = 5\n"), "test.toml:3: down.rate_kbs: unknown key");
  EXPECT_EQ(parse_error("[up]\ndelay_ms = \"20\"\n[down]\n"),
            "test.toml:2: up.delay_ms: expected a number");
  EXPECT_EQ(parse_error("[up]\nqueue_bytes = 1.5\n[down]\n"),
            "test.toml:2: up.queue_bytes: expected an integer");
  EXPECT_EQ(parse_error("[up]\nqueue_bytes = 999999999999\n[down]\n"),
            "test.toml:2: up.queue_bytes: must be between 0 and 16777216");
  EXPECT_EQ(parse_error("[up]\n[up.gilbert_elliott]\np_gb = 0.1\n[down]\n"),
            "test.toml:3: up.gilbert_elliott.p_gb: unknown key");
  EXPECT_EQ(parse_error("[down]\n"), "test.toml: [up] is missing");
  EXPECT_EQ(parse_error("up = 3\n[down]\n"), "test.toml:1: up: expected a table");
  EXPECT_EQ(parse_error("speed = 3\n[up]\n[down]\n"), "test.toml:1: speed: unknown key");
  // TOML syntax errors carry line and column.
  std::string e = parse_error("[up]\nrate_kbps = = 3\n[down]\n");
  EXPECT_EQ(e.rfind("test.toml:2:", 0), 0u) << e;
}

TEST(Profile, ScheduleErrorsNameTheEntry) {
  std::string base = kMinimal;
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = 1\naction = \"explode\"\n"),
            "test.toml:5: schedule[0].action: expected \"outage\", \"rate\" or \"config\"");
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = 1\naction = \"outage\"\n"),
            "test.toml:3: schedule[0]: duration_s is missing");
  EXPECT_EQ(parse_error(base + "[[schedule]]\naction = \"rate\"\nrate_kbps = 5\n"),
            "test.toml:3: schedule[0]: at_s is missing");
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = 1\naction = \"rate\"\nduration_s = 5\n"),
            "test.toml:6: schedule[0].duration_s: not used by action \"rate\"");
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = 1\naction = \"outage\"\nduration_s = 1\n"
                               "direction = \"sideways\"\n"),
            "test.toml:7: schedule[0].direction: expected \"up\", \"down\" or \"both\"");
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = 1\naction = \"config\"\n"
                               "values = { loss = 2 }\n"),
            "test.toml:6: schedule[0].values.loss: must be between 0 and 1");
  EXPECT_EQ(parse_error(base + "[[schedule]]\nat_s = -1\naction = \"rate\"\nrate_kbps = 1\n"),
            "test.toml:4: schedule[0].at_s: must be between 0 and 604800");
  EXPECT_EQ(parse_error("schedule = 3\n" + base),
            "test.toml:1: schedule: expected [[schedule]] tables");
}

TEST(Profile, BadFileIsAClearError) {
  auto p = load_profile("/nonexistent/linkem.toml");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "/nonexistent/linkem.toml: cannot open");
}

struct Shipped {
  const char* name;
  uint64_t up_bps;
  uint64_t down_bps;
};

// The figures each profile's comments give (and docs/lab.md lists).
TEST(Profile, ShippedProfilesParseWithTheirStatedRates) {
  for (Shipped s :
       {Shipped{"gprs", 40'000, 80'000}, Shipped{"edge", 200'000, 240'000},
        Shipped{"umts", 128'000, 384'000}, Shipped{"hspa", 1'500'000, 3'600'000},
        Shipped{"lte-cat1", 5'000'000, 10'000'000}, Shipped{"esp32-ppp", 1'000'000, 2'000'000},
        Shipped{"lte-degrading", 5'000'000, 10'000'000}}) {
    SCOPED_TRACE(s.name);
    auto p = load_profile(profile_path(s.name));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->name, s.name);
    EXPECT_EQ(p->up.rate_bps, s.up_bps);
    EXPECT_EQ(p->down.rate_bps, s.down_bps);
    EXPECT_GT(p->up.queue_limit_bytes, 0u);
    EXPECT_GT(p->down.queue_limit_bytes, 0u);
    EXPECT_GT(p->up.delay, 0ms);
  }
}

TEST(Profile, LteDegradingHalvesThenStopsThenFallsBackToEdge) {
  auto p = load_profile(profile_path("lte-degrading"));
  ASSERT_TRUE(p) << p.error().message;
  auto edge = load_profile(profile_path("edge"));
  ASSERT_TRUE(edge) << edge.error().message;
  ASSERT_EQ(p->schedule.size(), 5u);
  EXPECT_EQ(p->schedule[0].at, 20s);
  EXPECT_EQ(p->schedule[0].rate_bps, p->up.rate_bps / 2);
  EXPECT_EQ(p->schedule[1].rate_bps, p->down.rate_bps / 2);
  EXPECT_EQ(p->schedule[2].action, ScheduleAction::outage);
  EXPECT_EQ(p->schedule[2].at, 50s);
  EXPECT_EQ(p->schedule[2].duration, 10s);
  EXPECT_EQ(p->schedule[3].at, 60s);
  EXPECT_EQ(p->schedule[3].up, edge->up);
  EXPECT_EQ(p->schedule[4].down, edge->down);
}

}  // namespace
}  // namespace cellrtc::linkem
