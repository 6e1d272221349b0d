// The device agent's transports (--transport, docs/architecture.md "Transports") against the
// real cellrtc-server on loopback. A device with --transport tcp has no UDP socket: its active
// ICE-TCP candidate (RFC 6544) reaches the passive one the server offers on its HTTP port
// (--ice-tcp-shared), and a WHEP viewer (our PeerConnection over UDP) receives its frames in
// order; the agent's drivers counted not one UDP datagram. With --transport auto the same
// server is reached over UDP, which ICE prefers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "device/agent.h"
#include "device/source_spec.h"
#include "process/frame_watch.h"
#include "process/server_process.h"

namespace cellrtc::process {
namespace {

constexpr const char* kToken = "transport-device-token-0123456789";

// The agent on a thread of its own (its WHIP calls block its loop), its log lines kept.
class DeviceThread {
 public:
  DeviceThread(const ServerProcess& server, device::IceTransport transport) {
    device::AgentConfig config;
    config.whip.url = server.listening();
    config.whip.token = kToken;
    config.whip.request_timeout = seconds(5);
    config.bind = {IpAddress::loopback_v4()};
    config.transport = transport;
    config.log_format = device::LogFormat::json;
    config.quiet = true;
    auto source = device::open_source("testpattern:160x120");
    EXPECT_TRUE(source.ok());
    if (!source) return;
    auto made = device::Agent::create(
        std::move(config), std::move(*source), [this](const std::string& line) {
          std::lock_guard<std::mutex> lock(mutex_);
          lines_.push_back(line);
          if (line.find("\"state\":\"streaming\"") != std::string::npos) streaming_ = true;
        });
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error());
    if (!made) return;
    agent_ = std::move(*made);
    thread_ = std::thread([this] { agent_->run(agent_->now() + seconds(60)); });
  }
  ~DeviceThread() { stop(); }

  bool wait_streaming(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!streaming_ && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return streaming_;
  }
  // Stops the agent (DELETE) and joins its thread; its stats are then safe to read.
  void stop() {
    if (!thread_.joinable()) return;
    agent_->stop();
    thread_.join();
  }
  const device::AgentStats& stats() const { return agent_->stats(); }
  std::string line_with(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& l : lines_)
      if (l.find(text) != std::string::npos) return l;
    return {};
  }
  std::string log() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& l : lines_)
      out += l + "\n";
    return out;
  }

 private:
  std::unique_ptr<device::Agent> agent_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::atomic<bool> streaming_{false};
};

TEST(DeviceTransport, TcpOnlyDeviceStreamsThroughTheSharedHttpPortWithoutUdp) {
  std::string error;
  auto server =
      ServerProcess::start({"--device", std::string("cam:") + kToken, "--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  DeviceThread device(*server, device::IceTransport::tcp);
  ASSERT_TRUE(device.wait_streaming(std::chrono::seconds(20)))
      << device.log() << server->log_tail();
  std::printf("[ transport ] tcp: %s\n", device.line_with("\"timeline\"").c_str());
  EXPECT_THAT(device.line_with("\"state\":\"streaming\""), ::testing::HasSubstr("over tcp"));

  // A viewer over UDP watches it.
  ASSERT_NO_FATAL_FAILURE(watch_frames_in_order(server->http_port(), "cam", 10,
                                                [&] { return device.log() + server->log_tail(); }));

  device.stop();
  const device::AgentStats& stats = device.stats();
  EXPECT_EQ(stats.udp_sockets, 0u);
  EXPECT_EQ(stats.udp_datagrams_sent, 0u);
  EXPECT_GE(stats.tcp_connections, 1u);
  EXPECT_GT(stats.tcp_messages_sent, 0u);
  EXPECT_GE(stats.frames_sent, 10u);
  EXPECT_EQ(stats.sessions, 1u);
}

TEST(DeviceTransport, AutoPrefersUdpWhenTheServerAlsoOffersTcp) {
  std::string error;
  auto server =
      ServerProcess::start({"--device", std::string("cam:") + kToken, "--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  DeviceThread device(*server, device::IceTransport::automatic);
  ASSERT_TRUE(device.wait_streaming(std::chrono::seconds(20)))
      << device.log() << server->log_tail();
  EXPECT_THAT(device.line_with("\"state\":\"streaming\""), ::testing::HasSubstr("over udp"));
  // The first frame is sent with the timeline record; wait for it before stopping.
  for (int i = 0; i < 200 && device.line_with("\"timeline\"").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::printf("[ transport ] auto: %s\n", device.line_with("\"timeline\"").c_str());
  device.stop();
  EXPECT_GT(device.stats().udp_datagrams_sent, 0u);
  EXPECT_EQ(device.stats().sessions, 1u);
}

}  // namespace
}  // namespace cellrtc::process
