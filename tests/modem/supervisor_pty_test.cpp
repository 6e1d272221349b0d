// The supervisor against the simulated A7670E / SIM7670G through a real pseudo-terminal, one
// test per scenario. Time is virtual (each pty transfer completes before the clock moves), so
// the durations checked here are the supervisor's own timers and the scenario's, not the
// machine's speed; every run is bounded in virtual time and every transfer in real time.
#include <gtest/gtest.h>

#include <cstdio>

#include "modem/supervisor.h"
#include "tests/modem/supervisor_bench.h"

namespace cellrtc::modem {
namespace {

using testing::SupervisorBench;

SupervisorConfig pty_config() {
  SupervisorConfig c;
  c.apn = "internet";
  c.pin = "1234";
  c.heartbeat_timeout = seconds(20);
  return c;
}

struct ScenarioRun {
  explicit ScenarioRun(const char* name, SupervisorConfig cfg = pty_config())
      : bench(*modemsim::scenario_by_name(name), std::move(cfg), true) {
    bench.start();
  }
  bool online() { return bench.sup().state() == SupervisorState::online; }
  bool until_online(Duration limit) {
    return bench.run_until([&] { return online(); }, limit);
  }
  double seconds_now() const { return std::chrono::duration<double>(bench.elapsed()).count(); }
  ~ScenarioRun() {
    // The measured times, for docs/cellular.md.
    std::printf("[ scenario ] %-20s %-13s after %7.1f s virtual\n",
                bench.sim().scenario().name.c_str(), to_string(bench.sup().state()), seconds_now());
  }
  SupervisorBench bench;
};

Duration since(const SupervisorBench& b, Instant t) {
  return b.now() - t;
}

TEST(ModemSimPty, Normal) {
  ScenarioRun r("normal");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  EXPECT_GE(r.bench.elapsed(), seconds(4));
  EXPECT_LE(r.bench.elapsed(), seconds(6));
  EXPECT_EQ(r.bench.sup().telemetry().technology, "LTE");
}

TEST(ModemSimPty, NoSim) {
  ScenarioRun r("no_sim");
  ASSERT_TRUE(r.bench.run_until([&] { return r.bench.sup().state() == SupervisorState::backoff; },
                                seconds(30)));
  EXPECT_EQ(r.bench.reason_into(SupervisorState::backoff), Reason::sim_missing);
  EXPECT_LE(r.bench.elapsed(), seconds(1));
  // An hour later: a handful of looks at the SIM (5, 10, 20, 40 min apart), no dial, no reset.
  r.bench.run_for(seconds(3600));
  EXPECT_EQ(r.bench.sim().stats().dials, 0u);
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 0u);
  int looks = 0;
  for (const auto& t : r.bench.transitions())
    looks += t.to == SupervisorState::backoff && t.reason == Reason::sim_missing;
  EXPECT_GE(looks, 3);
  EXPECT_LE(looks, 5);
  EXPECT_EQ(r.bench.sup().telemetry().sim, a76xx::SimState::not_inserted);
}

TEST(ModemSimPty, PinRequired) {
  ScenarioRun r("pin_required");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  // PIN, +CPIN: READY, then the 4 s registration.
  EXPECT_LE(r.bench.elapsed(), seconds(8));
  EXPECT_EQ(r.bench.sup().telemetry().sim, a76xx::SimState::ready);
}

TEST(ModemSimPty, SlowRegistration) {
  ScenarioRun r("slow_registration");
  ASSERT_TRUE(r.until_online(seconds(300))) << r.bench.failure();
  // 90 s registration timeout, radio off/on, 5 s to register after it.
  EXPECT_GE(r.bench.elapsed(), seconds(95));
  EXPECT_LE(r.bench.elapsed(), seconds(100));
  EXPECT_EQ(r.bench.sup().telemetry().radio_cycles, 1u);
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 0u);
}

TEST(ModemSimPty, RegistrationDenied) {
  ScenarioRun r("registration_denied");
  ASSERT_TRUE(r.bench.run_until([&] { return r.bench.sup().state() == SupervisorState::backoff; },
                                seconds(60)));
  EXPECT_EQ(r.bench.reason_into(SupervisorState::backoff), Reason::registration_denied);
  EXPECT_LE(r.bench.elapsed(), seconds(8));
  r.bench.run_for(seconds(3600));
  // Long backoff: 5, 10, 20 min between attempts, each a radio cycle; never a tight loop.
  EXPECT_LE(r.bench.sup().telemetry().radio_cycles, 4u);
  EXPECT_EQ(r.bench.sim().stats().dials, 0u);
  EXPECT_EQ(r.bench.sup().telemetry().registration, a76xx::RegStatus::denied);
}

TEST(ModemSimPty, SignalFading) {
  ScenarioRun r("signal_fading");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  EXPECT_EQ(r.bench.sup().telemetry().signal_dbm, -107);
  bool warned = false;
  for (auto w : r.bench.warnings())
    warned |= w == Reason::poor_signal;
  EXPECT_TRUE(warned);
  // The call drops at 30 s online; the redial sees the weaker signal.
  const Instant up = r.bench.now();
  ASSERT_TRUE(r.bench.run_until(
      [&] { return r.online() && r.bench.sup().telemetry().reconnects == 1; }, seconds(60)));
  EXPECT_EQ(r.bench.sup().telemetry().signal_dbm, -111);
  EXPECT_LE(since(r.bench, up), seconds(36));
}

TEST(ModemSimPty, NoCarrierInDataMode) {
  ScenarioRun r("no_carrier");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  const Instant up = r.bench.now();
  ASSERT_TRUE(r.bench.run_until([&] { return r.bench.sup().state() == SupervisorState::backoff; },
                                seconds(60)));
  EXPECT_EQ(r.bench.reason_into(SupervisorState::backoff), Reason::no_carrier);
  EXPECT_EQ(since(r.bench, up), seconds(30));
  const Instant dropped = r.bench.now();
  ASSERT_TRUE(r.until_online(seconds(30)));
  // 2 s backoff, a registration poll, CGDCONT, COPS?, ATD.
  EXPECT_LE(since(r.bench, dropped), seconds(3));
  EXPECT_EQ(r.bench.sup().telemetry().reconnects, 1u);
}

TEST(ModemSimPty, Hang) {
  ScenarioRun r("hang");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  ASSERT_TRUE(r.bench.run_until([&] { return r.bench.sup().state() == SupervisorState::resetting; },
                                seconds(120)));
  // Hung at 40 s; the heartbeat notices at 60 s; +++, AT x5, +++ again, CMUX close, AT:
  // then the reset line.
  EXPECT_GE(r.bench.elapsed(), seconds(60));
  EXPECT_LE(r.bench.elapsed(), seconds(75));
  const Instant reset = r.bench.now();
  ASSERT_TRUE(r.until_online(seconds(60)));
  // 2.5 s reset pulse, 12 s boot, 4 s registration.
  EXPECT_LE(since(r.bench, reset), seconds(21));
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 1u);
  EXPECT_EQ(r.bench.sim().stats().boots, 2u);
}

TEST(ModemSimPty, Reboot) {
  ScenarioRun r("reboot");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  ASSERT_TRUE(r.bench.run_until(
      [&] { return r.online() && r.bench.sup().telemetry().reconnects == 1; }, seconds(120)));
  // Rebooted at 40 s under PPP: silent until the 20 s heartbeat; +++ finds a modem in
  // command mode (no OK), AT answers, then the normal bring-up. No hard reset.
  EXPECT_GE(r.bench.elapsed(), seconds(60));
  EXPECT_LE(r.bench.elapsed(), seconds(75));
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 0u);
}

TEST(ModemSimPty, LeftInDataMode) {
  ScenarioRun r("left_in_data_mode");
  ASSERT_TRUE(r.until_online(seconds(60))) << r.bench.failure();
  EXPECT_EQ(r.bench.reason_into(SupervisorState::configuring), Reason::left_in_data_mode);
  // Five unanswered ATs, +++ with guard times, ATH.
  EXPECT_LE(r.bench.elapsed(), seconds(12));
  EXPECT_EQ(r.bench.sim().stats().escapes, 1u);
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 0u);
}

TEST(ModemSimPty, LeftInCmux) {
  ScenarioRun r("left_in_cmux");
  ASSERT_TRUE(r.until_online(seconds(60))) << r.bench.failure();
  EXPECT_EQ(r.bench.reason_into(SupervisorState::configuring), Reason::left_in_cmux);
  EXPECT_EQ(r.bench.sim().stats().cmux_closes, 1u);
  EXPECT_LE(r.bench.elapsed(), seconds(15));
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 0u);
}

TEST(ModemSimPty, LteFallbackToEdge) {
  ScenarioRun r("lte_fallback");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  EXPECT_EQ(r.bench.sup().telemetry().technology, "EDGE");
  EXPECT_EQ(r.bench.sup().telemetry().registration, a76xx::RegStatus::home);
  EXPECT_LE(r.bench.elapsed(), seconds(6));
}

TEST(ModemSimPty, LteOnlyModemWithoutLte) {
  ScenarioRun r("lte_only_no_lte");
  r.bench.run_for(seconds(600));
  EXPECT_FALSE(r.bench.reached(SupervisorState::online));
  // 90 s timeouts, two radio cycles, then a hard reset; and again.
  EXPECT_GE(r.bench.sup().telemetry().radio_cycles, 2u);
  EXPECT_GE(r.bench.sup().telemetry().hard_resets, 1u);
  EXPECT_LE(r.bench.sup().telemetry().hard_resets, 3u);
  EXPECT_EQ(r.bench.sim().stats().dials, 0u);
}

TEST(ModemSimPty, GarbageOnTheLine) {
  ScenarioRun r("garbage");
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  EXPECT_LE(r.bench.elapsed(), seconds(6));
  EXPECT_GT(r.bench.sup().at().line_stats().dropped_bytes, 0u);
}

TEST(ModemSimPty, PoweredOffSlowBoot) {
  ScenarioRun r("powered_off");
  ASSERT_TRUE(r.until_online(seconds(200))) << r.bench.failure();
  // AT x5, +++, CMUX close, AT, reset pulse 2.5 s, a 100 s boot, 4 s registration.
  EXPECT_GE(r.bench.elapsed(), seconds(110));
  EXPECT_LE(r.bench.elapsed(), seconds(120));
  EXPECT_EQ(r.bench.sup().telemetry().hard_resets, 1u);
}

TEST(ModemSimPty, CmuxSignalFading) {
  SupervisorConfig cfg = pty_config();
  cfg.use_cmux = true;
  cfg.online_poll_interval = seconds(10);
  ScenarioRun r("signal_fading", cfg);
  ASSERT_TRUE(r.until_online(seconds(30))) << r.bench.failure();
  EXPECT_EQ(r.bench.sim().phase(), modemsim::SimPhase::cmux);
  EXPECT_LE(r.bench.elapsed(), seconds(6));
  // Over CMUX the fade at 30 s is seen while online, before the call drops.
  ASSERT_TRUE(
      r.bench.run_until([&] { return r.bench.sup().telemetry().signal_dbm == -111; }, seconds(40)));
  EXPECT_EQ(r.bench.sup().telemetry().reconnects, 0u);
  ASSERT_TRUE(r.bench.run_until(
      [&] { return r.online() && r.bench.sup().telemetry().reconnects == 1; }, seconds(60)));
}

}  // namespace
}  // namespace cellrtc::modem
