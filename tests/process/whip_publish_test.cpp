// A device publishing to the real cellrtc-server over its real UDP port: our core
// PeerConnection offers the two channels of docs/protocol.md, the WHIP POST returns the relay's
// answer, ICE/DTLS/SCTP come up on loopback and both channels open; WebSocket subscribers see
// the device go live and, after the DELETE, offline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/media/frame_header.h"
#include "process/http_client.h"
#include "process/loopback_peer.h"
#include "process/server_process.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "support/peer_endpoint.h"

namespace cellrtc::process {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Reads events until one satisfies `match` (at most 50 messages or 20 s).
std::optional<nlohmann::json> wait_event(WebSocketClient& ws,
                                         const std::function<bool(const nlohmann::json&)>& match) {
  auto end = std::chrono::steady_clock::now() + 20s;
  for (int i = 0; i < 50 && std::chrono::steady_clock::now() < end; ++i) {
    auto text = ws.read(std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now()));
    if (!text) return std::nullopt;
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (!json.is_discarded() && match(json)) return json;
  }
  return std::nullopt;
}

TEST(WhipPublish, DeviceChannelsOpenThroughTheRealServer) {
  std::string error;
  auto server = ServerProcess::start({"--device", "cam:cam-token-0123456789abcdef"}, &error);
  ASSERT_TRUE(server) << error;
  WebSocketClient ws;
  ASSERT_TRUE(ws.connect(server->http_port())) << ws.error();
  ASSERT_TRUE(ws.read(10s)) << ws.error();  // the snapshot

  LoopbackPeer peer;
  ASSERT_NO_FATAL_FAILURE(peer.start("cellrtc-test-device"));
  testing::PeerEndpoint& device = peer.endpoint();
  runtime::EventLoop& loop = peer.loop();
  runtime::EndpointDriver& driver = peer.driver();

  auto created = http_request(server->http_port(),
                              {.method = "POST",
                               .target = "/whip",
                               .headers = {{"Content-Type", "application/sdp"},
                                           {"Authorization", "Bearer cam-token-0123456789abcdef"}},
                               .body = peer.offer()});
  ASSERT_EQ(created.status, 201) << created.error << created.body << server->log_tail();
  EXPECT_EQ(created.header("Content-Type"), "application/sdp");
  std::string location = created.header("Location");
  EXPECT_THAT(location, ::testing::StartsWith("/whip/"));
  // The answer names the server's media port on loopback.
  EXPECT_THAT(created.body, HasSubstr("127.0.0.1 " + std::to_string(server->media_port())));

  Instant now = loop.now();
  auto set = device.pc.set_remote_description(now, created.body);
  ASSERT_TRUE(set) << set.error().reason;
  device.drain(now);
  driver.wake();
  bool open = loop.run_until([&] { return device.open.size() == 2 || device.failure; },
                             loop.now() + seconds(20));
  ASSERT_TRUE(open && device.open.size() == 2)
      << (device.failure ? *device.failure : "timeout") << "\n"
      << server->log_tail();

  // The device is live with its first frame (docs/protocol.md: a header, then the JPEG).
  std::optional<uint16_t> video;
  for (const auto& [id, label] : device.open) {
    if (label == "video") video = id;
  }
  ASSERT_TRUE(video);
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9};
  now = loop.now();
  auto frame = media::encode_frame(
      {.sequence = 1, .capture_time_us = 1000, .width = 16, .height = 16, .quality = 50}, jpeg);
  auto sent = device.pc.send(now, *video, frame, true);
  ASSERT_TRUE(sent) << sent.error().reason;
  device.drain(now);
  driver.wake();
  loop.run_for(milliseconds(300));

  auto live = wait_event(ws, [](const nlohmann::json& e) {
    return e.value("type", "") == "device" && e.value("id", "") == "cam" &&
           e.value("state", "") == "live";
  });
  EXPECT_TRUE(live) << ws.error();
  auto devices = http_get(server->http_port(), "/api/devices");
  EXPECT_THAT(devices.body, HasSubstr("\"online\":true"));
  EXPECT_THAT(http_get(server->http_port(), "/metrics").body,
              HasSubstr("cellrtc_devices_online 1"));
  EXPECT_THAT(http_get(server->http_port(), "/metrics").body,
              HasSubstr("cellrtc_frames_in_total 1\n"));

  auto deleted = http_request(server->http_port(), {.method = "DELETE", .target = location});
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  loop.run_for(milliseconds(200));
  auto gone = wait_event(ws, [](const nlohmann::json& e) {
    return e.value("type", "") == "device" && e.value("id", "") == "cam" &&
           e.value("state", "") != "live";
  });
  EXPECT_TRUE(gone) << ws.error();
}

}  // namespace
}  // namespace cellrtc::process
