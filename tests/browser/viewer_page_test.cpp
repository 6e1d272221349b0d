// The viewer page (web/) in headless Chromium against the real cellrtc-server and cellrtc-device
// on loopback: the page lists the device, shows its frames in order, its overlay's numbers are
// sane, the snapshot button saves the JPEG on screen, and errors are explained.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"

namespace cellrtc::browser {
namespace {

using namespace std::chrono_literals;

bool binaries_built() {
  return std::filesystem::exists(server_binary()) && std::filesystem::exists(device_binary());
}

class ViewerPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!binaries_built()) GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
    std::string error;
    server_ = ServerProcess::start({.device_id = "cam1"}, &error);
    ASSERT_TRUE(server_) << error;
    device_ = DeviceProcess::start(*server_, {}, &error);
    ASSERT_TRUE(device_) << error;
    ASSERT_TRUE(server_->wait_device_state("cam1", "live", 20s))
        << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();
    driver_ = ViewerDriver::start(&error);
    ASSERT_TRUE(driver_) << error;
  }
  void TearDown() override {
    if (driver_) driver_->close();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<DeviceProcess> device_;
  std::unique_ptr<ViewerDriver> driver_;
};

TEST_F(ViewerPageTest, ListsTheDeviceAndShowsItsFramesInOrder) {
  ASSERT_TRUE(driver_->request({{"type", "open"}, {"url", server_->url("/")}, {"viewers", 1}}))
      << driver_->last_error();

  // The list comes from /api/devices and /ws.
  bool listed = false;
  for (int i = 0; i < 60 && !listed; ++i) {
    auto answer = driver_->request({{"type", "devices"}, {"viewer", 0}});
    ASSERT_TRUE(answer) << driver_->last_error();
    for (const auto& d : (*answer)["devices"]) {
      if (d.value("id", "") == "cam1" && d.value("state", "") == "live") listed = true;
    }
    if (!listed) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(listed) << "cam1 not listed as live";

  ASSERT_TRUE(driver_->request({{"type", "click"}, {"viewer", 0}, {"device", "cam1"}}))
      << driver_->last_error();
  auto first = wait_stats(*driver_, 0, 25s, [](const nlohmann::json& s) {
    return s.value("framesDrawn", 0) >= 20 && s["latencyMs"].is_number() && s.value("fps", 0.0) > 0;
  });
  ASSERT_TRUE(first) << driver_->last_error();
  const auto& s1 = (*first)["stats"];
  ASSERT_GE(s1.value("framesDrawn", 0), 20) << first->dump() << "\n" << server_->log_tail();
  EXPECT_EQ(s1.value("state", ""), "live");
  EXPECT_EQ(s1.value("badFrames", -1), 0);

  // Frames keep coming, each drawn once and in order; none arrives twice.
  auto second = wait_stats(*driver_, 0, 10s, [&](const nlohmann::json& s) {
    return s.value("framesDrawn", 0) >= s1.value("framesDrawn", 0) + 10;
  });
  ASSERT_TRUE(second);
  const auto& s2 = (*second)["stats"];
  EXPECT_GE(s2.value("framesDrawn", 0), s1.value("framesDrawn", 0) + 10) << second->dump();
  EXPECT_EQ(strictly_increasing(int_list(s2["seqs"])), "");
  EXPECT_EQ(strictly_increasing(int_list(s2["receivedSeqs"])), "");
  EXPECT_GT(s2.value("lastSeq", 0), s1.value("lastSeq", 0));

  // The overlay's numbers are sane: a frame rate a camera can have, a bit rate, a latency that
  // is neither negative (clock offsets applied the right way round) nor absurd.
  const double fps = s2.value("fps", 0.0);
  EXPECT_GT(fps, 0);
  EXPECT_LE(fps, 60);
  EXPECT_GT(s2.value("kbps", 0.0), 0);
  ASSERT_TRUE(s2["latencyMs"].is_number()) << second->dump();
  EXPECT_GE(s2["latencyMs"].get<double>(), 0) << second->dump();
  EXPECT_LT(s2["latencyMs"].get<double>(), 5000) << second->dump();
  const auto& overlay = (*second)["overlay"];
  std::printf("viewer: %d frames drawn, %.1f fps, %.0f kbit/s, latency %.1f ms; overlay %s\n",
              s2.value("framesDrawn", 0), fps, s2.value("kbps", 0.0), s2["latencyMs"].get<double>(),
              overlay.dump().c_str());
  EXPECT_EQ(overlay.value("badge", ""), "live");
  for (const char* field : {"fps", "kbps", "latency", "age", "seq"}) {
    EXPECT_NE(overlay.value(field, "—"), "—") << field << ": " << overlay.dump();
  }

  // "Save current frame": the JPEG on screen, as the device encoded it.
  auto shot = driver_->request({{"type", "snapshot"}, {"viewer", 0}});
  ASSERT_TRUE(shot) << driver_->last_error();
  EXPECT_GT(shot->value("bytes", 0), 100);
  EXPECT_EQ(shot->value("head", "").substr(0, 4), "ffd8") << shot->dump();
  EXPECT_EQ(shot->value("tail", ""), "ffd9") << shot->dump();
}

// The page's controls reach the device through the server's control channel: the stream
// settings (a quality cap shows in the frames' headers) and a full-quality snapshot (a frame
// with the snapshot flag, which the page downloads as it arrives).
TEST_F(ViewerPageTest, StreamSettingsAndSnapshotRequestsReachTheDevice) {
  ASSERT_TRUE(
      driver_->request({{"type", "open"}, {"url", server_->url("/?device=cam1")}, {"viewers", 1}}))
      << driver_->last_error();
  auto live = wait_stats(*driver_, 0, 20s, [](const nlohmann::json& s) {
    return s.value("framesDrawn", 0) >= 3 && s.value("quality", 0) > 20;
  });
  ASSERT_TRUE(live) << driver_->last_error();
  // On loopback the device's rate controller runs at a high quality (85 when measured).
  ASSERT_GT((*live)["stats"].value("quality", 0), 20)
      << "the test pattern should stream above quality 20: " << live->dump();

  ASSERT_TRUE(driver_->request({{"type", "set"}, {"viewer", 0}, {"fps", 5}, {"quality", 20}}))
      << driver_->last_error();
  auto capped = wait_stats(*driver_, 0, 15s, [](const nlohmann::json& s) {
    return s["quality"].is_number() && s.value("quality", 100) <= 20;
  });
  ASSERT_TRUE(capped) << driver_->last_error();
  EXPECT_LE((*capped)["stats"].value("quality", 100), 20) << capped->dump();
  EXPECT_TRUE((*capped)["stats"]["controlError"].is_null()) << capped->dump();
  EXPECT_EQ((*capped)["overlay"].value("controlStatus", ""), "Settings sent.");

  auto shot = driver_->request({{"type", "request_snapshot"}, {"viewer", 0}});
  ASSERT_TRUE(shot) << driver_->last_error();
  EXPECT_NE(shot->value("name", "").find("snapshot"), std::string::npos) << shot->dump();
  EXPECT_GT(shot->value("bytes", 0), 100);
  EXPECT_EQ(shot->value("head", "").substr(0, 4), "ffd8") << shot->dump();
  EXPECT_EQ(shot->value("tail", ""), "ffd9") << shot->dump();
}

// Leaving the page ends its session at once: the server counts one viewer fewer right away, not
// after ICE consent runs out (30 s). Chromium closing the connection would end it too, so the
// server's request log is what shows that the page DELETEd its WHEP resource.
TEST_F(ViewerPageTest, LeavingThePageEndsItsSession) {
  auto viewers = [&]() {
    auto list = server_->devices();
    if (list) {
      for (const auto& d : *list) {
        if (d.value("id", "") == "cam1") return d.value("viewers", -1);
      }
    }
    return -1;
  };
  auto wait_viewers = [&](int wanted, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (viewers() != wanted && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    return viewers();
  };
  ASSERT_TRUE(
      driver_->request({{"type", "open"}, {"url", server_->url("/?device=cam1")}, {"viewers", 1}}))
      << driver_->last_error();
  auto live = wait_stats(*driver_, 0, 20s,
                         [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 3; });
  ASSERT_TRUE(live) << driver_->last_error();
  ASSERT_GE((*live)["stats"].value("framesDrawn", 0), 3) << live->dump();
  ASSERT_EQ(wait_viewers(1, 5s), 1) << server_->log_tail();

  ASSERT_TRUE(driver_->request({{"type", "leave"}, {"viewer", 0}})) << driver_->last_error();
  // The session ends at once: by the page's keepalive DELETE, or by its peer connection closing
  // (DTLS close_notify) when the DELETE does not make it out of an unloading page, which a
  // loaded machine shows now and then. Either way the server counts no viewer within seconds,
  // far sooner than the 30 s consent timeout that would otherwise end it.
  EXPECT_EQ(wait_viewers(0, 5s), 0) << server_->log_tail();
  const bool deleted =
      server_->log_tail(1 << 20).find("method=DELETE path=/whep/cam1/") != std::string::npos;
  std::printf("the session ended by %s\n", deleted ? "DELETE" : "the connection closing");
}

TEST_F(ViewerPageTest, ExplainsAnUnknownDevice) {
  ASSERT_TRUE(driver_->request(
      {{"type", "open"}, {"url", server_->url("/?device=no-such-camera")}, {"viewers", 1}}))
      << driver_->last_error();
  auto answer = wait_stats(*driver_, 0, 15s,
                           [](const nlohmann::json& s) { return s.value("state", "") == "error"; });
  ASSERT_TRUE(answer) << driver_->last_error();
  const auto& s = (*answer)["stats"];
  ASSERT_EQ(s.value("state", ""), "error") << answer->dump();
  EXPECT_EQ(s["error"].value("kind", ""), "unknown") << answer->dump();
  EXPECT_NE((*answer)["overlay"].value("notice", "").find("Unknown device"), std::string::npos)
      << answer->dump();
}

}  // namespace
}  // namespace cellrtc::browser

namespace cellrtc::browser {
namespace {

// A device whose viewers need a token: without it the page says access is denied and asks for
// one; the token from the page's URL, or typed into its form, lets the frames through.
TEST(ViewerTokenTest, AsksForTheViewerTokenAndUsesIt) {
  if (!binaries_built()) GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
  std::string error;
  auto server = ServerProcess::start(
      {.device_id = "cam1", .viewer_token = "viewer-secret-for-tests"}, &error);
  ASSERT_TRUE(server) << error;
  auto device = DeviceProcess::start(*server, {}, &error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s)) << server->log_tail();
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  ASSERT_TRUE(
      driver->request({{"type", "open"}, {"url", server->url("/?device=cam1")}, {"viewers", 1}}))
      << driver->last_error();
  ASSERT_TRUE(driver->request({{"type", "open"},
                               {"url", server->url("/?device=cam1&token=viewer-secret-for-tests")},
                               {"viewers", 1}}))
      << driver->last_error();

  auto denied = wait_stats(*driver, 0, 15s,
                           [](const nlohmann::json& s) { return s.value("state", "") == "error"; });
  ASSERT_TRUE(denied) << driver->last_error();
  EXPECT_EQ((*denied)["stats"]["error"].value("kind", ""), "denied") << denied->dump();
  EXPECT_TRUE((*denied)["overlay"].value("tokenForm", false)) << denied->dump();
  EXPECT_EQ((*denied)["stats"].value("framesReceived", -1), 0);

  auto with_url_token = wait_stats(
      *driver, 1, 20s, [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 5; });
  ASSERT_TRUE(with_url_token) << driver->last_error();
  EXPECT_GE((*with_url_token)["stats"].value("framesDrawn", 0), 5) << with_url_token->dump();

  ASSERT_TRUE(
      driver->request({{"type", "token"}, {"viewer", 0}, {"token", "viewer-secret-for-tests"}}))
      << driver->last_error();
  auto with_typed_token = wait_stats(
      *driver, 0, 20s, [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 5; });
  ASSERT_TRUE(with_typed_token) << driver->last_error();
  EXPECT_GE((*with_typed_token)["stats"].value("framesDrawn", 0), 5) << with_typed_token->dump();
  EXPECT_FALSE((*with_typed_token)["overlay"].value("tokenForm", true));
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser

namespace cellrtc::browser {
namespace {

// The server goes away under a watching page: the page says the server is unreachable and keeps
// trying with backoff; once the server is back (same address, a fresh process without the old
// session) the page has a new session and frames again, without anyone reloading it.
TEST(ViewerReconnectTest, ComesBackAfterTheServerRestarts) {
  if (!binaries_built()) GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
  std::string error;
  auto server = ServerProcess::start({.device_id = "cam1"}, &error);
  ASSERT_TRUE(server) << error;
  auto device = DeviceProcess::start(*server, {}, &error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s)) << server->log_tail();
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  ASSERT_TRUE(
      driver->request({{"type", "open"}, {"url", server->url("/?device=cam1")}, {"viewers", 1}}))
      << driver->last_error();
  auto before = wait_stats(*driver, 0, 20s, [](const nlohmann::json& s) {
    return s.value("framesDrawn", 0) >= 5 && s.value("sessions", 0) == 1;
  });
  ASSERT_TRUE(before) << driver->last_error();
  ASSERT_GE((*before)["stats"].value("framesDrawn", 0), 5) << before->dump();

  server->kill();
  const auto killed = std::chrono::steady_clock::now();
  // Chromium sees the connection go (no answers to its ICE checks), the page gives it a few
  // seconds, then finds the server unreachable and keeps trying.
  auto unreachable = wait_viewer(*driver, 0, 30s, [](const nlohmann::json& a) {
    return a["overlay"].value("notice", "").find("unreachable") != std::string::npos;
  });
  ASSERT_TRUE(unreachable) << driver->last_error();
  ASSERT_NE((*unreachable)["overlay"].value("notice", "").find("unreachable"), std::string::npos)
      << unreachable->dump();
  EXPECT_EQ((*unreachable)["stats"].value("state", ""), "reconnecting") << unreachable->dump();
  const auto noticed = std::chrono::steady_clock::now();

  ASSERT_TRUE(server->restart(&error)) << error;
  // The device finds the new server by itself too (its own backoff); then frames flow again.
  const int drawn = (*unreachable)["stats"].value("framesDrawn", 0);
  auto back = wait_stats(*driver, 0, 40s, [&](const nlohmann::json& s) {
    return s.value("state", "") == "live" && s.value("sessions", 0) >= 2 &&
           s.value("framesDrawn", 0) >= drawn + 5;
  });
  ASSERT_TRUE(back) << driver->last_error();
  const auto& s = (*back)["stats"];
  std::printf("server killed: unreachable after %.1f s, frames again %.1f s after the restart\n",
              std::chrono::duration<double>(noticed - killed).count(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - noticed).count());
  EXPECT_EQ(s.value("state", ""), "live") << back->dump() << "\n" << device->log_tail();
  EXPECT_GE(s.value("sessions", 0), 2) << back->dump();
  EXPECT_GE(s.value("framesDrawn", 0), drawn + 5) << back->dump() << "\n" << device->log_tail();
  EXPECT_EQ((*back)["overlay"].value("notice", ""), "") << back->dump();
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser

namespace cellrtc::browser {
namespace {

// A device with a (simulated) modem: its telemetry carries the modem's signal and operator, and
// the page shows them as signal bars and the operator's name.
TEST(ViewerModemTest, ShowsTheModemsSignalAndOperator) {
  if (!binaries_built() || !std::filesystem::exists(modem_sim_binary())) {
    GTEST_SKIP() << "cellrtc-server, cellrtc-device or cellrtc-modem-sim not built";
  }
  std::string error;
  const std::string link = interop::interop_log_path(interop::unique_name("modem") + ".pty");
  auto modem = ModemSimProcess::start(link, &error);
  ASSERT_TRUE(modem) << error;
  const auto modem_started = std::chrono::steady_clock::now();
  auto server = ServerProcess::start({.device_id = "cam1"}, &error);
  ASSERT_TRUE(server) << error;
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  // The simulated modem registers 4 s after it starts; the device asks it at once and then every
  // 30 s, so it starts once the modem has a network to tell of.
  std::this_thread::sleep_until(modem_started + 5s);
  auto device = DeviceProcess::start(*server, {.modem = modem->port()}, &error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s)) << server->log_tail();
  ASSERT_TRUE(
      driver->request({{"type", "open"}, {"url", server->url("/?device=cam1")}, {"viewers", 1}}))
      << driver->last_error();
  auto shown = wait_viewer(*driver, 0, 20s, [](const nlohmann::json& a) {
    return !a["overlay"].value("signal", "").empty();
  });
  ASSERT_TRUE(shown) << driver->last_error();
  const auto& modem_telemetry = (*shown)["stats"]["telemetry"]["modem"];
  ASSERT_TRUE(modem_telemetry.is_object()) << shown->dump() << "\n" << device->log_tail();
  const std::string operator_name = modem_telemetry.value("operator", "");
  EXPECT_FALSE(operator_name.empty()) << shown->dump();
  EXPECT_NE((*shown)["overlay"].value("signal", "").find(operator_name), std::string::npos)
      << shown->dump();
  EXPECT_GE(modem_telemetry.value("bars", -1), 0) << shown->dump();
  EXPECT_LE(modem_telemetry.value("bars", 99), 5) << shown->dump();
  // A Linux device sends no `device` object: the memory box stays hidden.
  EXPECT_EQ((*shown)["overlay"].value("health", "?"), "") << shown->dump();
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser
