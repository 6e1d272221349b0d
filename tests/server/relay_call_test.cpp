// Whole WHIP/WHEP calls through the relay under virtual time: a device publishes, viewers
// watch, frames fan out; reconnects within and past the grace period; the control channel.
#include <gtest/gtest.h>

#include <set>

#include "core/media/control_message.h"
#include "core/sdp/session_description.h"
#include "server/sdpfrag.h"
#include "server/turn_credentials.h"
#include "support/relay_scenario.h"

namespace cellrtc::testing {
namespace {

// Sequence numbers strictly increasing (in order, no duplicates).
bool strictly_increasing(const std::vector<media::FrameHeader>& frames) {
  for (size_t i = 1; i < frames.size(); ++i)
    if (frames[i].sequence <= frames[i - 1].sequence) return false;
  return true;
}

std::vector<std::string> states(const RelayClient& viewer) {
  std::vector<std::string> out;
  for (const auto& m : viewer.control_messages("state"))
    out.push_back(m.value("state", ""));
  return out;
}

TEST(RelayCall, FramesReachEveryViewerInOrderWithoutDuplicates) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  std::vector<RelayClient*> viewers;
  for (int i = 0; i < 3; ++i) {
    auto& v =
        s.add_client("viewer" + std::to_string(i), ("192.0.2." + std::to_string(10 + i)).c_str());
    ASSERT_EQ(s.connect(v, "/whep/cam1", "").status, 201);
    viewers.push_back(&v);
  }
  std::vector<RelayClient*> all = viewers;
  all.push_back(&device);
  ASSERT_TRUE(s.run_until_open(all));

  s.stream(device, 1, 30, milliseconds(100));
  ASSERT_TRUE(s.net.run_until(
      [&] {
        for (auto* v : viewers)
          if (v->frames().size() < 30) return false;
        return true;
      },
      s.net.now() + seconds(10)));
  for (auto* v : viewers) {
    auto frames = v->frames();
    ASSERT_EQ(frames.size(), 30u);
    EXPECT_TRUE(strictly_increasing(frames));
    EXPECT_EQ(frames.front().sequence, 1u);
    EXPECT_EQ(frames.back().sequence, 30u);
    EXPECT_EQ(states(*v).back(), "live");
  }
  std::string metrics;
  s.relay->relay.write_metrics(metrics);
  EXPECT_NE(metrics.find("cellrtc_frames_in_total 30\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cellrtc_frames_out_total 90\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cellrtc_viewers 3\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cellrtc_devices_online 1\n"), std::string::npos) << metrics;
}

TEST(RelayCall, SlowViewerGetsFewerFramesWithoutSlowingOthers) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& fast = s.add_client("fast", "192.0.2.10");
  sim::LinkConfig slow_down;
  slow_down.delay = milliseconds(40);
  slow_down.rate_bps = 150'000;  // a tenth of the stream's 1.6 Mbit/s
  slow_down.queue_limit_bytes = 256 * 1024;
  sim::LinkConfig slow_up;
  slow_up.delay = milliseconds(40);
  auto& slow = s.add_client("slow", "192.0.2.11", sim::Attachment{slow_up, slow_down});
  ASSERT_EQ(s.connect(fast, "/whep/cam1", "").status, 201);
  ASSERT_EQ(s.connect(slow, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &fast, &slow}, seconds(20)));

  const int kFrames = 50;
  s.stream(device, 1, kFrames, milliseconds(100), 20'000);
  ASSERT_TRUE(
      s.net.run_until([&] { return fast.frames().size() >= kFrames; }, s.net.now() + seconds(15)));
  (void)s.net.run_for(seconds(5));
  auto fast_frames = fast.frames();
  auto slow_frames = slow.frames();
  EXPECT_EQ(fast_frames.size(), static_cast<size_t>(kFrames));
  EXPECT_TRUE(strictly_increasing(fast_frames));
  EXPECT_TRUE(strictly_increasing(slow_frames));
  EXPECT_GT(slow_frames.size(), 0u);
  EXPECT_LT(slow_frames.size(), static_cast<size_t>(kFrames) / 2) << slow_frames.size();
  // The newest frame reaches the slow viewer in the end: the last one it got is the last sent.
  ASSERT_FALSE(slow_frames.empty());
  EXPECT_EQ(slow_frames.back().sequence, static_cast<uint32_t>(kFrames));
  std::string metrics;
  s.relay->relay.write_metrics(metrics);
  EXPECT_NE(metrics.find("cellrtc_frames_in_total 50\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("cellrtc_frames_dropped_total 0\n"), std::string::npos) << metrics;
}

TEST(RelayCall, NewViewerGetsTheLatestFrameAtOnce) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  s.stream(device, 100, 5, milliseconds(100));
  (void)s.net.run_for(seconds(2));  // the device stops sending
  auto& late = s.add_client("late", "192.0.2.20");
  ASSERT_EQ(s.connect(late, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&late}));
  ASSERT_TRUE(s.net.run_until([&] { return !late.frames().empty(); }, s.net.now() + seconds(2)));
  EXPECT_EQ(late.frames().front().sequence, 104u);
  EXPECT_EQ(states(late).front(), "live");
}

TEST(RelayCall, DeviceRepublishesWithinGraceAndFramesResume) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.stream(device, 1, 10, milliseconds(100));
  ASSERT_TRUE(
      s.net.run_until([&] { return viewer.frames().size() >= 10; }, s.net.now() + seconds(5)));

  // The device's connection ends (DTLS close_notify), and it comes back 3 s later.
  device.ep->pc.close(s.net.now());
  s.net.wake(*device.ep);
  ASSERT_TRUE(s.net.run_until([&] { return states(viewer).back() == "reconnecting"; },
                              s.net.now() + seconds(5)));
  (void)s.net.run_for(seconds(3));
  s.renew(device);
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  s.stream(device, 11, 10, milliseconds(100));
  ASSERT_TRUE(
      s.net.run_until([&] { return viewer.frames().size() >= 20; }, s.net.now() + seconds(5)));
  auto frames = viewer.frames();
  EXPECT_TRUE(strictly_increasing(frames));
  EXPECT_EQ(frames.back().sequence, 20u);
  EXPECT_EQ(states(viewer), (std::vector<std::string>{"offline", "live", "reconnecting", "live"}));
  // Same viewer session all along: one WHEP session was ever made.
  std::string metrics;
  s.relay->relay.write_metrics(metrics);
  EXPECT_NE(metrics.find("cellrtc_sessions_total{kind=\"view\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("cellrtc_sessions_total{kind=\"publish\"} 2\n"), std::string::npos);
  auto device_events = s.relay->events_of("device", "cam1");
  ASSERT_EQ(device_events.size(), 3u);
  EXPECT_EQ(device_events[1]["state"], "reconnecting");
  EXPECT_EQ(device_events[2]["state"], "live");
}

TEST(RelayCall, DeviceGoneAfterGraceIsOffline) {
  auto config = relay_test_config();
  config.relay.reconnect_grace = seconds(5);
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.stream(device, 1, 3, milliseconds(100));
  (void)s.net.run_for(seconds(1));
  // The device's connection ends unexpectedly (DTLS close_notify, no WHIP DELETE).
  device.ep->pc.close(s.net.now());
  s.net.wake(*device.ep);
  (void)s.net.run_for(seconds(4));
  EXPECT_EQ(states(viewer).back(), "reconnecting");
  (void)s.net.run_for(seconds(2));
  EXPECT_EQ(states(viewer).back(), "offline");
  EXPECT_TRUE(viewer.open());  // the viewer session stays, waiting for the device
  auto devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  EXPECT_EQ(devices[0]["state"], "offline");
  EXPECT_EQ(devices[0]["online"], false);
  EXPECT_EQ(devices[0]["viewers"], 1);
}

// A device that ends its session with DELETE said goodbye: offline at once, no grace period,
// and its last frame is not shown to viewers that come later.
TEST(RelayCall, DeviceThatDeletesItsSessionIsOfflineAtOnce) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.stream(device, 1, 3, milliseconds(100));
  (void)s.net.run_for(seconds(1));
  EXPECT_EQ(s.request("DELETE", device.location).status, 200);
  (void)s.net.run_for(milliseconds(200));
  EXPECT_EQ(states(viewer), (std::vector<std::string>{"offline", "live", "offline"}));
  EXPECT_TRUE(viewer.open());  // the viewer session stays, waiting for the device
  auto devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  EXPECT_EQ(devices[0]["state"], "offline");
  EXPECT_EQ(devices[0]["online"], false);
  auto device_events = s.relay->events_of("device", "cam1");
  ASSERT_EQ(device_events.size(), 2u);
  EXPECT_EQ(device_events[0]["state"], "live");
  EXPECT_EQ(device_events[1]["state"], "offline");
  auto& late = s.add_client("late", "192.0.2.20");
  ASSERT_EQ(s.connect(late, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&late}));
  (void)s.net.run_for(seconds(1));
  EXPECT_TRUE(late.frames().empty());
  EXPECT_EQ(states(late).front(), "offline");
}

// A device whose link goes dead: after ICE's disconnected timeout (8 s without its checks) its
// viewers see "reconnecting", long before consent expires (30 s); when the link comes back the
// same session carries frames again and the device is live.
TEST(RelayCall, DeviceLinkOutageShowsReconnectingThenLiveOnTheSameSession) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.stream(device, 1, 5, milliseconds(100));
  ASSERT_TRUE(
      s.net.run_until([&] { return viewer.frames().size() >= 5; }, s.net.now() + seconds(5)));
  Instant cut = s.net.now();
  s.net.uplink(device.host).schedule_outage(cut, seconds(15));
  s.net.downlink(device.host).schedule_outage(cut, seconds(15));
  ASSERT_TRUE(
      s.net.run_until([&] { return states(viewer).back() == "reconnecting"; }, cut + seconds(14)));
  // 8 s after the device's last check, which came at most one consent interval before the cut.
  EXPECT_LE(s.net.now() - cut, seconds(9));
  auto devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  EXPECT_EQ(devices[0]["state"], "reconnecting");
  EXPECT_EQ(devices[0]["online"], false);
  // The link is back: the device's consent checks get through and its frames flow again.
  (void)s.net.run_until(cut + seconds(16));
  s.stream(device, 6, 10, milliseconds(200));
  ASSERT_TRUE(
      s.net.run_until([&] { return viewer.frames().size() >= 10; }, s.net.now() + seconds(10)));
  EXPECT_EQ(states(viewer), (std::vector<std::string>{"offline", "live", "reconnecting", "live"}));
  EXPECT_TRUE(strictly_increasing(viewer.frames()));
  std::string metrics;
  s.relay->relay.write_metrics(metrics);
  EXPECT_NE(metrics.find("cellrtc_sessions_total{kind=\"publish\"} 1\n"), std::string::npos);
}

TEST(RelayCall, ReplacedSessionThatNeverStreamsEndsOffline) {
  auto config = relay_test_config();
  config.relay.reconnect_grace = seconds(5);
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.send_frame(device, 1);
  (void)s.net.run_for(seconds(1));
  // The device publishes again (its old session is replaced) but sends nothing.
  s.renew(device);
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  (void)s.net.run_for(seconds(1));
  EXPECT_EQ(states(viewer).back(), "reconnecting");
  (void)s.net.run_for(seconds(5));
  EXPECT_EQ(states(viewer).back(), "offline");
  // Its first frame makes it live again.
  ASSERT_TRUE(s.run_until_open({&device})) << device.ep->failure.value_or("");
  s.send_frame(device, 2);
  ASSERT_TRUE(
      s.net.run_until([&] { return viewer.frames().size() >= 2; }, s.net.now() + seconds(2)));
  EXPECT_EQ(states(viewer).back(), "live");
}

TEST(RelayCall, SilentDeviceIsLostWhenConsentExpires) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.send_frame(device, 1);
  (void)s.net.run_for(seconds(1));
  // The device vanishes without a word (its socket is gone): no more ICE checks from it. After
  // 8 s the relay calls it reconnecting; RFC 7675 consent runs out at 30 s and ends the session,
  // which starts the grace period (20 s).
  Instant gone = s.net.now();
  (void)s.net.unbind(device.host, device.addr.port());
  (void)s.net.run_until(gone + seconds(12));
  EXPECT_EQ(states(viewer).back(), "reconnecting");
  (void)s.net.run_until(gone + seconds(40));
  auto st = states(viewer);
  ASSERT_GE(st.size(), 2u);
  EXPECT_EQ(st[st.size() - 2], "live");
  EXPECT_EQ(st.back(), "reconnecting");
  (void)s.net.run_for(seconds(20));
  EXPECT_EQ(states(viewer).back(), "offline");
}

// RFC 9725 section 4.3.2: the device restarts ICE with a PATCH; the relay answers with its new
// credentials; checks with the new credentials keep the session, and frames keep flowing.
TEST(RelayCall, IceRestartByPatchKeepsTheSession) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  auto post = s.connect(device, "/whip", "device-token-1");
  ASSERT_EQ(post.status, 201);
  std::string first_answer = post.body;
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.stream(device, 1, 5, milliseconds(100));
  (void)s.net.run_for(seconds(1));

  // The device's side of the restart: new credentials in a new offer, sent as a fragment.
  device.ep->pc.restart_ice(s.net.now());
  auto offer = sdp::parse_sdp(device.ep->pc.create_offer(s.net.now()).value()).value();
  const auto* data = offer.data_section();
  std::string frag = "a=ice-ufrag:" + *data->ice_ufrag + "\r\na=ice-pwd:" + *data->ice_pwd +
                     "\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:" + data->mid +
                     "\r\n";
  auto r = s.request(
      "PATCH", device.location,
      {{"Content-Type", "application/trickle-ice-sdpfrag"}, {"If-Match", device.etag}}, frag);
  ASSERT_EQ(r.status, 200) << r.body;
  auto ours = server::parse_sdpfrag(r.body);
  ASSERT_TRUE(ours.ok());
  // The answer the fragment implies: the first answer with the relay's new credentials.
  auto answer = sdp::parse_sdp(first_answer).value();
  answer.data_section()->ice_ufrag = *ours->ice_ufrag;
  answer.data_section()->ice_pwd = *ours->ice_pwd;
  if (answer.ice_ufrag) answer.ice_ufrag = *ours->ice_ufrag;
  if (answer.ice_pwd) answer.ice_pwd = *ours->ice_pwd;
  ASSERT_TRUE(device.ep->pc.set_remote_description(s.net.now(), sdp::write_sdp(answer)).ok());
  device.ep->drain(s.net.now());
  s.net.wake(*device.ep);

  // Well past the consent timeout: only checks with the new credentials keep it alive.
  s.stream(device, 6, 400, milliseconds(100));
  (void)s.net.run_for(seconds(41));
  EXPECT_FALSE(device.ep->failure.has_value()) << *device.ep->failure;
  auto frames = viewer.frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_GE(frames.back().sequence, 400u);
  EXPECT_TRUE(strictly_increasing(frames));
  EXPECT_EQ(states(viewer).back(), "live");
}

TEST(RelayCall, ControlChannel) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));

  // The device answers pings; the relay turns the pong into a clock offset for viewers.
  ASSERT_TRUE(s.net.run_until([&] { return !device.control_messages("ping").empty(); },
                              s.net.now() + seconds(6)));
  auto ping = device.control_messages("ping").front();
  const int64_t device_clock_offset = 1'000'000'000;
  s.send_control(device, nlohmann::json{{"type", "pong"},
                                        {"t", ping["t"]},
                                        {"now_us", s.net.now().us() + device_clock_offset}}
                             .dump());
  ASSERT_TRUE(s.net.run_until([&] { return !viewer.control_messages("clock").empty(); },
                              s.net.now() + seconds(2)));
  int64_t offset = viewer.control_messages("clock").front()["offset_us"];
  // Half the round trip of error at most (the pong was sent on arrival of the ping).
  EXPECT_NEAR(static_cast<double>(offset), static_cast<double>(device_clock_offset), 60'000);

  // Receiver reports while frames arrive.
  s.stream(device, 1, 20, milliseconds(100));
  (void)s.net.run_for(seconds(3));
  auto reports = device.control_messages("report");
  ASSERT_GE(reports.size(), 1u);
  EXPECT_GT(reports.front()["frames"].get<int>(), 0);
  EXPECT_TRUE(reports.front().contains("latency_ms"));
  EXPECT_EQ(reports.front()["lost"], 0);

  // Telemetry to viewers and events.
  std::string telemetry = R"({"type":"telemetry","fps":9.8,"kbps":410})";
  s.send_control(device, telemetry);
  ASSERT_TRUE(s.net.run_until([&] { return !viewer.control_messages("telemetry").empty(); },
                              s.net.now() + seconds(2)));
  EXPECT_EQ(viewer.control_messages("telemetry").front()["fps"], 9.8);
  auto tev = s.relay->events_of("telemetry", "cam1");
  ASSERT_EQ(tev.size(), 1u);
  EXPECT_EQ(tev[0]["kbps"], 410);
  EXPECT_FALSE(s.relay->events_of("stats", "cam1").empty());

  // Viewer commands reach the device, rebuilt from known fields; pings are answered.
  s.send_control(viewer, R"({"type":"set","fps":5,"evil":"x"})");
  s.send_control(viewer, R"({"type":"ping","t":7})");
  ASSERT_TRUE(s.net.run_until([&] { return !device.control_messages("set").empty(); },
                              s.net.now() + seconds(2)));
  auto set = device.control_messages("set").front();
  EXPECT_EQ(set["fps"], 5);
  EXPECT_FALSE(set.contains("evil"));
  ASSERT_TRUE(s.net.run_until([&] { return !viewer.control_messages("pong").empty(); },
                              s.net.now() + seconds(2)));
  EXPECT_EQ(viewer.control_messages("pong").front()["t"], 7);
}

TEST(RelayCall, FreshTurnCredentialsReachTheDeviceBeforeTheLastOnesExpire) {
  auto config = relay_test_config();
  config.turn.secret = "turn-secret";
  config.turn.urls = {"turn:192.0.2.99:3478?transport=udp"};
  config.turn.ttl = seconds(60);
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  const Instant open = s.net.now();

  // Nothing before 3/4 of the TTL, then credentials valid for a whole TTL from then, issued
  // the way the WHIP answer's are (coturn's use-auth-secret), and again 3/4 TTL later.
  (void)s.net.run_for(seconds(44));
  EXPECT_TRUE(device.control_messages("turn-credentials").empty());
  ASSERT_TRUE(s.net.run_until([&] { return !device.control_messages("turn-credentials").empty(); },
                              open + seconds(46)));
  auto fresh = device.control_messages("turn-credentials").front();
  const int64_t now_unix_s = (kRelayUnixBaseUs + s.net.now().us()) / 1'000'000;
  const int64_t expires = fresh["expires"].get<int64_t>();
  EXPECT_NEAR(static_cast<double>(expires), static_cast<double>(now_unix_s + 60), 1.0);
  EXPECT_EQ(fresh["username"], std::to_string(expires) + ":cam1");
  EXPECT_EQ(fresh["credential"],
            server::turn_rest_credentials("turn-secret", expires, "cam1", {}).credential);
  // The device's core reads it as such.
  auto decoded = media::decode_device_message(fresh.dump());
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(std::holds_alternative<media::TurnCredentialsMessage>(*decoded));
  ASSERT_TRUE(s.net.run_until(
      [&] { return device.control_messages("turn-credentials").size() == 2; }, open + seconds(92)));
  std::string metrics;
  s.relay->relay.write_metrics(metrics);
  EXPECT_NE(metrics.find("cellrtc_turn_credentials_pushed_total 2"), std::string::npos);
}

TEST(RelayCall, NoTurnCredentialsPushedWithoutATurnSecret) {
  auto config = relay_test_config();
  config.turn.urls = {"turn:192.0.2.99:3478?transport=udp"};
  config.turn.ttl = seconds(60);
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  (void)s.net.run_for(seconds(50));
  EXPECT_FALSE(device.control_messages("ping").empty());  // the control channel works
  EXPECT_TRUE(device.control_messages("turn-credentials").empty());
}

std::vector<int> demands(const RelayClient& device) {
  std::vector<int> out;
  for (const auto& m : device.control_messages("demand"))
    out.push_back(m.value("viewers", -1));
  return out;
}

bool has_metric(server::Relay& relay, const std::string& line) {
  std::string metrics;
  relay.write_metrics(metrics);
  return metrics.find(line + "\n") != std::string::npos;
}

TEST(RelayCall, DemandTellsTheDeviceItsRelayViewersDebounced) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  // When the control channel opens: nobody watches.
  ASSERT_TRUE(s.net.run_until([&] { return !demands(device).empty(); }, s.net.now() + seconds(1)));
  EXPECT_EQ(demands(device), (std::vector<int>{0}));
  EXPECT_TRUE(has_metric(s.relay->relay, "cellrtc_devices_idle 1"));

  // The first viewer, counted from its 201: at once.
  auto& a = s.add_client("a", "192.0.2.10");
  ASSERT_EQ(s.connect(a, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(
      s.net.run_until([&] { return demands(device).size() == 2; }, s.net.now() + seconds(1)));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1}));
  EXPECT_TRUE(has_metric(s.relay->relay, "cellrtc_devices_idle 0"));
  // A second one right after: within the minimum interval, so one message a second later.
  auto& b = s.add_client("b", "192.0.2.11");
  ASSERT_EQ(s.connect(b, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&a, &b}));
  (void)s.net.run_for(seconds(2));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1, 2}));

  // Both leave within half a second: 1 at once (the last message is older than the minimum
  // interval), then 0 only once none has watched for 2 s.
  EXPECT_EQ(s.request("DELETE", b.location).status, 200);
  (void)s.net.run_for(milliseconds(500));
  EXPECT_EQ(s.request("DELETE", a.location).status, 200);
  (void)s.net.run_for(milliseconds(1400));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1, 2, 1}));
  (void)s.net.run_for(seconds(2));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1, 2, 1, 0}));
  EXPECT_TRUE(has_metric(s.relay->relay, "cellrtc_devices_idle 1"));

  // A page that reloads (leaves and comes back within 2 s) does not idle the device.
  auto& c = s.add_client("c", "192.0.2.12");
  ASSERT_EQ(s.connect(c, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&c}));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1, 2, 1, 0, 1}));
  EXPECT_EQ(s.request("DELETE", c.location).status, 200);
  (void)s.net.run_for(milliseconds(500));
  auto& d = s.add_client("d", "192.0.2.13");
  ASSERT_EQ(s.connect(d, "/whep/cam1", "").status, 201);
  (void)s.net.run_for(seconds(5));
  EXPECT_EQ(demands(device), (std::vector<int>{0, 1, 2, 1, 0, 1}));
  EXPECT_TRUE(has_metric(s.relay->relay, "cellrtc_demand_sent_total 6"));
  // The device's core reads it.
  auto decoded = media::decode_device_message(device.control_messages("demand").back().dump());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<media::DemandMessage>(*decoded).viewers, 1u);
}

TEST(RelayCall, DemandStartsAgainOnANewPublishingSession) {
  // A device that publishes again (a new WHIP session) is told the viewers that stayed.
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  (void)s.net.run_for(seconds(1));
  EXPECT_EQ(demands(device).back(), 1);
  EXPECT_EQ(s.request("DELETE", device.location).status, 200);
  auto& again = s.add_client("again", "203.0.113.11");
  ASSERT_EQ(s.connect(again, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&again}));
  ASSERT_TRUE(s.net.run_until([&] { return !demands(again).empty(); }, s.net.now() + seconds(1)));
  EXPECT_EQ(demands(again), (std::vector<int>{1}));
}

TEST(RelayCall, NoDemandWhenDisabled) {
  auto config = relay_test_config();
  config.relay.demand = false;
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  EXPECT_EQ(s.request("DELETE", viewer.location).status, 200);
  (void)s.net.run_for(seconds(6));
  EXPECT_FALSE(device.control_messages("ping").empty());  // the control channel works
  EXPECT_TRUE(demands(device).empty());
  EXPECT_TRUE(has_metric(s.relay->relay, "cellrtc_devices_idle 0"));
}

TEST(RelayCall, ViewerControlRefusedWhenDisabled) {
  auto config = relay_test_config();
  config.relay.viewer_control = false;
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  auto& viewer = s.add_client("viewer", "192.0.2.10");
  ASSERT_EQ(s.connect(viewer, "/whep/cam1", "").status, 201);
  ASSERT_TRUE(s.run_until_open({&device, &viewer}));
  s.send_control(viewer, R"({"type":"snapshot"})");
  ASSERT_TRUE(s.net.run_until([&] { return !viewer.control_messages("error").empty(); },
                              s.net.now() + seconds(2)));
  EXPECT_EQ(viewer.control_messages("error").front()["reason"], "viewer control is disabled");
  (void)s.net.run_for(seconds(1));
  EXPECT_TRUE(device.control_messages("snapshot").empty());
}

}  // namespace
}  // namespace cellrtc::testing
