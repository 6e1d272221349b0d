// Connection supervisor transitions under virtual time against the simulated modem, wired
// in-process. The same scenarios through a real pseudo-terminal are in
// supervisor_pty_test.cpp.
#include <gtest/gtest.h>

#include "modem/supervisor.h"
#include "tests/modem/supervisor_bench.h"

namespace cellrtc::modem {
namespace {

using testing::SupervisorBench;

SupervisorConfig test_config() {
  SupervisorConfig c;
  c.apn = "internet";
  c.heartbeat_timeout = seconds(20);
  return c;
}

modemsim::Scenario scenario(const char* name) {
  auto s = modemsim::scenario_by_name(name);
  EXPECT_TRUE(s) << name;
  return s ? *s : modemsim::Scenario{};
}

bool online(SupervisorBench& b) {
  return b.sup().state() == SupervisorState::online;
}

TEST(BackoffTest, DoublesUpToItsCap) {
  Backoff b{seconds(2), seconds(10)};
  EXPECT_EQ(b.next(), seconds(2));
  EXPECT_EQ(b.next(), seconds(4));
  EXPECT_EQ(b.next(), seconds(8));
  EXPECT_EQ(b.next(), seconds(10));
  EXPECT_EQ(b.next(), seconds(10));
  b.reset();
  EXPECT_EQ(b.next(), seconds(2));
}

TEST(SupervisorTest, NormalBringUpWalksEveryStep) {
  SupervisorBench b(scenario("normal"), test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  std::vector<SupervisorState> path;
  for (const auto& t : b.transitions())
    path.push_back(t.to);
  EXPECT_EQ(path, (std::vector<SupervisorState>{
                      SupervisorState::syncing, SupervisorState::configuring,
                      SupervisorState::checking_sim, SupervisorState::registering,
                      SupervisorState::attaching, SupervisorState::online}));
  const auto& t = b.sup().telemetry();
  EXPECT_EQ(t.operator_name, "20205");
  EXPECT_EQ(t.technology, "LTE");
  EXPECT_EQ(t.signal_dbm, -73);
  EXPECT_EQ(t.registration, a76xx::RegStatus::home);
  EXPECT_EQ(t.connects, 1u);
  EXPECT_EQ(t.reconnects, 0u);
  EXPECT_EQ(b.data_mode_starts(), 1);
  // Registration takes the simulated 4 s; the rest is command round trips.
  EXPECT_GE(b.elapsed(), seconds(4));
  EXPECT_LE(b.elapsed(), seconds(8));
  b.run_for(seconds(60));
  EXPECT_TRUE(online(b));  // PPP frames keep the heartbeat fed
  EXPECT_EQ(b.sup().telemetry().uptime(b.now()),
            b.now() - *b.first_time_in(SupervisorState::online));
}

TEST(SupervisorTest, WrongPinIsTriedOnceThenBlocks) {
  auto sc = scenario("pin_required");
  auto cfg = test_config();
  cfg.pin = "0000";
  SupervisorBench b(sc, cfg, false);
  b.start();
  ASSERT_TRUE(
      b.run_until([&] { return b.sup().state() == SupervisorState::sim_blocked; }, seconds(30)));
  EXPECT_EQ(b.reason_into(SupervisorState::sim_blocked), Reason::pin_rejected);
  const auto commands = b.sim().stats().commands;
  b.run_for(seconds(3600));
  EXPECT_EQ(b.sup().state(), SupervisorState::sim_blocked);
  EXPECT_EQ(b.sim().stats().commands, commands);  // nothing more: the PUK counter is safe
}

TEST(SupervisorTest, PinRequiredWithoutPinBacksOffLong) {
  SupervisorBench b(scenario("pin_required"), test_config(), false);
  b.start();
  ASSERT_TRUE(
      b.run_until([&] { return b.sup().state() == SupervisorState::backoff; }, seconds(30)));
  EXPECT_EQ(b.sup().telemetry().last_failure, Reason::pin_required);
  EXPECT_GE(*b.sup().next_timeout() - b.now(), seconds(300));
}

TEST(SupervisorTest, DeadLinkIsNoticedAndRedialled) {
  SupervisorBench b(scenario("normal"), test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  const Instant up = b.now();
  b.app_alive = false;  // PPP frames arrive but the application hears nothing
  ASSERT_TRUE(
      b.run_until([&] { return b.sup().state() == SupervisorState::leaving_data; }, seconds(60)));
  EXPECT_EQ(b.now() - up, seconds(20));
  EXPECT_EQ(b.reason_into(SupervisorState::leaving_data), Reason::link_dead);
  b.app_alive = true;
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  EXPECT_EQ(b.sim().stats().escapes, 1u);
  EXPECT_EQ(b.sim().stats().hang_ups, 1u);
  EXPECT_EQ(b.sup().telemetry().reconnects, 1u);
}

TEST(SupervisorTest, UsbDisconnectWaitsThenResynchronises) {
  SupervisorBench b(scenario("normal"), test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  b.usb_disconnected();
  EXPECT_EQ(b.sup().state(), SupervisorState::usb_lost);
  EXPECT_EQ(b.data_mode_stops(), 1);
  b.run_for(seconds(5));
  EXPECT_EQ(b.sup().state(), SupervisorState::usb_lost);
  b.usb_connected();
  // The modem kept the call up: AT goes nowhere, +++ brings it back, ATH, dial again.
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(60)));
  EXPECT_TRUE(b.reached(SupervisorState::recovering));
  EXPECT_EQ(b.reason_into(SupervisorState::configuring), Reason::modem_answered);
  EXPECT_EQ(b.sup().telemetry().reconnects, 1u);
}

TEST(SupervisorTest, UsbThatNeverComesBackGetsAHardReset) {
  SupervisorBench b(scenario("normal"), test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  b.usb_disconnected();
  ASSERT_TRUE(
      b.run_until([&] { return b.sup().state() == SupervisorState::resetting; }, seconds(60)));
  EXPECT_EQ(b.reason_into(SupervisorState::resetting), Reason::usb_timeout);
  EXPECT_EQ(b.sup().telemetry().hard_resets, 1u);
}

TEST(SupervisorTest, RebootWhileRegisteringStartsOver) {
  auto sc = scenario("normal");
  sc.registration_delay = seconds(30);
  sc.reboot_at = seconds(10);
  sc.boot_time = seconds(5);
  SupervisorBench b(sc, test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(120)));
  // Rebooted at 10 s, ready at 15 s: the polls in between time out, the supervisor
  // resynchronises, and *ATREADY (or the first AT it answers) starts the configuration over.
  const auto again = b.first_time_in(SupervisorState::configuring, Instant{} + seconds(10));
  ASSERT_TRUE(again);
  EXPECT_GE(*again, Instant{} + seconds(15));
  EXPECT_LE(*again, Instant{} + seconds(17));
  EXPECT_EQ(b.sim().stats().boots, 2u);
  EXPECT_EQ(b.sup().telemetry().hard_resets, 0u);
}

TEST(SupervisorTest, SimFailureWhileTheSimInitialisesIsRetriedNotBackedOff) {
  // An A7670G answers AT+CPIN? with +CME ERROR: 13 between *ATREADY and +CPIN: READY.
  auto sc = scenario("powered_off");
  sc.boot_time = seconds(5);
  sc.sim_init_time = seconds(4);
  auto cfg = test_config();
  cfg.power_on_at_start = true;
  SupervisorBench b(sc, cfg, false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(60)));
  EXPECT_FALSE(b.first_time_in(SupervisorState::backoff));
  const auto sim_check = b.first_time_in(SupervisorState::checking_sim);
  const auto registering = b.first_time_in(SupervisorState::registering);
  ASSERT_TRUE(sim_check && registering);
  EXPECT_GE(*registering - *sim_check, seconds(2));  // it waited for the SIM, retrying
}

TEST(SupervisorTest, DialFailuresBackOffThenCycleTheRadio) {
  auto sc = scenario("normal");
  sc.failing_dials = 4;
  SupervisorBench b(sc, test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(120)));
  EXPECT_EQ(b.sup().telemetry().dial_failures, 4u);
  EXPECT_EQ(b.sim().stats().dials, 5u);
  EXPECT_EQ(b.sup().telemetry().radio_cycles, 1u);  // after the third failure
  // Backoffs 2 + 4 + 8 + 16 s between the five dials, plus a radio cycle and registration.
  EXPECT_GE(b.elapsed(), seconds(30));
  EXPECT_LE(b.elapsed(), seconds(60));
}

TEST(SupervisorTest, StopLeavesEverythingQuiet) {
  SupervisorBench b(scenario("normal"), test_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return online(b); }, seconds(30)));
  b.sup().stop(b.now());
  EXPECT_EQ(b.sup().state(), SupervisorState::idle);
  EXPECT_FALSE(b.sup().next_timeout());
}

TEST(SupervisorTest, NoPowerControlBacksOffInsteadOfResetting) {
  auto sc = scenario("hang");
  SupervisorConfig cfg = test_config();
  // Same scenario, but the supervisor has no GPIO: it can only wait and retry.
  modemsim::SimModem sim(sc);
  ConnectionSupervisor sup(cfg, nullptr);
  Instant now;
  sim.start(now);
  sup.start(now);
  bool backed_off = false;
  for (int i = 0; i < 20000 && now < Instant{} + seconds(200); ++i) {
    while (auto o = sup.poll_transmit())
      sim.handle_bytes(now, *o);
    sim.handle_timeout(now);
    while (auto o = sim.poll_transmit())
      sup.handle_bytes(now, *o);
    while (auto p = sup.poll_ppp())
      sup.link_alive(now);
    while (auto e = sup.poll_event()) {
      if (auto* t = std::get_if<sup_event::StateChanged>(&*e))
        backed_off |= t->to == SupervisorState::backoff && t->reason == Reason::no_answer;
    }
    auto next = earliest(sup.next_timeout(), sim.next_timeout());
    if (!next) break;
    now = std::max(now, *next);
    sup.handle_timeout(now);
    sim.handle_timeout(now);
  }
  EXPECT_TRUE(backed_off);
  EXPECT_EQ(sup.telemetry().hard_resets, 0u);
}

}  // namespace
}  // namespace cellrtc::modem

namespace cellrtc::modem {
namespace {

SupervisorConfig cmux_config() {
  SupervisorConfig c;
  c.apn = "internet";
  c.heartbeat_timeout = seconds(20);
  c.use_cmux = true;
  c.online_poll_interval = seconds(10);
  return c;
}

TEST(SupervisorCmuxTest, DialsOnThePppChannelAndPollsOnTheAtChannel) {
  auto sc = *modemsim::scenario_by_name("normal");
  sc.signal_profile = {{seconds(25), 10}};
  testing::SupervisorBench b(sc, cmux_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.sup().state() == SupervisorState::online; }, seconds(30)));
  EXPECT_EQ(b.sim().phase(), modemsim::SimPhase::cmux);
  EXPECT_EQ(b.sup().telemetry().signal_dbm, -73);
  const auto commands = b.sim().stats().commands;
  b.run_for(seconds(40));
  EXPECT_EQ(b.sup().state(), SupervisorState::online);
  // Polled while PPP flows: the fade at 25 s shows up without leaving data mode.
  EXPECT_EQ(b.sup().telemetry().signal_dbm, -93);
  EXPECT_GE(b.sim().stats().commands, commands + 15);  // 3-4 polls of 5 commands
  EXPECT_GT(b.sim().stats().ppp_bytes_in, 0u);
  EXPECT_EQ(b.data_mode_starts(), 1);
}

TEST(SupervisorCmuxTest, DeadLinkHangsUpFromTheAtChannel) {
  testing::SupervisorBench b(*modemsim::scenario_by_name("normal"), cmux_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.sup().state() == SupervisorState::online; }, seconds(30)));
  b.app_alive = false;
  ASSERT_TRUE(
      b.run_until([&] { return b.sup().state() == SupervisorState::backoff; }, seconds(60)));
  EXPECT_EQ(b.reason_into(SupervisorState::leaving_data), Reason::link_dead);
  EXPECT_EQ(b.sim().stats().hang_ups, 1u);
  EXPECT_EQ(b.sim().stats().escapes, 0u);  // no +++ needed over CMUX
  b.app_alive = true;
  ASSERT_TRUE(b.run_until([&] { return b.sup().state() == SupervisorState::online; }, seconds(30)));
  EXPECT_EQ(b.sim().phase(), modemsim::SimPhase::cmux);
  EXPECT_EQ(b.sup().telemetry().reconnects, 1u);
}

TEST(SupervisorCmuxTest, NoCarrierOnThePppChannel) {
  testing::SupervisorBench b(*modemsim::scenario_by_name("no_carrier"), cmux_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.sup().state() == SupervisorState::online; }, seconds(30)));
  ASSERT_TRUE(b.run_until(
      [&] {
        return b.sup().telemetry().reconnects == 1 && b.sup().state() == SupervisorState::online;
      },
      seconds(60)));
  EXPECT_EQ(b.sup().telemetry().last_failure, Reason::no_carrier);
}

TEST(SupervisorCmuxTest, ModemWithoutCmuxRunsWithoutIt) {
  auto sc = *modemsim::scenario_by_name("normal");
  sc.cmux_supported = false;
  testing::SupervisorBench b(sc, cmux_config(), false);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.sup().state() == SupervisorState::online; }, seconds(30)));
  EXPECT_EQ(b.sim().phase(), modemsim::SimPhase::data);
  bool warned = false;
  for (auto w : b.warnings())
    warned |= w == Reason::cmux_failed;
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace cellrtc::modem

namespace cellrtc::modem {
namespace {

// Two supervisors with different seeds facing the same missing SIM: their long backoffs stay
// within +-20% of the nominal 5, 10, 20 minutes but do not coincide.
TEST(SupervisorJitterTest, BackoffsAreSpreadWithAnInjectedRandom) {
  std::vector<Duration> waits[2];
  for (int i = 0; i < 2; ++i) {
    SeededRandom rng(100 + i);
    modemsim::SimModem sim(*modemsim::scenario_by_name("no_sim"));
    SupervisorConfig cfg;
    cfg.apn = "internet";
    ConnectionSupervisor sup(cfg, nullptr, &rng);
    Instant now;
    sim.start(now);
    sup.start(now);
    for (int step = 0; step < 100000 && waits[i].size() < 3; ++step) {
      while (auto o = sup.poll_transmit())
        sim.handle_bytes(now, *o);
      sim.handle_timeout(now);
      while (auto o = sim.poll_transmit())
        sup.handle_bytes(now, *o);
      while (auto e = sup.poll_event()) {
        auto* t = std::get_if<sup_event::StateChanged>(&*e);
        if (t && t->to == SupervisorState::backoff) waits[i].push_back(*sup.next_timeout() - now);
      }
      auto next = earliest(sup.next_timeout(), sim.next_timeout());
      if (!next) break;
      now = std::max(now, *next);
      sup.handle_timeout(now);
      sim.handle_timeout(now);
    }
    ASSERT_EQ(waits[i].size(), 3u);
    const Duration nominal[3] = {seconds(300), seconds(600), seconds(1200)};
    for (int k = 0; k < 3; ++k) {
      EXPECT_GE(waits[i][k], nominal[k] * 8 / 10);
      EXPECT_LE(waits[i][k], nominal[k] * 12 / 10);
    }
  }
  EXPECT_NE(waits[0][0], waits[1][0]);
}

}  // namespace
}  // namespace cellrtc::modem
