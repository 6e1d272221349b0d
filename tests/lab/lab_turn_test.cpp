// TURN in the cellular lab (docs/lab.md): the device reaches cellrtc-server only through the
// lab's coturn (P-turn, 203.0.113.20), with the time-limited credentials the server hands out
// with its WHIP answer (the server holds coturn's static secret, the device none).
//  - UDP blocked at the carrier NAT (--block-udp): TURN over TLS on 5349 carries the stream
//    and the viewer page draws frames.
//  - A dead TURN server (an address where nothing answers) listed before the working one:
//    the device streams on the working one without waiting for the dead one to be given up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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

constexpr const char* kPrefix = "clturn";
constexpr const char* kProfile = "lte-cat1";
constexpr const char* kTurnName = "turn.cellrtc.lab";  // the lab certificate's name
constexpr const char* kTurnAddress = "203.0.113.20";
constexpr const char* kDeadAddress = "203.0.113.30";  // on the lab's internet, nobody there
constexpr const char* kDevice = "turncam";
constexpr const char* kViewerToken = "lab-viewer-token";

// The device's log line containing `needle`, and its position among the lines (-1: none).
std::pair<int, std::string> find_line(const std::string& log, const std::string& needle) {
  std::istringstream in(log);
  int i = 0;
  for (std::string line; std::getline(in, line); ++i)
    if (line.find(needle) != std::string::npos) return {i, line};
  return {-1, {}};
}

// Milliseconds since midnight of a device log line's "2026-11-24T23:20:01.438Z" time stamp.
int64_t line_ms(const std::string& line) {
  if (line.size() < 24 || line[10] != 'T') return -1;
  const int h = std::stoi(line.substr(11, 2)), m = std::stoi(line.substr(14, 2));
  const int s = std::stoi(line.substr(17, 2)), ms = std::stoi(line.substr(20, 3));
  return ((h * 60 + m) * 60 + s) * 1000 + ms;
}

class LabTurnTest : public LabCallTest {
 protected:
  void up(const std::vector<std::string>& args) {
    bring_up(kPrefix, kProfile, args);
    if (IsSkipped() || HasFatalFailure()) return;
    secret_ = read_text(state_file("turn-secret"));
    ASSERT_FALSE(secret_.empty()) << "no " << state_file("turn-secret");
  }

  void start(const std::vector<std::string>& turn_urls) {
    std::vector<std::string> server_args = {"--turn-secret=" + secret_};
    for (const auto& url : turn_urls)
      server_args.push_back("--turn-url=" + url);
    std::string error;
    server_ = ServerProcess::start(
        server_options(kDevice, "lab-device-token", kViewerToken, server_args), &error);
    ASSERT_TRUE(server_) << error;
    device_ = DeviceProcess::start(
        *server_,
        {.source = "testpattern:320x240",
         .fps = 10,
         .bind = "",
         .command_prefix = lab_->exec_prefix("dev"),
         .extra_args = {"--ice-transport-policy=relay",
                        std::string("--resolve=") + kTurnName + "=" + kTurnAddress,
                        "--ca-file=" + state_file("turn-cert.pem")}},
        &error);
    ASSERT_TRUE(device_) << error;
  }

  std::string secret_;
};

TEST_F(LabTurnTest, WithUdpBlockedTheDeviceStreamsOverTurnTls) {
  up({"--block-udp"});
  if (IsSkipped() || HasFatalFailure()) return;
  start({std::string("turns:") + kTurnName + ":5349?transport=tcp"});
  if (HasFatalFailure()) return;
  ASSERT_TRUE(server_->wait_device_state(kDevice, "live", 40s))
      << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();
  const std::string log = device_->log_tail(65536);
  auto [at, allocated] = find_line(log, "relay: allocated");
  ASSERT_GE(at, 0) << log;
  EXPECT_NE(allocated.find(std::string(" on turns:") + kTurnName + ":5349"), std::string::npos)
      << allocated;
  std::printf("[ lab ] %s\n", allocated.c_str());
  // The state line names the path by the relay's transport to its server, not "udp".
  auto [streaming_at, streaming] = find_line(log, "state: streaming");
  ASSERT_GE(streaming_at, 0) << log;
  EXPECT_NE(streaming.find("over turn-tls"), std::string::npos) << streaming;

  std::string error;
  driver_ = ViewerDriver::start(&error, 60s, lab_->exec_prefix("viewer"));
  ASSERT_TRUE(driver_) << error;
  const std::string page = server_->url("/") + "?device=" + kDevice + "&token=" + kViewerToken;
  ASSERT_TRUE(driver_->request({{"type", "open"}, {"url", page}, {"viewers", 1}}))
      << driver_->last_error();
  auto drawn = browser::wait_stats(
      *driver_, 0, 30s, [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 5; });
  ASSERT_TRUE(drawn) << driver_->last_error();
  const auto& stats = (*drawn)["stats"];
  ASSERT_GE(stats.value("framesDrawn", 0), 5) << drawn->dump() << "\ndevice: " << log;
  EXPECT_EQ(browser::strictly_increasing(browser::int_list(stats["seqs"])), "") << drawn->dump();
}

TEST_F(LabTurnTest, ADeadFirstTurnServerDoesNotDelayTheStream) {
  up({});
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string dead = std::string("turn:") + kDeadAddress + ":3478?transport=udp";
  const std::string good = std::string("turn:") + kTurnAddress + ":3478?transport=udp";
  start({dead, good});
  if (HasFatalFailure()) return;
  // Live: the server has the device's first frame.
  ASSERT_TRUE(server_->wait_device_state(kDevice, "live", 40s))
      << "server: " << server_->log_tail() << "\ndevice: " << device_->log_tail();
  const std::string log = device_->log_tail(65536);
  auto [session_at, session] = find_line(log, "session: ");
  auto [allocated_at, allocated] = find_line(log, "relay: allocated");
  auto [streaming_at, streaming] = find_line(log, "state: streaming");
  ASSERT_GE(session_at, 0) << log;
  ASSERT_GE(allocated_at, 0) << log;
  ASSERT_GE(streaming_at, 0) << log;
  EXPECT_NE(allocated.find(" on " + good + " in "), std::string::npos) << allocated;
  // The dead server is given up 10 s after the session started (allocation_timeout); the
  // stream must not have waited for that: streaming comes before the dead server's failure
  // (if that is logged yet at all) and well within its timeout.
  auto [dead_at, dead_failed] = find_line(log, dead + " failed");
  if (dead_at >= 0) {
    EXPECT_LT(streaming_at, dead_at) << log;
  }
  const int64_t to_streaming = line_ms(streaming) - line_ms(session);
  const int64_t to_allocated = line_ms(allocated) - line_ms(session);
  std::printf("[ lab ] answer -> relayed candidate %lld ms, answer -> channels open %lld ms\n",
              static_cast<long long>(to_allocated), static_cast<long long>(to_streaming));
  EXPECT_LT(to_streaming, 8000) << log;
}

}  // namespace
}  // namespace cellrtc::lab
