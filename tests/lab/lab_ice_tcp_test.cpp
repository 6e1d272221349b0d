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
#include "lab/lab_network.h"

namespace cellrtc::lab {
namespace {

using namespace std::chrono_literals;
using browser::DeviceProcess;
using browser::ServerProcess;
using browser::ViewerDriver;

constexpr const char* kPrefix = "cltcp";
constexpr const char* kProfile = "hspa";
constexpr const char* kServerAddress = "203.0.113.10";
constexpr const char* kDevice = "tcpcam";
constexpr const char* kViewerToken = "lab-tcp-viewer-token";

// The device log's line containing `text`, or "".
std::string line_with(const std::string& log, const std::string& text) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(text) != std::string::npos) return line;
  return {};
}

class LabIceTcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces)";
    if (!std::filesystem::exists(browser::server_binary()) ||
        !std::filesystem::exists(browser::device_binary())) {
      GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
    }
    if (!linkem_binary()) GTEST_SKIP() << "cellrtc-linkem not built (and no CELLRTC_LINKEM)";
    if (!profile_exists(kProfile)) GTEST_SKIP() << "no tools/linkem/profiles/hspa.toml";
    std::string error;
    lab_ = LabNetwork::up(kPrefix, {"--profile", kProfile, "--block-udp"}, &error);
    ASSERT_TRUE(lab_) << error;
  }
  void TearDown() override {
    if (driver_) driver_->close();
    driver_.reset();
    device_.reset();
    server_.reset();
    lab_.reset();
  }

  std::unique_ptr<LabNetwork> lab_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<DeviceProcess> device_;
  std::unique_ptr<ViewerDriver> driver_;
};

TEST_F(LabIceTcpTest, WithUdpBlockedTheDeviceStreamsOverIceTcpOnTheHttpPort) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::string error;
  server_ = ServerProcess::start({.device_id = kDevice,
                                  .device_token = "lab-tcp-device-token",
                                  .viewer_token = kViewerToken,
                                  .command_prefix = lab_->exec_prefix("srv"),
                                  .netns = lab_->netns("srv"),
                                  .address = kServerAddress,
                                  .http_port = 8080,
                                  .udp_port = 8443,
                                  .public_ip = kServerAddress,
                                  .extra_args = {"--ice-tcp-shared"}},
                                 &error);
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
