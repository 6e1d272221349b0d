// The WHIP client against a scripted HTTP server on loopback: a real answer from a
// PeerConnection, each kind of failure with its one-line reason, ICE restart and DELETE.
#include "device/whip_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "support/fake_http_server.h"

namespace cellrtc::device {
namespace {

using testing::FakeHttpServer;
using testing::HttpRequest;
using testing::HttpResponse;

// An offer and an answer from two real PeerConnections (the server one ICE-lite).
struct OfferAnswer {
  OfferAnswer() : rng(11) {
    cert_a = std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng, "a").value());
    cert_b = std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng, "b").value());
    peer::PeerConfig ca, cb;
    ca.certificate = cert_a.get();
    cb.certificate = cert_b.get();
    cb.ice.lite = true;
    device = std::make_unique<peer::PeerConnection>(ca, rng);
    server = std::make_unique<peer::PeerConnection>(cb, rng);
    Instant now;
    (void)device->add_host_socket(now, SocketAddress(IpAddress::loopback_v4(), 40000));
    device->end_of_local_sockets(now);
    (void)server->add_host_socket(now, SocketAddress(IpAddress::loopback_v4(), 40001));
    server->end_of_local_sockets(now);
    (void)device->create_data_channel(now, {.label = "video"});
    offer = device->create_offer(now).value();
    EXPECT_TRUE(server->set_remote_description(now, offer).ok());
    answer = server->create_answer(now).value();
  }
  SeededRandom rng;
  std::unique_ptr<dtls::Certificate> cert_a, cert_b;
  std::unique_ptr<peer::PeerConnection> device, server;
  std::string offer, answer;
};

WhipClientConfig quick(const std::string& url) {
  WhipClientConfig c;
  c.url = url;
  c.token = "secret-token";
  c.connect_timeout = seconds(2);
  c.request_timeout = seconds(2);
  return c;
}

HttpResponse status(int code, const char* reason, std::string body = {}) {
  HttpResponse r;
  r.status = code;
  r.reason = reason;
  r.body = std::move(body);
  return r;
}

TEST(WhipClient, EndpointFromAServerUrl) {
  EXPECT_EQ(whip_endpoint("http://127.0.0.1:8080"), "http://127.0.0.1:8080/whip");
  EXPECT_EQ(whip_endpoint("https://cam.example.net/"), "https://cam.example.net/whip");
  EXPECT_EQ(whip_endpoint("https://cam.example.net/whip"), "https://cam.example.net/whip");
  EXPECT_EQ(whip_endpoint("https://x.net/api/whip/"), "https://x.net/api/whip/");
  EXPECT_EQ(whip_endpoint(" http://[::1]:9000 "), "http://[::1]:9000/whip");
}

TEST(WhipClient, ParsesIceServerLinks) {
  auto servers = parse_ice_server_links(
      R"(<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="u1"; )"
      R"(credential="p\"1"; credential-type="password", <https://x/y>; rel="next", )"
      R"(<stun:stun.example.net>; rel=ice-server, <turns:t.example.net:443?transport=tcp>; )"
      R"(rel="preload ice-server"; username=u3; credential=c3)");
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0], (IceServer{"turn:turn.example.net:3478?transport=udp", "u1", "p\"1"}));
  EXPECT_EQ(servers[1], (IceServer{"stun:stun.example.net", "", ""}));
  EXPECT_EQ(servers[2], (IceServer{"turns:t.example.net:443?transport=tcp", "u3", "c3"}));
  EXPECT_TRUE(parse_ice_server_links("").empty());
  EXPECT_TRUE(parse_ice_server_links("garbage; rel=ice-server").empty());
}

TEST(WhipClient, PublishesAndKeepsTheSession) {
  OfferAnswer sdp;
  FakeHttpServer server([&](const HttpRequest&) {
    HttpResponse r = status(201, "Created", sdp.answer);
    r.headers = {
        {"Content-Type", "application/sdp"},
        {"Location", "/whip/abc123"},
        {"ETag", "\"e1\""},
        {"Link", R"(<turn:127.0.0.1:3478>; rel="ice-server"; username="u"; credential="c")"},
        {"Link", R"(<stun:127.0.0.1:3478>; rel="ice-server")"}};
    return r;
  });
  ASSERT_TRUE(server.ok());
  WhipClient client(quick(server.url()));
  EXPECT_EQ(client.endpoint(), server.url("/whip"));
  auto session = client.publish(sdp.offer);
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->resource_url, server.url("/whip/abc123"));
  EXPECT_EQ(session->etag, "\"e1\"");
  EXPECT_EQ(session->answer, sdp.answer);
  ASSERT_EQ(session->ice_servers.size(), 2u);
  EXPECT_EQ(session->ice_servers[0].username, "u");
  // The answer is one our PeerConnection takes.
  EXPECT_TRUE(sdp.device->set_remote_description(Instant{}, session->answer).ok());

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/whip");
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer secret-token");
  EXPECT_EQ(requests[0].header("Content-Type"), "application/sdp");
  EXPECT_EQ(requests[0].body, sdp.offer);
}

TEST(WhipClient, ResolvesAnAbsoluteOrRelativeLocation) {
  OfferAnswer sdp;
  std::string location;
  FakeHttpServer server([&](const HttpRequest&) {
    HttpResponse r = status(201, "Created", sdp.answer);
    r.headers = {{"Location", location}};
    return r;
  });
  WhipClient client(quick(server.url("/api/whip")));
  location = "sessions/7";
  auto s = client.publish(sdp.offer);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->resource_url, server.url("/api/sessions/7"));
  location = "http://127.0.0.1:1/elsewhere";
  s = client.publish(sdp.offer);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->resource_url, "http://127.0.0.1:1/elsewhere");
}

struct FailureCase {
  HttpResponse response;
  WhipErrorKind kind;
  int status;
  bool retryable;
  const char* message;  // the whole line after "POST <url>: "
};

TEST(WhipClient, EachFailureHasItsKindAndOneLineReason) {
  OfferAnswer sdp;
  HttpResponse no_location = status(201, "Created", sdp.answer);
  HttpResponse problem = status(503, "Service Unavailable",
                                R"({"type":"about:blank","title":"Busy","status":503,)"
                                R"("detail":"device limit reached"})");
  problem.headers = {{"Content-Type", "application/problem+json"}};
  const FailureCase cases[] = {
      {status(500, "Internal Server Error"), WhipErrorKind::http, 500, true,
       "HTTP 500 Internal Server Error"},
      {problem, WhipErrorKind::http, 503, true,
       "HTTP 503 Service Unavailable: device limit reached"},
      {status(401, "Unauthorized"), WhipErrorKind::unauthorized, 401, false,
       "HTTP 401 Unauthorized (check the device token)"},
      {status(403, "Forbidden"), WhipErrorKind::unauthorized, 403, false,
       "HTTP 403 Forbidden (check the device token)"},
      {status(404, "Not Found"), WhipErrorKind::not_found, 404, true, "HTTP 404 Not Found"},
      {status(200, "OK", sdp.answer), WhipErrorKind::http, 200, true,
       "HTTP 200 where WHIP answers 201"},
      {status(201, "Created", "<html>hello</html>\n"), WhipErrorKind::bad_response, 201, true,
       "answer is not SDP (starts \"<html>hello</html>.\")"},
      {no_location, WhipErrorKind::bad_response, 201, true, "201 without a Location"},
  };
  for (const auto& c : cases) {
    FakeHttpServer server([&](const HttpRequest&) { return c.response; });
    WhipClient client(quick(server.url()));
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.error().kind, c.kind) << c.message;
    EXPECT_EQ(r.error().status, c.status) << c.message;
    EXPECT_EQ(r.error().retryable(), c.retryable) << c.message;
    EXPECT_EQ(r.error().message, "POST " + server.url("/whip") + ": " + c.message);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(WhipClient, RefusedConnectionTimeoutGarbageAndOversizedAnswers) {
  OfferAnswer sdp;
  // A port nobody listens on: bind one, read its number, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  std::string refused_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  {
    WhipClient client(quick(refused_url));
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::connect);
    EXPECT_TRUE(r.error().retryable());
    EXPECT_EQ(r.error().message.rfind("POST " + refused_url + "/whip: cannot connect: ", 0), 0u)
        << r.error().message;
  }
  {
    HttpResponse silent;
    silent.silent = true;
    FakeHttpServer server([&](const HttpRequest&) { return silent; });
    auto config = quick(server.url());
    config.request_timeout = milliseconds(500);
    WhipClient client(config);
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::timeout) << r.error().message;
    EXPECT_TRUE(r.error().retryable());
  }
  {
    HttpResponse garbage;
    garbage.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    FakeHttpServer server([&](const HttpRequest&) { return garbage; });
    WhipClient client(quick(server.url()));
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::bad_response) << r.error().message;
    EXPECT_TRUE(r.error().retryable());
  }
  {
    FakeHttpServer server(
        [&](const HttpRequest&) { return status(201, "Created", std::string(100'000, 'v')); });
    WhipClient client(quick(server.url()));
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::too_large);
    EXPECT_EQ(r.error().message,
              "POST " + server.url("/whip") + ": response larger than 65536 bytes");
  }
  {
    // https:// to a plain HTTP port: the TLS handshake fails, with a TLS reason.
    FakeHttpServer server([&](const HttpRequest&) { return status(400, "Bad Request"); });
    auto config = quick("https://127.0.0.1:" + std::to_string(server.port()));
    WhipClient client(config);
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::tls) << r.error().message;
  }
  {
    WhipClient client(quick("ftp://127.0.0.1:1/whip"));
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::invalid);
    EXPECT_FALSE(r.error().retryable());
  }
  {
    auto config = quick("http://127.0.0.1:1");
    config.ca_file = "/nonexistent/ca.pem";
    config.url = "https://127.0.0.1:1";
    WhipClient client(config);
    auto r = client.publish(sdp.offer);
    ASSERT_FALSE(r.ok());
    // The connection is refused before the CA file matters, or the file is refused: either
    // way a clear line, and nothing hangs.
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(WhipClient, CancelStopsARequestInProgress) {
  OfferAnswer sdp;
  std::atomic<int> seen{0};
  FakeHttpServer server([&](const HttpRequest&) {
    HttpResponse r = status(500, "Internal Server Error");
    r.silent = seen++ == 0;  // the first request hangs
    return r;
  });
  auto config = quick(server.url());
  config.request_timeout = seconds(20);
  WhipClient client(config);
  std::thread canceller([&] {
    while (server.request_count() == 0)
      std::this_thread::sleep_for(milliseconds(10));
    client.cancel();
  });
  auto started = std::chrono::steady_clock::now();
  auto r = client.publish(sdp.offer);
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, WhipErrorKind::cancelled);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
  // Cancelled stays cancelled until reset.
  EXPECT_EQ(client.publish(sdp.offer).error().kind, WhipErrorKind::cancelled);
  client.reset_cancel();
  EXPECT_EQ(client.publish(sdp.offer).error().status, 500);
}

TEST(WhipClient, IceRestartPatchesAFragmentAndDeleteEnds) {
  OfferAnswer sdp;
  std::string server_fragment =
      "a=ice-ufrag:NEWU\r\na=ice-pwd:newpasswordnewpassword12\r\n"
      "a=candidate:1 1 udp 2130706431 127.0.0.1 40002 typ host\r\n";
  FakeHttpServer server([&](const HttpRequest& req) {
    if (req.method == "POST") {
      HttpResponse r = status(201, "Created", sdp.answer);
      r.headers = {{"Location", "/whip/s1"}, {"ETag", "\"v1\""}};
      return r;
    }
    if (req.method == "PATCH" && req.target == "/whip/s1") {
      HttpResponse r = status(200, "OK", server_fragment);
      r.headers = {{"Content-Type", "application/trickle-ice-sdpfrag"}, {"ETag", "\"v2\""}};
      return r;
    }
    if (req.method == "DELETE" && req.target == "/whip/s1") return status(200, "OK");
    return status(404, "Not Found");
  });
  WhipClient client(quick(server.url()));
  auto session = client.publish(sdp.offer);
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_TRUE(sdp.device->set_remote_description(Instant{}, session->answer).ok());

  sdp.device->restart_ice(Instant{});
  auto offer = sdp.device->create_offer(Instant{});
  ASSERT_TRUE(offer.ok());
  auto answer = client.restart_ice(*session, *offer);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(session->etag, "\"v2\"");
  EXPECT_NE(answer->find("a=ice-ufrag:NEWU\r\n"), std::string::npos);
  EXPECT_NE(answer->find("a=candidate:1 1 udp 2130706431 127.0.0.1 40002 typ host"),
            std::string::npos);
  EXPECT_TRUE(sdp.device->set_remote_description(Instant{}, *answer).ok());

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto& patch = requests[1];
  EXPECT_EQ(patch.method, "PATCH");
  EXPECT_EQ(patch.header("Content-Type"), "application/trickle-ice-sdpfrag");
  EXPECT_EQ(patch.header("If-Match"), "\"*\"");
  EXPECT_EQ(patch.header("Authorization"), "Bearer secret-token");
  auto ours = parse_ice_fragment(patch.body);
  auto offered = parse_ice_fragment(*offer);
  ASSERT_TRUE(ours && offered);
  EXPECT_EQ(ours->ufrag, offered->ufrag);
  EXPECT_EQ(ours->pwd, offered->pwd);
  EXPECT_NE(patch.body.find("m=application"), std::string::npos);
  EXPECT_NE(patch.body.find("a=mid:"), std::string::npos);

  auto ended = client.end(*session);
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_TRUE(*ended);
  EXPECT_EQ(server.requests().back().method, "DELETE");
  // A session the server no longer knows: PATCH says not_found; DELETE counts it as done.
  session->resource_url = server.url("/whip/gone");
  auto restart = client.restart_ice(*session, *offer);
  ASSERT_FALSE(restart.ok());
  EXPECT_EQ(restart.error().kind, WhipErrorKind::not_found);
  auto gone = client.end(*session);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
}

TEST(WhipClient, ConnectAttemptsFollowTheInterval) {
  WhipClientConfig c;
  c.connect_timeout = seconds(2);
  c.connect_attempt_interval = milliseconds(500);
  c.max_connect_attempts = 20;
  EXPECT_EQ(next_connect_attempt(0, c), Duration(0));
  EXPECT_EQ(next_connect_attempt(1, c), milliseconds(500));
  EXPECT_EQ(next_connect_attempt(3, c), milliseconds(1500));
  EXPECT_EQ(next_connect_attempt(4, c), std::nullopt);  // at 2 s: the connect has timed out
  c.max_connect_attempts = 2;
  EXPECT_EQ(next_connect_attempt(1, c), milliseconds(500));
  EXPECT_EQ(next_connect_attempt(2, c), std::nullopt);
  c.connect_attempt_interval = Duration(0);  // off: one attempt, the kernel's retransmissions
  EXPECT_EQ(next_connect_attempt(0, c), Duration(0));
  EXPECT_EQ(next_connect_attempt(1, c), std::nullopt);
}

// The server's accept queue is full, so the kernel drops the client's SYNs as a link that is
// down would: the client keeps starting fresh connects, and once SYNs get through it sends its
// request exactly once, on the first connection made.
TEST(WhipClient, ConnectsAgainWhileSynsGoUnanswered) {
  OfferAnswer sdp;
  FakeHttpServer server(
      [&](const HttpRequest&) {
        HttpResponse r = status(201, "Created", sdp.answer);
        r.headers = {{"Location", "/whip/s1"}};
        return r;
      },
      0, false);
  ASSERT_TRUE(server.ok());
  // Fills the accept queue (a backlog of 0 holds one connection).
  int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(server.port());
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::this_thread::sleep_for(milliseconds(20));

  auto config = quick(server.url());
  config.connect_timeout = seconds(10);
  config.request_timeout = seconds(10);
  config.connect_attempt_interval = milliseconds(50);
  WhipClient client(config);
  WhipResult<WhipSession> result = WhipError{};
  std::thread publisher([&] { result = client.publish(sdp.offer); });
  // The link "comes back" once the client has started three connects (bounded: 5 s).
  for (int i = 0; i < 1000 && client.connect_attempts() < 3; ++i)
    std::this_thread::sleep_for(milliseconds(5));
  EXPECT_GE(client.connect_attempts(), 3u);
  EXPECT_EQ(server.request_count(), 0u);
  ::close(filler);
  server.start_accepting();
  publisher.join();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->resource_url, server.url("/whip/s1"));
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(WhipClient, IceFragmentsAreParsedAndApplied) {
  std::string answer =
      "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP "
      "webrtc-datachannel\r\na=mid:0\r\na=ice-ufrag:OLD\r\na=ice-pwd:oldpassword\r\n"
      "a=candidate:1 1 udp 1 127.0.0.1 1000 typ host\r\na=sctp-port:5000\r\n";
  auto f = parse_ice_fragment("a=ice-ufrag:N\na=ice-pwd:P\n");
  ASSERT_TRUE(f.has_value());
  std::string applied = apply_ice_fragment(answer, *f);
  EXPECT_NE(applied.find("a=ice-ufrag:N\r\n"), std::string::npos);
  EXPECT_NE(applied.find("a=ice-pwd:P\r\n"), std::string::npos);
  // No candidates in the fragment: the old ones stay.
  EXPECT_NE(applied.find("a=candidate:1 1 udp 1 127.0.0.1 1000 typ host"), std::string::npos);
  EXPECT_NE(applied.find("a=sctp-port:5000"), std::string::npos);
  EXPECT_FALSE(parse_ice_fragment("a=ice-ufrag:only\r\n").has_value());
  EXPECT_FALSE(ice_restart_fragment("a=ice-ufrag:u\r\na=ice-pwd:p\r\n").has_value());
}

}  // namespace
}  // namespace cellrtc::device
