// Direct mode (docs/protocol.md, "Direct mode") with the real binaries on loopback: Chromium's
// viewer page watches a device in `direct` mode; the server forwards the page's WHEP offer to
// cellrtc-device, whose own peer connection answers and sends the frames, which the page paints
// in order while showing the path "direct" over UDP and a round-trip time.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"

namespace cellrtc::browser {
namespace {

using namespace std::chrono_literals;

TEST(DirectMode, ChromiumWatchesADirectDeviceAndShowsThePathAndRtt) {
  if (!std::filesystem::exists(server_binary()) || !std::filesystem::exists(device_binary()))
    GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
  std::string error;
  auto server =
      ServerProcess::start({.device_id = "cam1", .extra_args = {"--mode=direct"}}, &error);
  ASSERT_TRUE(server) << error;
  auto device = DeviceProcess::start(*server, {}, &error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s))
      << "server: " << server->log_tail() << "\ndevice: " << device->log_tail();
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  ASSERT_TRUE(driver->request({{"type", "open"}, {"url", server->url("/")}, {"viewers", 1}}))
      << driver->last_error();
  bool clicked = false;
  for (int i = 0; i < 40 && !clicked; ++i) {
    clicked = driver->request({{"type", "click"}, {"viewer", 0}, {"device", "cam1"}}).has_value();
    if (!clicked) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(clicked) << driver->last_error();

  auto shown = wait_stats(*driver, 0, 25s, [](const nlohmann::json& s) {
    return s.value("framesDrawn", 0) >= 20 && s.value("path", "") == "direct" &&
           s["rttMs"].is_number();
  });
  ASSERT_TRUE(shown) << driver->last_error() << "\nserver: " << server->log_tail()
                     << "\ndevice: " << device->log_tail();
  const auto& s = (*shown)["stats"];
  ASSERT_GE(s.value("framesDrawn", 0), 20) << shown->dump();
  EXPECT_EQ(s.value("path", ""), "direct") << shown->dump();
  EXPECT_EQ(s.value("transport", ""), "UDP");
  EXPECT_EQ(s.value("badFrames", -1), 0);
  EXPECT_EQ(strictly_increasing(int_list(s["seqs"])), "");
  const auto& overlay = (*shown)["overlay"];
  EXPECT_EQ(overlay.value("path", "").rfind("direct", 0), 0u) << overlay.dump();
  EXPECT_NE(overlay.value("rtt", "—"), "—");

  // The server only signaled: the viewer is a direct one, not a relay session.
  auto devices = server->devices();
  ASSERT_TRUE(devices && !devices->empty());
  EXPECT_EQ((*devices)[0].value("direct_viewers", -1), 1) << devices->dump();
  EXPECT_EQ((*devices)[0].value("viewers", -1), 0) << devices->dump();

  const auto& timing = (*shown)["timing"];
  if (timing["postedAt"].is_number() && timing["firstFrameDrawnAt"].is_number())
    std::printf("direct: POST to first frame drawn %.0f ms\n",
                timing["firstFrameDrawnAt"].get<double>() - timing["postedAt"].get<double>());
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser
