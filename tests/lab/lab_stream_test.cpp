// End to end through the cellular lab (docs/lab.md): cellrtc-device behind the carrier NAT at the
// end of an HSPA radio link, cellrtc-server on its public address, the viewer page in headless
// Chromium behind a home NAT. Frames must arrive, in order, through both NATs, for longer than
// the carrier NAT's 30 s UDP timeout; afterwards lab.sh down must leave nothing behind.
// Correctness only: nothing here asserts a rate or a delay.

#include <gtest/gtest.h>
#include <unistd.h>

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
using Clock = std::chrono::steady_clock;

constexpr const char* kPrefix = "cltest";
constexpr const char* kProfile = "hspa";
constexpr const char* kCarrierNatAddress = "203.0.113.2";
constexpr const char* kViewerNatAddress = "203.0.113.3";
constexpr const char* kDevice = "labcam";
constexpr const char* kViewerToken = "lab-viewer-token";

// The server's "http request" log lines for `path_start` (key=value text, server/log.cpp).
std::vector<std::string> request_lines(const std::string& log, const std::string& method,
                                       const std::string& path_start) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("http request") != std::string::npos &&
        line.find("method=" + method + " ") != std::string::npos &&
        line.find("path=" + path_start) != std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

bool all_from(const std::vector<std::string>& lines, const std::string& address) {
  for (const auto& line : lines) {
    if (line.find("client=" + address) == std::string::npos) return false;
  }
  return !lines.empty();
}

// A conntrack line "udp 17 29 src=100.64.0.2 dst=203.0.113.10 sport=N dport=8443 ...".
bool has_media_mapping(const std::string& conntrack) {
  std::istringstream in(conntrack);
  const std::string destination = std::string("dst=") + kLabServerAddress + " ";
  const std::string port = "dport=" + std::to_string(kLabUdpPort) + " ";
  for (std::string line; std::getline(in, line);) {
    if (line.find("src=100.64.0.2 ") != std::string::npos &&
        line.find(destination) != std::string::npos && line.find(port) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The viewer's last drawn sequence number, -1 before the first.
int64_t last_seq_of(const nlohmann::json& stats) {
  const auto& seq = stats.value("lastSeq", nlohmann::json());
  return seq.is_number_integer() ? seq.get<int64_t>() : -1;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "  " + line + "\n";
  return out;
}

class LabStreamTest : public LabCallTest {
 protected:
  void SetUp() override { bring_up(kPrefix, kProfile, {}); }
};

TEST_F(LabStreamTest, FramesCrossBothNatsInOrderBeyondTheNatTimeoutAndTeardownIsClean) {
  std::string error;
  server_ = ServerProcess::start(server_options(kDevice, "lab-device-token", kViewerToken), &error);
  ASSERT_TRUE(server_) << error;
  device_ = DeviceProcess::start(*server_,
                                 {.source = "testpattern:320x240",
                                  .fps = 10,
                                  .bind = "",
                                  .command_prefix = lab_->exec_prefix("dev")},
                                 &error);
  ASSERT_TRUE(device_) << error;
  ASSERT_TRUE(server_->wait_device_state(kDevice, "live", 60s))
      << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();

  driver_ = ViewerDriver::start(&error, 240s, lab_->exec_prefix("viewer"));
  ASSERT_TRUE(driver_) << error;
  const std::string page = server_->url("/") + "?device=" + kDevice + "&token=" + kViewerToken;
  ASSERT_TRUE(driver_->request({{"type", "open"}, {"url", page}, {"viewers", 1}}))
      << driver_->last_error();

  auto first = browser::wait_stats(
      *driver_, 0, 60s, [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 10; });
  ASSERT_TRUE(first) << driver_->last_error();
  const auto& s1 = (*first)["stats"];
  ASSERT_GE(s1.value("framesDrawn", 0), 10) << first->dump() << "\nserver: " << server_->log_tail()
                                            << "\ndevice: " << device_->log_tail();
  EXPECT_EQ(browser::strictly_increasing(browser::int_list(s1["seqs"])), "") << first->dump();

  // About a minute of streaming, well past the carrier NAT's 30 s UDP timeout: every 10 s the
  // viewer has drawn more frames, all in order, none broken, on its first session.
  const auto started = Clock::now();
  int64_t drawn = s1.value("framesDrawn", 0);
  int64_t last_seq = last_seq_of(s1);
  while (Clock::now() - started < 60s) {
    const int64_t before = drawn;
    auto answer = browser::wait_stats(*driver_, 0, 30s, [&](const nlohmann::json& s) {
      return s.value("framesDrawn", 0) >= before + 5;
    });
    ASSERT_TRUE(answer) << driver_->last_error();
    const auto& s = (*answer)["stats"];
    ASSERT_GE(s.value("framesDrawn", 0), before + 5)
        << "frames stopped after "
        << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()
        << " s: " << answer->dump() << "\nserver: " << server_->log_tail()
        << "\ndevice: " << device_->log_tail();
    EXPECT_EQ(browser::strictly_increasing(browser::int_list(s["seqs"])), "") << answer->dump();
    ASSERT_GT(last_seq_of(s), last_seq) << answer->dump();
    EXPECT_EQ(s.value("badFrames", -1), 0) << answer->dump();
    EXPECT_EQ(s.value("sessions", -1), 1) << "the viewer had to reconnect: " << answer->dump();
    EXPECT_EQ(s.value("state", ""), "live") << answer->dump();
    drawn = s.value("framesDrawn", 0);
    last_seq = last_seq_of(s);
    std::this_thread::sleep_for(10s);
  }

  // The server saw the device only from the carrier NAT's public address and the viewer only
  // from its home NAT's: the lab's private addresses never reached it.
  const std::string log = server_->log();
  auto whip = request_lines(log, "POST", "/whip");
  auto whep = request_lines(log, "POST", "/whep/");
  EXPECT_TRUE(all_from(whip, kCarrierNatAddress)) << "WHIP requests:\n" << joined(whip);
  EXPECT_TRUE(all_from(whep, kViewerNatAddress)) << "WHEP requests:\n" << joined(whep);
  // The media went through the carrier NAT: a UDP mapping from the device to the server's
  // media port.
  auto mappings = lab_->exec("cgnat", {"conntrack", "-L", "-p", "udp"});
  ASSERT_TRUE(mappings) << "conntrack in " << lab_->netns("cgnat") << " failed";
  EXPECT_TRUE(has_media_mapping(*mappings)) << *mappings;

  // Teardown: the viewer closes; the server and the device are still running in their
  // namespaces and lab.sh down has to stop them.
  driver_->close();
  driver_.reset();
  ASSERT_TRUE(lab_->down(&error)) << error;
  EXPECT_EQ(lab_->leftovers(), std::vector<std::string>{});
  EXPECT_FALSE(server_->running());
}

}  // namespace
}  // namespace cellrtc::lab
