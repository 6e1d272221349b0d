// FirmwareApp's state handling under virtual time against the simulated A76xx modem: the
// supervisor's link coming up starts PPP, PPP up starts streaming, a lost link pauses it and
// the recovery resumes it; camera frames reach the streamer without a copy and every one goes
// back to the driver; telemetry carries the modem's and the heap's figures.
#include <gtest/gtest.h>

#include "firmware/app/telemetry_mapping.h"
#include "tests/firmware/app_bench.h"

namespace cellrtc::firmware {
namespace {

using testing::AppBench;

modemsim::Scenario scenario(const char* name) {
  auto s = modemsim::scenario_by_name(name);
  EXPECT_TRUE(s) << name;
  return s ? *s : modemsim::Scenario{};
}

TEST(FirmwareAppTest, StreamsOnceOnlineAndLendsFramesWithoutCopies) {
  AppBench b(scenario("normal"));
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.offered.size() >= 20; }, seconds(60)));
  EXPECT_EQ(b.path(), (std::vector<AppState>{AppState::modem, AppState::ppp, AppState::streaming}));
  EXPECT_EQ(b.netif.starts, 1);
  EXPECT_GT(b.netif.bytes_in, 0u);  // the modem's PPP frames reach the interface
  // The streamer got the driver's own buffers, not copies.
  for (const uint8_t* p : b.streamer.offered)
    EXPECT_TRUE(b.camera.owns(p));
  // At most the frame the streamer still sends is out; every other went back, once.
  EXPECT_LE(b.camera.lent.size(), 1u);
  EXPECT_EQ(b.camera.bad_releases, 0u);
  EXPECT_EQ(b.camera.releases + b.camera.lent.size(), b.streamer.offered.size());
  // The wish (quality 80, any size) is capped by the configuration (60, VGA).
  ASSERT_FALSE(b.camera.applied.empty());
  EXPECT_EQ(b.camera.applied.front(), (CameraSettings{FrameSize::vga, 60}));
  EXPECT_EQ(b.camera.applied.size(), 1u);  // the same settings are not sent again
}

TEST(FirmwareAppTest, AppliesASmallerSizeTheStreamerAsksFor) {
  AppBench b(scenario("normal"));
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.offered.size() >= 2; }, seconds(60)));
  b.streamer.wish = FrameWish{.quality = 30, .width = 400, .height = 300};
  const size_t before = b.streamer.offered.size();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.offered.size() >= before + 2; }, seconds(5)));
  EXPECT_EQ(b.camera.applied.back(), (CameraSettings{FrameSize::cif, 30}));
}

TEST(FirmwareAppTest, NoCarrierPausesStreamingAndTheRecoveryResumesIt) {
  AppBench b(scenario("no_carrier"));  // NO CARRIER 30 s after going online
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.app().stats().streaming_starts == 2; }, seconds(120)));
  ASSERT_EQ(b.streamer.calls.size(), 3u);
  EXPECT_TRUE(b.streamer.calls[0].start);
  EXPECT_FALSE(b.streamer.calls[1].start);
  EXPECT_TRUE(b.streamer.calls[2].start);
  EXPECT_EQ(b.netif.starts, 2);
  EXPECT_EQ(b.netif.stops, 1);
  EXPECT_EQ(b.path(), (std::vector<AppState>{AppState::modem, AppState::ppp, AppState::streaming,
                                             AppState::ppp, AppState::modem, AppState::ppp,
                                             AppState::streaming}));
  // The pause dropped the session's frame; nothing was offered while paused.
  EXPECT_EQ(b.streamer.offered_while_stopped, 0);
  EXPECT_EQ(b.camera.bad_releases, 0u);
  EXPECT_EQ(b.app().supervisor().telemetry().reconnects, 1u);
  // Streaming again, with frames.
  const size_t before = b.streamer.offered.size();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.offered.size() > before + 3; }, seconds(5)));
}

TEST(FirmwareAppTest, AFrameArrivingAfterThePauseGoesStraightBack) {
  AppBench b(scenario("normal"));
  b.capture_time = milliseconds(500);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.frame_pending(); }, seconds(60)));
  // LCP echoes unanswered: the interface goes down while the camera is busy.
  b.app().on_netif_down(b.now(), true);
  EXPECT_EQ(b.app().state(), AppState::modem);
  EXPECT_FALSE(b.streamer.started());
  ASSERT_TRUE(b.run_until([&] { return !b.frame_pending(); }, seconds(1)));
  EXPECT_EQ(b.app().stats().frames_dropped, 1u);
  EXPECT_TRUE(b.camera.lent.empty());
  EXPECT_EQ(b.streamer.offered_while_stopped, 0);
  // The supervisor hangs up and dials again; PPP and streaming come back.
  ASSERT_TRUE(b.run_until([&] { return b.app().stats().streaming_starts == 2; }, seconds(60)));
  EXPECT_EQ(b.app().stats().ppp_failures, 1u);
}

TEST(FirmwareAppTest, PppThatNeverComesUpIsDialledAgain) {
  AppBench b(scenario("normal"));
  b.ppp_negotiation.reset();
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.sim().stats().dials >= 2; }, seconds(120)));
  EXPECT_GE(b.app().stats().ppp_failures, 1u);
  EXPECT_EQ(b.app().stats().streaming_starts, 0u);
  EXPECT_TRUE(b.streamer.calls.empty());
  EXPECT_EQ(b.camera.requests, 0u);  // no frames before the network is up
}

TEST(FirmwareAppTest, WhatTheStreamerHearsKeepsTheLinkAlive) {
  AppTimings timings;
  AppBench b(scenario("normal"), testing::bench_config(), timings);
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.started(); }, seconds(60)));
  // The supervisor declares a link dead after 60 s without proof of life (supervisor.h).
  b.run_for(seconds(150));
  EXPECT_EQ(b.sim().stats().dials, 1u);
  EXPECT_EQ(b.app().stats().streaming_starts, 1u);
  // The network goes silent: the supervisor hangs up and dials again, streaming pauses.
  b.streamer.network_answers = false;
  ASSERT_TRUE(b.run_until([&] { return b.sim().stats().dials == 2; }, seconds(90)));
  EXPECT_EQ(b.app().stats().streaming_stops, 1u);
}

TEST(FirmwareAppTest, TelemetryCarriesTheModemAndTheHeap) {
  AppBench b(scenario("normal"));
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.streamer.telemetry.size() >= 3; }, seconds(60)));
  const DeviceTelemetry& t = b.streamer.telemetry.back();
  EXPECT_EQ(t.operator_name, "20205");
  EXPECT_EQ(t.technology, "LTE");
  EXPECT_EQ(t.rssi_dbm, -73);
  EXPECT_EQ(t.bars, b.app().supervisor().telemetry().signal_bars);
  EXPECT_EQ(t.heap.internal_free, 180'000u);
  EXPECT_EQ(t.heap.psram_free, 7'900'000u);
  // As the control channel's telemetry message carries it.
  media::TelemetryMessage m;
  m.modem = modem_telemetry(t);
  m.device = device_health(t);
  const std::string text = media::encode_telemetry(m);
  EXPECT_NE(text.find(R"("modem":{"rssi_dbm":-73,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("operator":"20205","tech":"LTE"})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("device":{"heap_free":180000,"heap_min_free":150000,)"
                      R"("psram_free":7900000})"),
            std::string::npos)
      << text;
}

TEST(FirmwareAppTest, ACameraThatDeliversNothingIsAskedAgain) {
  AppBench b(scenario("normal"));
  b.camera_delivers = false;
  b.start();
  ASSERT_TRUE(b.run_until([&] { return b.camera.requests >= 3; }, seconds(60)));
  EXPECT_GE(b.camera_failures.size(), 2u);
  EXPECT_EQ(b.camera_failures.front(), "no frame within the camera timeout");
}

TEST(FirmwareAppTest, WifiBenchModeStreamsWithoutTheModem) {
  FirmwareConfig c = testing::bench_config();
  c.wifi_ssid = "bench";
  c.wifi_password = "correct-horse";
  AppBench b(scenario("normal"), c);
  b.start();
  EXPECT_EQ(b.app().state(), AppState::wifi);
  b.app().on_netif_up(b.now());
  ASSERT_TRUE(b.run_until([&] { return b.streamer.offered.size() >= 3; }, seconds(5)));
  EXPECT_EQ(b.sim().stats().commands, 0u);  // not one AT command
  b.app().on_netif_down(b.now(), false);
  EXPECT_EQ(b.app().state(), AppState::wifi);
  EXPECT_FALSE(b.streamer.started());
  EXPECT_FALSE(b.streamer.telemetry.back().rssi_dbm);
}

}  // namespace
}  // namespace cellrtc::firmware
