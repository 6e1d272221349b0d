// Three viewer pages on one device through the real cellrtc-server: each gets the device's
// numbered frames in order and without duplicates; a viewer on a throttled network gets fewer
// frames while the other two keep getting all of them; and the device going away and coming back
// shows on every viewer as reconnecting (or offline), then live again.
//
// What throttles a data-channel receiver (measured on Chromium 156): slowing the page's own
// receiving does not. Chromium hands every SCTP message from its network thread to the page as
// a task, so a busy page or a slow decoder only queues messages in the renderer; the SCTP window
// the server sees stays open and the server sends as fast as ever (the page's newest-wins decoder
// then skips frames, which viewer_page_test covers). What does is CDP's
// Network.emulateNetworkConditions: its download throughput applies to WebRTC sockets too, but
// only to connections created after it is set (set on a running connection it changed nothing),
// so the throttled page gets it before it opens the player. Its packets then arrive late or are
// lost, the server's SCTP association to that viewer slows down, and the relay has to choose
// which frames that viewer still gets.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"

namespace cellrtc::browser {
namespace {

using namespace std::chrono_literals;

constexpr int kViewers = 3;
constexpr int kThrottled = 2;       // the third viewer
constexpr int kThrottledKbps = 60;  // far below the test pattern's 1 to 1.5 Mbit/s at 10 fps
constexpr int kThrottledQueuePackets = 32;  // about 5 s of 1200-byte packets at 60 kbit/s

TEST(FanoutTest, ThreeViewersGetFramesInOrderOneThrottledAndTheDeviceComesBack) {
  if (!std::filesystem::exists(server_binary()) || !std::filesystem::exists(device_binary())) {
    GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
  }
  std::string error;
  auto server = ServerProcess::start({.device_id = "cam1", .reconnect_grace_seconds = 30}, &error);
  ASSERT_TRUE(server) << error;
  auto device = DeviceProcess::start(*server, {}, &error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s))
      << "server: " << server->log_tail() << "\ndevice: " << device->log_tail();
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;

  ASSERT_TRUE(driver->request({{"type", "open"}, {"url", server->url("/")}, {"viewers", kViewers}}))
      << driver->last_error();
  // Before the player opens: CDP's WebRTC throttling applies to connections created afterwards.
  // A bounded queue, as a real bottleneck has: with an unbounded one a sender whose rate
  // estimate runs ahead of the throttle builds a queue of tens of seconds on a loaded machine,
  // and the control messages (reconnecting, live) wait behind it longer than this test does.
  ASSERT_TRUE(driver->request({{"type", "throttle"},
                               {"viewer", kThrottled},
                               {"kbps", kThrottledKbps},
                               {"queue_packets", kThrottledQueuePackets}}))
      << driver->last_error();
  for (int v = 0; v < kViewers; ++v) {
    ASSERT_TRUE(driver->request({{"type", "click"}, {"viewer", v}, {"device", "cam1"}}))
        << driver->last_error();
  }

  // Let the stream run until the throttled viewer has its first frames and, from then on, the
  // unthrottled ones have a good number more.
  auto throttled = wait_stats(*driver, kThrottled, 30s, [](const nlohmann::json& st) {
    return st.value("framesReceived", 0) >= 2;
  });
  ASSERT_TRUE(throttled) << driver->last_error();
  ASSERT_GE((*throttled)["stats"].value("framesReceived", 0), 2) << throttled->dump();
  for (int v = 0; v < kViewers; ++v) {
    if (v == kThrottled) continue;
    auto base = driver->stats(v);
    ASSERT_TRUE(base) << driver->last_error();
    const int wanted = (*base)["stats"].value("framesReceived", 0) + 40;
    auto s = wait_stats(*driver, v, 30s, [&](const nlohmann::json& st) {
      return st.value("framesReceived", 0) >= wanted;
    });
    ASSERT_TRUE(s) << driver->last_error();
    ASSERT_GE((*s)["stats"].value("framesReceived", 0), wanted)
        << "viewer " << v << ": " << s->dump();
  }
  std::vector<nlohmann::json> stats;
  for (int v = 0; v < kViewers; ++v) {
    auto s = driver->stats(v);
    ASSERT_TRUE(s) << driver->last_error();
    stats.push_back((*s)["stats"]);
  }

  // Every viewer: in order, no duplicates, nothing that was not a frame.
  std::vector<std::vector<int64_t>> received;
  for (int v = 0; v < kViewers; ++v) {
    received.push_back(int_list(stats[v]["receivedSeqs"]));
    EXPECT_EQ(strictly_increasing(received[v]), "") << "viewer " << v;
    EXPECT_EQ(strictly_increasing(int_list(stats[v]["seqs"])), "") << "viewer " << v;
    EXPECT_EQ(stats[v].value("badFrames", -1), 0) << "viewer " << v;
    EXPECT_EQ(stats[v].value("state", ""), "live") << "viewer " << v;
  }
  ASSERT_FALSE(received[kThrottled].empty()) << "the throttled viewer got no frame at all";

  // Over the sequence numbers all three were watching, the two unthrottled viewers got (nearly)
  // every frame either of them got: whatever the device sent, the server forwarded to both; a
  // frame or two may go missing for one of them on a loaded machine (newest frame wins per
  // viewer). The throttled one got clearly fewer.
  const int64_t from =
      std::max({received[0].front(), received[1].front(), received[kThrottled].front()});
  const int64_t to = std::min(received[0].back(), received[1].back());
  ASSERT_GT(to - from, 20) << "too short a common stretch: " << from << ".." << to;
  auto window = [&](const std::vector<int64_t>& seqs) {
    std::set<int64_t> w;
    for (auto s : seqs) {
      if (s >= from && s <= to) w.insert(s);
    }
    return w;
  };
  const auto w0 = window(received[0]);
  const auto w1 = window(received[1]);
  const auto wt = window(received[kThrottled]);
  std::set<int64_t> both = w0;
  both.insert(w1.begin(), w1.end());
  std::printf("frames %lld..%lld: unthrottled viewers %zu and %zu of %zu, throttled viewer %zu\n",
              static_cast<long long>(from), static_cast<long long>(to), w0.size(), w1.size(),
              both.size(), wt.size());
  EXPECT_GE(w0.size() * 10, both.size() * 9) << "viewer 0 missed frames viewer 1 got";
  EXPECT_GE(w1.size() * 10, both.size() * 9) << "viewer 1 missed frames viewer 0 got";
  // "Fewer" with a margin, not a ratio of the throttle: CDP's throttling leaks more on a
  // loaded machine (ASan), where the throttled viewer was seen getting 72 % of the frames.
  EXPECT_LT(wt.size() * 10, both.size() * 8)
      << "throttled viewer: " << wt.size() << " frames of " << from << ".." << to << ", the others "
      << both.size();

  // The device vanishes (SIGKILL: no DELETE) and comes back at once, as a device that lost its
  // link and dialled in again would: its new WHIP session replaces the old one, which the
  // viewers see as reconnecting until the new session's first frame makes the device live again.
  // (Without a new session the server would notice the loss only when ICE consent runs out,
  // tens of seconds later: too long for this test.)
  std::vector<int> drawn_before;
  for (int v = 0; v < kViewers; ++v)
    drawn_before.push_back(stats[v].value("framesDrawn", 0));
  device->kill();
  device = DeviceProcess::start(*server, {}, &error);
  ASSERT_TRUE(device) << error;
  for (int v = 0; v < kViewers; ++v) {
    auto s = wait_stats(*driver, v, 30s, [&](const nlohmann::json& st) {
      return st.value("framesDrawn", 0) >= drawn_before[v] + 5 &&
             (states_went(st, "reconnecting", "live") || states_went(st, "offline", "live"));
    });
    ASSERT_TRUE(s) << driver->last_error();
    const auto& st = (*s)["stats"];
    EXPECT_EQ(st.value("state", ""), "live") << "viewer " << v << ": " << s->dump();
    EXPECT_GE(st.value("framesDrawn", 0), drawn_before[v] + 5) << "viewer " << v;
    std::printf("viewer %d states %s\n", v, st["states"].dump().c_str());
    EXPECT_TRUE(states_went(st, "reconnecting", "live") || states_went(st, "offline", "live"))
        << "viewer " << v << ": " << st["states"].dump() << "\n"
        << server->log_tail();
  }
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser
