// ICE-TCP through the cellular lab (docs/lab.md): the carrier NAT drops every UDP packet from
// the device (lab.sh up --block-udp), cellrtc-server takes ICE-TCP on its HTTP port
// (--ice-tcp-shared), and cellrtc-device with the default --transport auto gives UDP its grace
// and then streams over its active TCP candidate. The viewer page in headless Chromium behind
// the home NAT draws the frames in order. Prints the device's time to first frame.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"
#include "lab/lab_call.h"

namespace cellrtc::lab {
namespace {

using namespace std::chrono_literals;
using browser::DeviceProcess;
using browser::ServerProcess;
using browser::ViewerDriver;

constexpr const char* kPrefix = "cltcp";
constexpr const char* kProfile = "hspa";
constexpr const char* kDevice = "tcpcam";
constexpr const char* kViewerToken = "lab-tcp-viewer-token";

class LabIceTcpTest : public LabCallTest {
 protected:
  void SetUp() override { bring_up(kPrefix, kProfile, {"--block-udp"}); }
};

TEST_F(LabIceTcpTest, WithUdpBlockedTheDeviceStreamsOverIceTcpOnTheHttpPort) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::string error;
  server_ = ServerProcess::start(
      server_options(kDevice, "lab-tcp-device-token", kViewerToken, {"--ice-tcp-shared"}), &error);
  ASSERT_TRUE(server_) << error;
  device_ = DeviceProcess::start(*server_,
                                 {.source = "testpattern:320x240",
                                  .fps = 10,
                                  .bind = "",
                                  .command_prefix = lab_->exec_prefix("dev")},
                                 &error);
  ASSERT_TRUE(device_) << error;
  ASSERT_TRUE(server_->wait_device_state(kDevice, "live", 45s))
      << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();

  std::printf("[ lab ice-tcp ] device live %.1f s after the server started\n", elapsed());
  driver_ = ViewerDriver::start(&error, 120s, lab_->exec_prefix("viewer"));
  ASSERT_TRUE(driver_) << error;
  const std::string page = server_->url("/") + "?device=" + kDevice + "&token=" + kViewerToken;
  ASSERT_TRUE(driver_->request({{"type", "open"}, {"url", page}, {"viewers", 1}}))
      << driver_->last_error();
  auto drawn = browser::wait_stats(
      *driver_, 0, 45s, [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 10; });
  ASSERT_TRUE(drawn) << driver_->last_error();
  const auto& stats = (*drawn)["stats"];
  ASSERT_GE(stats.value("framesDrawn", 0), 10)
      << drawn->dump() << "\nserver: " << server_->log_tail()
      << "\ndevice: " << device_->log_tail();
  EXPECT_EQ(browser::strictly_increasing(browser::int_list(stats["seqs"])), "") << drawn->dump();
  EXPECT_EQ(stats.value("badFrames", -1), 0) << drawn->dump();

  // The device chose TCP (UDP never answered) on its first session.
  const std::string log = device_->log_tail(64 * 1024);
  EXPECT_NE(line_with(log, "over tcp"), "") << log;
  EXPECT_EQ(line_with(log, "failure"), "") << log;
  std::printf("[ lab ice-tcp ] 10 frames drawn %.1f s after the server started\n", elapsed());
  std::printf("[ lab ice-tcp ] %s\n", line_with(log, "timeline").c_str());
  std::printf("[ lab ice-tcp ] %s\n", line_with(log, "TCP after").c_str());

  driver_->close();
  driver_.reset();
  ASSERT_TRUE(lab_->down(&error)) << error;
  EXPECT_EQ(lab_->leftovers(), std::vector<std::string>{});
}

}  // namespace
}  // namespace cellrtc::lab
