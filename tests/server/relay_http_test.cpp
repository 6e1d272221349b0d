// WHIP (RFC 9725) and WHEP conformance of the relay's HTTP side, through handle_http: statuses,
// headers, resources, limits and CORS.
#include <gtest/gtest.h>

#include "server/sdpfrag.h"
#include "support/relay_scenario.h"

namespace cellrtc::testing {
namespace {

using server::HttpHeader;
using server::HttpResponse;

std::vector<std::string> all_headers(const HttpResponse& r, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : r.headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

std::string offer_of(RelayScenario& s, RelayClient& c) {
  return c.ep->pc.create_offer(s.net.now()).value();
}

HttpResponse post(RelayScenario& s, const std::string& target, const std::string& body,
                  std::vector<HttpHeader> headers) {
  return s.request("POST", target, std::move(headers), body);
}

TEST(RelayHttp, PublishCreatesASession) {
  auto config = relay_test_config();
  config.turn.secret = "s3cret-turn";
  config.turn.urls = {"turn:turn.example.com:3478?transport=udp"};
  config.turn.stun_urls = {"stun:stun.example.com:3478"};
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  auto r = post(s, "/whip", offer_of(s, device),
                {{"Content-Type", "application/sdp"}, {"Authorization", "Bearer device-token-1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(*r.header("Content-Type"), "application/sdp");
  ASSERT_NE(r.header("Location"), nullptr);
  EXPECT_EQ(r.header("Location")->rfind("/whip/", 0), 0u);
  EXPECT_EQ(r.header("Location")->size(), 6u + 32u);  // 128 bits in hex
  ASSERT_NE(r.header("ETag"), nullptr);
  EXPECT_EQ(r.header("ETag")->front(), '"');  // strong: no W/
  EXPECT_EQ(*r.header("Access-Control-Allow-Origin"), "*");
  auto links = all_headers(r, "Link");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].rfind("<turn:turn.example.com:3478?transport=udp>; rel=\"ice-server\"; "
                           "username=\"",
                           0),
            0u)
      << links[0];
  EXPECT_NE(links[0].find("credential-type=\"password\""), std::string::npos);
  EXPECT_EQ(links[1], "<stun:stun.example.com:3478>; rel=\"ice-server\"");
  // The answer: ICE-lite, every candidate, end-of-candidates.
  EXPECT_NE(r.body.find("a=ice-lite"), std::string::npos);
  EXPECT_NE(r.body.find("198.51.100.1 8443 typ host"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("a=end-of-candidates"), std::string::npos);
}

TEST(RelayHttp, AnswersAnnounceThePublicAddresses) {
  auto config = relay_test_config();
  config.relay.public_ips = {"203.0.113.200", "2001:db8::1"};
  RelayScenario s(config);
  auto& device = s.add_client("device", "203.0.113.10");
  auto r = s.connect(device, "/whip", "device-token-1");
  ASSERT_EQ(r.status, 201);
  // The bound IPv4 address is replaced by the public one of its family, the port kept; the
  // IPv6 address has no bound socket to stand for.
  EXPECT_NE(r.body.find("203.0.113.200 8443 typ host"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("198.51.100.1"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("2001:db8::1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("a=end-of-candidates"), std::string::npos);
}

TEST(RelayHttp, PublishRejectsBadRequests) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  std::string offer = offer_of(s, device);
  HttpHeader sdp{"Content-Type", "application/sdp"};
  HttpHeader auth{"Authorization", "Bearer device-token-1"};

  auto missing = post(s, "/whip", offer, {sdp});
  EXPECT_EQ(missing.status, 401);
  ASSERT_NE(missing.header("WWW-Authenticate"), nullptr);
  EXPECT_EQ(missing.header("WWW-Authenticate")->rfind("Bearer", 0), 0u);
  auto wrong = post(s, "/whip", offer, {sdp, {"Authorization", "Bearer device-token-2x"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.header("WWW-Authenticate")->find("invalid_token"), std::string::npos);
  EXPECT_EQ(*wrong.header("Content-Type"), "application/problem+json");

  EXPECT_EQ(post(s, "/whip", offer, {auth, {"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(post(s, "/whip", offer, {auth}).status, 415);
  EXPECT_EQ(post(s, "/whip", std::string(40 * 1024, 'v'), {auth, sdp}).status, 413);
  EXPECT_EQ(post(s, "/whip", "this is not SDP", {auth, sdp}).status, 400);
  std::string audio_only =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
      "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "a=fingerprint:sha-256 "
      "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
      "00:00\r\na=setup:actpass\r\na=rtpmap:111 opus/48000/2\r\n";
  EXPECT_EQ(post(s, "/whip", audio_only, {auth, sdp}).status, 422);
  // Charset parameters and case are fine.
  EXPECT_EQ(
      post(s, "/whip", offer, {auth, {"Content-Type", "Application/SDP; charset=utf-8"}}).status,
      201);
}

TEST(RelayHttp, MethodsAndUnknownResources) {
  RelayScenario s(relay_test_config());
  auto get = s.request("GET", "/whip");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(*get.header("Allow"), "POST, OPTIONS");
  EXPECT_EQ(s.request("PATCH", "/whip/00000000000000000000000000000000").status, 404);
  EXPECT_EQ(s.request("DELETE", "/whip/nope").status, 404);
  EXPECT_EQ(s.request("POST", "/whep/nodevice").status, 404);
  EXPECT_EQ(s.request("GET", "/api/nothing").status, 404);
  EXPECT_TRUE(server::Relay::serves("/whip"));
  EXPECT_TRUE(server::Relay::serves("/whep/cam1/abc"));
  EXPECT_TRUE(server::Relay::serves("/api/devices"));
  EXPECT_FALSE(server::Relay::serves("/metrics"));
  EXPECT_FALSE(server::Relay::serves("/whipx"));

  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  for (const char* m : {"GET", "HEAD", "PUT", "POST"}) {
    auto r = s.request(m, device.location);
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_EQ(*r.header("Allow"), "PATCH, DELETE, OPTIONS");
  }
  auto del = s.request("DELETE", device.location);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(s.request("DELETE", device.location).status, 404);
}

TEST(RelayHttp, CorsPreflightAndOrigins) {
  auto config = relay_test_config();
  config.http.cors_origins = {"https://viewer.example"};
  config.turn.stun_urls = {"stun:stun.example.com:3478"};
  RelayScenario s(config);
  auto pre =
      s.request("OPTIONS", "/whep/cam1",
                {{"Origin", "https://viewer.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(*pre.header("Access-Control-Allow-Origin"), "https://viewer.example");
  EXPECT_EQ(*pre.header("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_NE(pre.header("Access-Control-Allow-Headers")->find("Authorization"), std::string::npos);
  EXPECT_NE(pre.header("Access-Control-Allow-Headers")->find("If-Match"), std::string::npos);
  EXPECT_EQ(*pre.header("Access-Control-Expose-Headers"),
            "Location, ETag, Link, Cellrtc-Path, Cellrtc-Direct-Timeout");
  EXPECT_EQ(pre.header("Link"), nullptr);
  // Preflights answer before any lookup (a browser sends them without credentials).
  auto unknown =
      s.request("OPTIONS", "/whep/nodevice/0123", {{"Origin", "https://viewer.example"}});
  EXPECT_EQ(unknown.status, 204);
  EXPECT_EQ(*unknown.header("Access-Control-Allow-Methods"), "PATCH, DELETE, OPTIONS");
  auto other = s.request("OPTIONS", "/whip", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.header("Access-Control-Allow-Origin"), nullptr);
  auto devices = s.request("GET", "/api/devices", {{"Origin", "https://viewer.example"}});
  EXPECT_EQ(devices.status, 200);
  EXPECT_EQ(*devices.header("Access-Control-Allow-Origin"), "https://viewer.example");
  EXPECT_EQ(*devices.header("Vary"), "Origin");
}

TEST(RelayHttp, PatchTrickleAndIceRestart) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  HttpHeader frag_type{"Content-Type", "application/trickle-ice-sdpfrag"};
  const auto& creds = device.ep->pc.ice().local_credentials();
  std::string trickle = "a=ice-ufrag:" + creds.ufrag + "\r\na=ice-pwd:" + creds.pwd +
                        "\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
                        "a=candidate:2 1 UDP 1694498815 203.0.113.99 6000 typ host\r\n"
                        "a=end-of-candidates\r\n";
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type}, trickle).status, 204);
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type, {"If-Match", "*"}}, trickle).status,
            204);
  EXPECT_EQ(
      s.request("PATCH", device.location, {frag_type, {"If-Match", "\"other\""}}, trickle).status,
      412);
  EXPECT_EQ(
      s.request("PATCH", device.location, {{"Content-Type", "application/sdp"}}, trickle).status,
      415);
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type}, "a=ice-ufrag:!!\r\n").status, 400);
  std::string wrong_mid = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:7\r\n";
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type}, wrong_mid).status, 409);
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type}, "a=ice-ufrag:zzzz\r\n").status, 409);

  // ICE restart: new credentials.
  std::string restart =
      "a=ice-ufrag:NEWU\r\na=ice-pwd:0123456789abcdefghijkl\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n";
  EXPECT_EQ(s.request("PATCH", device.location, {frag_type}, restart).status, 428);
  EXPECT_EQ(
      s.request("PATCH", device.location, {frag_type, {"If-Match", "\"other\""}}, restart).status,
      412);
  auto r = s.request("PATCH", device.location, {frag_type, {"If-Match", device.etag}}, restart);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(*r.header("Content-Type"), "application/trickle-ice-sdpfrag");
  ASSERT_NE(r.header("ETag"), nullptr);
  EXPECT_NE(*r.header("ETag"), device.etag);
  auto frag = server::parse_sdpfrag(r.body);
  ASSERT_TRUE(frag.ok()) << frag.error();
  ASSERT_TRUE(frag->ice_ufrag.has_value());
  EXPECT_EQ(frag->candidates.size(), 1u);
  EXPECT_TRUE(frag->end_of_candidates);
  // The old ETag no longer matches.
  EXPECT_EQ(
      s.request("PATCH", device.location, {frag_type, {"If-Match", device.etag}}, trickle).status,
      412);
  // The wildcard as RFC 9725's ICE restart example writes it, quoted, as the device agent sends
  // it (device/whip_client.cpp).
  std::string restart_again =
      "a=ice-ufrag:NEW2\r\na=ice-pwd:0123456789abcdefghijkm\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n";
  auto again =
      s.request("PATCH", device.location, {frag_type, {"If-Match", "\"*\""}}, restart_again);
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST(RelayHttp, RepublishReplacesTheOldSession) {
  RelayScenario s(relay_test_config());
  auto& first = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(first, "/whip", "device-token-1").status, 201);
  auto& second = s.add_client("device2", "203.0.113.11");
  ASSERT_EQ(s.connect(second, "/whip", "device-token-1").status, 201);
  EXPECT_NE(first.location, second.location);
  EXPECT_EQ(s.request("DELETE", first.location).status, 404);  // replaced
  EXPECT_EQ(s.request("DELETE", second.location).status, 200);
}

TEST(RelayHttp, Limits) {
  auto config = relay_test_config();
  config.relay.max_devices = 1;
  config.relay.max_viewers = 3;
  config.relay.max_viewers_per_device = 2;
  RelayScenario s(config);
  auto& d1 = s.add_client("d1", "203.0.113.10");
  auto& d2 = s.add_client("d2", "203.0.113.11");
  ASSERT_EQ(s.connect(d1, "/whip", "device-token-1").status, 201);
  auto busy = s.connect(d2, "/whip", "device-token-2");
  EXPECT_EQ(busy.status, 503);
  // The device that publishes already may replace its session.
  auto& d1b = s.add_client("d1b", "203.0.113.12");
  EXPECT_EQ(s.connect(d1b, "/whip", "device-token-1").status, 201);

  std::vector<RelayClient*> v;
  for (int i = 0; i < 4; ++i)
    v.push_back(
        &s.add_client("v" + std::to_string(i), ("192.0.2." + std::to_string(10 + i)).c_str()));
  EXPECT_EQ(s.connect(*v[0], "/whep/cam1", "").status, 201);
  EXPECT_EQ(s.connect(*v[1], "/whep/cam1", "").status, 201);
  EXPECT_EQ(s.connect(*v[2], "/whep/cam1", "").status, 503);  // per device
  EXPECT_EQ(s.connect(*v[2], "/whep/cam2?token=viewer-secret", "").status, 201);
  EXPECT_EQ(s.connect(*v[3], "/whep/cam2?token=viewer-secret", "").status, 503);  // total
}

TEST(RelayHttp, ViewerTokens) {
  auto config = relay_test_config();
  config.relay.viewers_need_token = true;
  config.devices.push_back({"cam3", "device-token-3", "p+q r/s%"});
  RelayScenario s(config);
  auto& v = s.add_client("viewer", "192.0.2.10");
  std::string offer = offer_of(s, v);
  HttpHeader sdp{"Content-Type", "application/sdp"};
  EXPECT_EQ(post(s, "/whep/cam2", offer, {sdp}).status, 401);
  EXPECT_EQ(post(s, "/whep/cam2?token=nope", offer, {sdp}).status, 403);
  EXPECT_EQ(post(s, "/whep/cam2", offer, {sdp, {"Authorization", "Bearer nope"}}).status, 403);
  EXPECT_EQ(post(s, "/whep/cam2?token=viewer-secret", offer, {sdp}).status, 201);
  EXPECT_EQ(post(s, "/whep/cam2", offer, {sdp, {"Authorization", "Bearer viewer-secret"}}).status,
            201);
  EXPECT_EQ(
      post(s, "/whep/cam2", offer, {sdp, {"Cookie", "a=b; cellrtc_viewer=viewer-secret"}}).status,
      201);
  // A ?token= is percent-decoded as the viewer page encodes it (URLSearchParams).
  EXPECT_EQ(post(s, "/whep/cam3?token=p%2Bq+r%2Fs%25", offer, {sdp}).status, 201);
  EXPECT_EQ(post(s, "/whep/cam3?token=p%2bq%20r/s%25", offer, {sdp}).status, 201);
  EXPECT_EQ(post(s, "/whep/cam3?token=p+q+r/s%25", offer, {sdp}).status, 403);  // "p q r/s%"
  auto bad = post(s, "/whep/cam3?token=p%2Bq+r/s%", offer, {sdp});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("%-escape"), std::string::npos) << bad.body;
  EXPECT_EQ(post(s, "/whep/cam3", offer, {sdp, {"Authorization", "Bearer p+q r/s%"}}).status, 201);
  // cam1 has no viewer token: open.
  auto r = post(s, "/whep/cam1", offer, {sdp});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("Location")->rfind("/whep/cam1/", 0), 0u);
}

TEST(RelayHttp, DevicesAndIceServersApi) {
  auto config = relay_test_config();
  config.turn.secret = "s3cret-turn";
  config.turn.urls = {"turn:turn.example.com:3478?transport=udp"};
  RelayScenario s(config);
  auto devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]["id"], "cam1");
  EXPECT_EQ(devices[0]["state"], "offline");
  EXPECT_EQ(devices[0]["online"], false);
  EXPECT_EQ(devices[1]["id"], "cam2");

  auto& device = s.add_client("device", "203.0.113.10");
  ASSERT_EQ(s.connect(device, "/whip", "device-token-1").status, 201);
  ASSERT_TRUE(s.run_until_open({&device}));
  (void)s.net.run_for(seconds(60));  // since = virtual 60 s + the epoch of the scenario
  s.send_frame(device, 1);
  (void)s.net.run_for(seconds(1));
  devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  EXPECT_EQ(devices[0]["state"], "live");
  EXPECT_EQ(devices[0]["online"], true);
  EXPECT_EQ(devices[0]["since"].get<std::string>().substr(0, 17), "2026-11-24T15:01:");
  auto snapshot = nlohmann::json::parse(s.relay->relay.devices_event_json(s.net.now()));
  EXPECT_EQ(snapshot["type"], "devices");
  EXPECT_EQ(snapshot["devices"][0]["state"], "live");

  auto ice = nlohmann::json::parse(s.request("GET", "/api/ice-servers").body);
  ASSERT_EQ(ice["iceServers"].size(), 1u);
  std::string user = ice["iceServers"][0]["username"];
  int64_t expiry = std::stoll(user.substr(0, user.find(':')));
  int64_t now_s = (kRelayUnixBaseUs + s.net.now().us()) / 1'000'000;
  EXPECT_GT(expiry, now_s);
  EXPECT_LE(expiry, now_s + 600);  // short-lived for the open endpoint
}

TEST(RelayHttp, UnconnectedSessionsAreReaped) {
  RelayScenario s(relay_test_config());
  auto& device = s.add_client("device", "203.0.113.10");
  server::HttpRequest req;
  req.method = "POST";
  req.target = "/whip";
  req.headers = {{"Content-Type", "application/sdp"}, {"Authorization", "Bearer device-token-1"}};
  req.body = offer_of(s, device);
  auto r = s.http(req);  // the answer never reaches the device
  ASSERT_EQ(r.status, 201);
  std::string location = *r.header("Location");
  (void)s.net.run_for(seconds(31));
  EXPECT_EQ(s.request("DELETE", location).status, 404);
}

}  // namespace
}  // namespace cellrtc::testing
