// Demand (docs/protocol.md, "demand") with the real programs on loopback: the device agent
// publishes to cellrtc-server while nobody watches; the server tells it so and the frames stop
// (the agent runs with no idle frames at all, idle_interval 0, so the count is exact); a WHEP
// viewer arrives and the live frames flow again at once, in order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "device/agent.h"
#include "device/source_spec.h"
#include "process/frame_watch.h"
#include "process/http_client.h"
#include "process/server_process.h"

namespace cellrtc::process {
namespace {

constexpr const char* kToken = "demand-device-token-0123456789";

// A metric's value from /metrics, or -1.
double metric(uint16_t port, const std::string& name) {
  std::istringstream lines(http_get(port, "/metrics").body);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

// Polls `done` every 50 ms for at most `limit`.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST(DeviceDemand, NoFramesWithoutAViewerAndLiveFramesWhenOneArrives) {
  std::string error;
  auto server = ServerProcess::start({"--device", std::string("cam:") + kToken}, &error);
  ASSERT_TRUE(server) << error;
  const uint16_t port = server->http_port();

  device::AgentConfig config;
  config.whip.url = server->listening();
  config.whip.token = kToken;
  config.whip.request_timeout = seconds(5);
  config.bind = {IpAddress::loopback_v4()};
  config.quiet = true;
  config.session.idle_interval = Duration(0);
  auto source = device::open_source("testpattern:160x120");
  ASSERT_TRUE(source.ok());
  std::atomic<bool> streaming{false};
  auto made =
      device::Agent::create(std::move(config), std::move(*source), [&](const std::string& line) {
        if (line.find("state: streaming") != std::string::npos) streaming = true;
      });
  ASSERT_TRUE(made.ok()) << (made.ok() ? "" : made.error());
  std::unique_ptr<device::Agent> agent = std::move(*made);
  std::thread thread([&] { agent->run(agent->now() + seconds(60)); });
  struct Join {
    device::Agent& agent;
    std::thread& thread;
    ~Join() {
      agent.stop();
      if (thread.joinable()) thread.join();
    }
  } join{*agent, thread};

  // Nobody watches: the server says so (its gauge), and the frames stop.
  ASSERT_TRUE(eventually([&] { return streaming.load(); }, std::chrono::seconds(20)))
      << server->log_tail();
  ASSERT_TRUE(eventually([&] { return metric(port, "cellrtc_devices_idle") == 1; },
                         std::chrono::seconds(10)))
      << server->log_tail();
  EXPECT_GE(metric(port, "cellrtc_demand_sent_total"), 1);
  // A frame the device sent before the demand reached it lands within a round trip on loopback.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_frames = metric(port, "cellrtc_frames_in_total");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(metric(port, "cellrtc_frames_in_total"), idle_frames);

  // A viewer: live frames again, in order.
  ASSERT_NO_FATAL_FAILURE(
      watch_frames_in_order(port, "cam", 10, [&] { return server->log_tail(); }));
  EXPECT_GE(metric(port, "cellrtc_frames_in_total"), idle_frames + 9);
  EXPECT_EQ(metric(port, "cellrtc_devices_idle"), 0);
}

}  // namespace
}  // namespace cellrtc::process
