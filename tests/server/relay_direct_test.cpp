// Direct mode's signaling through the relay under virtual time (docs/protocol.md, "Direct
// mode"): a viewer's WHEP offer goes to the device over its control channel, the device's
// answer comes back in the 201, trickle and DELETE follow; beyond the limit, or when the device
// is silent, the relay serves the viewer (direct-then-relay) or the POST fails (direct).
#include <gtest/gtest.h>

#include "core/media/control_message.h"
#include "server/turn_credentials.h"
#include "support/relay_scenario.h"

namespace cellrtc::testing {
namespace {

server::ServerConfig direct_config(server::DeviceMode mode, size_t limit = 2) {
  server::ServerConfig c = relay_test_config();
  server::DeviceDirectSettings direct;
  direct.id = "cam1";
  direct.mode = mode;
  direct.direct_viewers = limit;
  c.device_direct.push_back(direct);
  return c;
}

struct DirectFixture {
  explicit DirectFixture(server::ServerConfig config,
                         sim::Attachment device_link = fixed_link(milliseconds(20)))
      : s(std::move(config)) {
    device = &s.add_client("device", "203.0.113.10", device_link);
    EXPECT_EQ(s.connect(*device, "/whip", "device-token-1").status, 201);
    EXPECT_TRUE(s.run_until_open({device}));
    // The relay's first ping says that it has the device's control channel.
    EXPECT_TRUE(s.net.run_until([&] { return !device->control_messages("ping").empty(); },
                                s.net.now() + seconds(2)));
  }

  // A viewer's offer POSTed to /whep/cam1.
  server::HttpResponse post(RelayClient& viewer, const std::string& query = {}) {
    server::HttpRequest req;
    req.method = "POST";
    req.target = "/whep/cam1" + query;
    req.headers.push_back({"Content-Type", "application/sdp"});
    req.headers.push_back({"Origin", "https://viewer.example"});
    offer = viewer.ep->pc.create_offer(s.net.now()).value();
    req.body = offer;
    return s.http(req);
  }

  // The offer the device got for viewer `id` (or the first one's id when empty), joined.
  std::string offer_at_device(std::string* id = nullptr) {
    std::string sdp;
    for (const auto& m : device->control_messages("direct-offer")) {
      if (id && id->empty()) *id = m["id"];
      if (id && m["id"] != *id) continue;
      sdp += m["sdp"].get<std::string>();
    }
    return sdp;
  }

  std::optional<server::DeferredResponse> wait_deferred(Duration limit) {
    std::optional<server::DeferredResponse> r;
    s.net.run_until(
        [&] {
          r = s.relay->relay.poll_deferred_response();
          return r.has_value();
        },
        s.net.now() + limit);
    return r;
  }

  RelayScenario s;
  RelayClient* device = nullptr;
  std::string offer;
};

TEST(RelayDirect, OfferGoesToTheDeviceAndItsAnswerComesBackThenTrickleAndDelete) {
  DirectFixture f(direct_config(server::DeviceMode::direct));
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  auto posted = f.post(viewer);
  ASSERT_NE(posted.deferred, 0u);
  auto listed = nlohmann::json::parse(f.s.request("GET", "/api/devices").body);
  EXPECT_EQ(listed[0]["mode"], "direct");
  EXPECT_EQ(listed[0]["direct_viewers"], 1);
  EXPECT_EQ(listed[0]["viewers"], 0);

  std::string id;
  ASSERT_TRUE(f.s.net.run_until([&] { return f.offer_at_device(&id) == f.offer; },
                                f.s.net.now() + seconds(1)));
  // The answer in two parts, as a device sends one larger than a control message.
  std::string answer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  f.s.send_control(*f.device, nlohmann::json{{"type", "direct-answer"},
                                             {"id", id},
                                             {"part", 0},
                                             {"parts", 2},
                                             {"sdp", answer.substr(0, 20)}}
                                  .dump());
  f.s.send_control(*f.device, nlohmann::json{{"type", "direct-answer"},
                                             {"id", id},
                                             {"part", 1},
                                             {"parts", 2},
                                             {"sdp", answer.substr(20)}}
                                  .dump());
  auto done = f.wait_deferred(seconds(1));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->id, posted.deferred);
  EXPECT_EQ(done->response.status, 201);
  EXPECT_EQ(done->response.body, answer);
  ASSERT_NE(done->response.header("Location"), nullptr);
  EXPECT_EQ(*done->response.header("Location"), "/whep/cam1/" + id);
  EXPECT_EQ(*done->response.header("Cellrtc-Path"), "direct");
  EXPECT_NE(done->response.header("Access-Control-Allow-Origin"), nullptr);

  auto patch = f.s.request("PATCH", "/whep/cam1/" + id,
                           {{"Content-Type", "application/trickle-ice-sdpfrag"}},
                           "a=candidate:1 1 udp 2130706431 192.0.2.10 5000 typ host\r\n"
                           "a=end-of-candidates\r\n");
  EXPECT_EQ(patch.status, 204);
  ASSERT_TRUE(
      f.s.net.run_until([&] { return f.device->control_messages("direct-candidate").size() == 2; },
                        f.s.net.now() + seconds(1)));
  auto candidates = f.device->control_messages("direct-candidate");
  EXPECT_EQ(candidates[0]["id"], id);
  EXPECT_NE(candidates[0]["candidate"].get<std::string>().find("192.0.2.10 5000 typ host"),
            std::string::npos);
  EXPECT_EQ(candidates[1]["end"], true);

  EXPECT_EQ(f.s.request("DELETE", "/whep/cam1/" + id).status, 200);
  ASSERT_TRUE(f.s.net.run_until([&] { return !f.device->control_messages("direct-close").empty(); },
                                f.s.net.now() + seconds(1)));
  EXPECT_EQ(f.device->control_messages("direct-close").front()["id"], id);
  EXPECT_EQ(f.s.request("DELETE", "/whep/cam1/" + id).status, 404);
}

TEST(RelayDirect, BeyondTheLimitTheRelayServes) {
  DirectFixture f(direct_config(server::DeviceMode::direct, 1));
  auto& first = f.s.add_client("viewer1", "192.0.2.10");
  EXPECT_NE(f.post(first).deferred, 0u);
  auto& second = f.s.add_client("viewer2", "192.0.2.11");
  auto r = f.s.connect(second, "/whep/cam1", "");
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(*r.header("Cellrtc-Path"), "relay");
  ASSERT_TRUE(f.s.run_until_open({&second}));
  EXPECT_EQ(f.device->control_messages("direct-offer").size(), 1u);
}

TEST(RelayDirect, SilentDeviceInDirectModeIs504) {
  DirectFixture f(direct_config(server::DeviceMode::direct));
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  auto posted = f.post(viewer);
  ASSERT_NE(posted.deferred, 0u);
  auto done = f.wait_deferred(seconds(10));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->response.status, 504);
  ASSERT_TRUE(f.s.net.run_until([&] { return !f.device->control_messages("direct-close").empty(); },
                                f.s.net.now() + seconds(1)));
}

// The device's answer may wait for relayed candidates up to media::kDirectGatherLimit after
// the offer reached it; on an EDGE link (tools/linkem/profiles/edge.toml: 250 ms + up to 60 ms
// each way, 200/240 kbit/s) it still reaches the server inside its kDirectAnswerWait. The
// same answer kDirectAnswerMargin later does not: the server has given the viewer up.
TEST(RelayDirect, AnAnswerSentAtTheDevicesGatherLimitOverEdgeArrivesInTime) {
  auto edge = [] {
    sim::LinkConfig up, down;
    up.rate_bps = 200'000;
    down.rate_bps = 240'000;
    up.delay = down.delay = milliseconds(250);
    up.jitter = down.jitter = milliseconds(60);
    up.queue_limit_bytes = 50'000;
    down.queue_limit_bytes = 60'000;
    return sim::Attachment{up, down};
  };
  // A 2.4 KB answer in parts, about what a device with host and relayed candidates sends.
  const std::string answer =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + std::string(2400, 'a') + "\r\n";
  auto answer_after = [&](Duration gathering) {
    DirectFixture f(direct_config(server::DeviceMode::direct), edge());
    auto& viewer = f.s.add_client("viewer", "192.0.2.10");
    auto posted = f.post(viewer);
    EXPECT_NE(posted.deferred, 0u);
    std::string id;
    EXPECT_TRUE(f.s.net.run_until([&] { return f.offer_at_device(&id) == f.offer; },
                                  f.s.net.now() + seconds(5)));
    EXPECT_TRUE(f.s.net.run_for(gathering).ok());
    const size_t parts = (answer.size() + 1199) / 1200;
    for (size_t part = 0; part < parts; ++part)
      f.s.send_control(*f.device, nlohmann::json{{"type", "direct-answer"},
                                                 {"id", id},
                                                 {"part", part},
                                                 {"parts", parts},
                                                 {"sdp", answer.substr(part * 1200, 1200)}}
                                      .dump());
    auto done = f.wait_deferred(seconds(10));
    EXPECT_TRUE(done);
    return done ? done->response : server::HttpResponse{};
  };
  auto in_time = answer_after(media::kDirectGatherLimit);
  EXPECT_EQ(in_time.status, 201);
  ASSERT_NE(in_time.header("Cellrtc-Path"), nullptr);
  EXPECT_EQ(*in_time.header("Cellrtc-Path"), "direct");
  EXPECT_EQ(in_time.body, answer);
  EXPECT_EQ(answer_after(media::kDirectGatherLimit + media::kDirectAnswerMargin).status, 504);
}

TEST(RelayDirect, SilentDeviceInDirectThenRelayModeIsServedByTheRelay) {
  DirectFixture f(direct_config(server::DeviceMode::direct_then_relay));
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  auto posted = f.post(viewer);
  ASSERT_NE(posted.deferred, 0u);
  auto done = f.wait_deferred(seconds(10));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->response.status, 201);
  EXPECT_EQ(*done->response.header("Cellrtc-Path"), "relay");
  EXPECT_NE(done->response.header("Access-Control-Allow-Origin"), nullptr);
  ASSERT_TRUE(viewer.ep->pc.set_remote_description(f.s.net.now(), done->response.body).ok());
  viewer.ep->drain(f.s.net.now());
  f.s.net.wake(*viewer.ep);
  ASSERT_TRUE(f.s.run_until_open({&viewer}));
}

TEST(RelayDirect, DeviceThatRefusesOrIsAbsentLeavesTheViewerToTheRelay) {
  DirectFixture f(direct_config(server::DeviceMode::direct));
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  auto posted = f.post(viewer);
  std::string id;
  ASSERT_TRUE(f.s.net.run_until([&] { return !f.offer_at_device(&id).empty(); },
                                f.s.net.now() + seconds(1)));
  f.s.send_control(*f.device,
                   nlohmann::json{{"type", "direct-error"}, {"id", id}, {"reason", "busy"}}.dump());
  auto done = f.wait_deferred(seconds(1));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->response.status, 201);
  EXPECT_EQ(*done->response.header("Cellrtc-Path"), "relay");

  // A viewer that asks for the relay gets it at once.
  auto& other = f.s.add_client("other", "192.0.2.11");
  auto relayed = f.post(other, "?path=relay");
  EXPECT_EQ(relayed.status, 201);
  EXPECT_EQ(relayed.deferred, 0u);
  EXPECT_EQ(*relayed.header("Cellrtc-Path"), "relay");
}

TEST(RelayDirect, OfferWaitingWhenTheDeviceLeavesGoesToTheRelay) {
  DirectFixture f(direct_config(server::DeviceMode::direct));
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  auto posted = f.post(viewer);
  ASSERT_NE(posted.deferred, 0u);
  ASSERT_EQ(f.s.request("DELETE", f.device->location).status, 200);
  auto done = f.s.relay->relay.poll_deferred_response();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->response.status, 201);
  EXPECT_EQ(*done->response.header("Cellrtc-Path"), "relay");
}

// The device gathers TURN relays for each direct viewer; the credentials of its WHIP answer
// may have expired in a long session, so the offer's first part carries fresh ones for the
// device (the next parts do not).
TEST(RelayDirect, TheOfferCarriesFreshTurnCredentialsForTheDevice) {
  server::ServerConfig config = direct_config(server::DeviceMode::direct);
  config.turn.secret = "s3cret-turn";
  config.turn.urls = {"turn:turn.example.com:3478?transport=udp"};
  config.turn.ttl = seconds(600);
  DirectFixture f(config);
  ASSERT_TRUE(f.s.net.run_for(seconds(5)));  // later than the WHIP answer's credentials
  auto& viewer = f.s.add_client("viewer", "192.0.2.10");
  // Large enough for two parts.
  for (int i = 0; i < 40; ++i)
    (void)viewer.ep->pc.create_data_channel(f.s.net.now(), {.label = "extra" + std::to_string(i)});
  ASSERT_NE(f.post(viewer).deferred, 0u);
  std::string id;
  ASSERT_TRUE(f.s.net.run_until([&] { return f.offer_at_device(&id) == f.offer; },
                                f.s.net.now() + seconds(1)));
  auto parts = f.device->control_messages("direct-offer");
  ASSERT_FALSE(parts.empty());
  const int64_t now_s = (kRelayUnixBaseUs + f.s.net.now().us()) / 1'000'000;
  auto expected = server::turn_rest_credentials("s3cret-turn", now_s + 600, "cam1", {});
  EXPECT_EQ(parts[0].value("turn_username", ""), expected.username) << parts[0].dump();
  EXPECT_EQ(parts[0].value("turn_credential", ""), expected.credential);
  for (size_t i = 1; i < parts.size(); ++i)
    EXPECT_FALSE(parts[i].contains("turn_username")) << parts[i].dump();
}

}  // namespace
}  // namespace cellrtc::testing
