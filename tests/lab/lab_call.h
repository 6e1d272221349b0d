// What the lab's end-to-end tests share: the checks that decide whether the lab can run here,
// bringing it up, the server's place in it (P-srv, 203.0.113.10, HTTP 8080, UDP 8443), the lab's
// state files (TURN secret and certificate) and the teardown order: the viewer, then the
// programs, then the lab (whose down would kill them anyway), even when an assertion failed
// half way.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"
#include "lab/lab_network.h"

namespace cellrtc::lab {

inline constexpr const char* kLabServerAddress = "203.0.113.10";
inline constexpr uint16_t kLabHttpPort = 8080;
inline constexpr uint16_t kLabUdpPort = 8443;

// A file's text without its trailing line ends (a secret, a pid).
inline std::string read_text(const std::string& path) {
  std::string text = read_file(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

// The first line of `log` containing `text`, or "".
inline std::string line_with(const std::string& log, const std::string& text) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(text) != std::string::npos) return line;
  return {};
}

class LabCallTest : public ::testing::Test {
 protected:
  // Skips the test when the lab cannot run here (not root, binaries or the profile missing),
  // else brings the lab up under `prefix` with `args` (lab.sh up's options). Call it through
  // ASSERT_NO_FATAL_FAILURE or check IsSkipped()/HasFatalFailure() after it.
  void bring_up(const std::string& prefix, const std::string& profile,
                const std::vector<std::string>& args) {
    if (::geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces)";
    if (!std::filesystem::exists(browser::server_binary()) ||
        !std::filesystem::exists(browser::device_binary()))
      GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
    if (!linkem_binary()) GTEST_SKIP() << "cellrtc-linkem not built (and no CELLRTC_LINKEM)";
    if (!profile_exists(profile)) GTEST_SKIP() << "no tools/linkem/profiles/" << profile << ".toml";
    std::vector<std::string> all = {"--profile", profile};
    all.insert(all.end(), args.begin(), args.end());
    std::string error;
    lab_ = LabNetwork::up(prefix, all, &error);
    ASSERT_TRUE(lab_) << error;
  }

  // A file the lab keeps for this run (turn-secret, turn-cert.pem).
  std::string state_file(const std::string& name) const {
    return "/run/cellrtc-lab/" + lab_->prefix() + "/" + name;
  }

  // cellrtc-server in P-srv on the lab's public address.
  browser::ServerOptions server_options(const std::string& device, const std::string& device_token,
                                        const std::string& viewer_token,
                                        std::vector<std::string> extra_args = {}) const {
    return {.device_id = device,
            .device_token = device_token,
            .viewer_token = viewer_token,
            .command_prefix = lab_->exec_prefix("srv"),
            .netns = lab_->netns("srv"),
            .address = kLabServerAddress,
            .http_port = kLabHttpPort,
            .udp_port = kLabUdpPort,
            .public_ip = kLabServerAddress,
            .extra_args = std::move(extra_args)};
  }

  void TearDown() override {
    if (driver_) driver_->close();
    driver_.reset();
    device_.reset();
    server_.reset();
    lab_.reset();
  }

  std::unique_ptr<LabNetwork> lab_;
  std::unique_ptr<browser::ServerProcess> server_;
  std::unique_ptr<browser::DeviceProcess> device_;
  std::unique_ptr<browser::ViewerDriver> driver_;
};

}  // namespace cellrtc::lab
