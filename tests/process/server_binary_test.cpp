// The real cellrtc-server binary on loopback: HTTP, static files, metrics, WebSocket events,
// limits (429, 413), HTTPS, configuration errors and SIGTERM, each against a server of its own
// on free ports.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "process/http_client.h"
#include "process/server_process.h"

namespace cellrtc::process {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::unique_ptr<ServerProcess> start_or_fail(const std::vector<std::string>& args) {
  std::string error;
  auto server = ServerProcess::start(args, &error);
  EXPECT_TRUE(server) << error;
  return server;
}

TEST(ServerBinary, PrintsItsStartupLines) {
  auto server = start_or_fail({});
  ASSERT_TRUE(server);
  const auto& lines = server->lines();
  ASSERT_GE(lines.size(), 6u);
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("listening http://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("media udp 127\\.0\\.0\\.1:[0-9]+"));
  std::string base = "http://127.0.0.1:" + std::to_string(server->http_port());
  EXPECT_EQ(lines[2], "viewer " + base + "/");
  EXPECT_EQ(lines[3], "whip " + base + "/whip");
  EXPECT_THAT(lines[4], ::testing::MatchesRegex("device demo token [A-Za-z0-9]{32}"));
  EXPECT_EQ(lines.back(), "ready");
  EXPECT_NE(server->media_port(), 0);
  // The token is printed once on stdout, never logged.
  EXPECT_EQ(server->log_tail(1 << 20).find(server->demo_token()), std::string::npos);

  auto fixed = start_or_fail({"--device", "demo:fixed-token-0123456789"});
  ASSERT_TRUE(fixed);
  EXPECT_THAT(fixed->lines(), ::testing::Contains("device demo"));
}

TEST(ServerBinary, HealthzMetricsAndStaticFiles) {
  TempDir web;
  web.write("index.html", "<!doctype html><title>t</title>");
  web.write("app.js", "export const x = 1;");
  web.write("style.css", "body{}");
  TempDir outside;
  outside.write("secret.txt", "secret");
  auto server = start_or_fail({"--web-root", web.path()});
  ASSERT_TRUE(server);
  auto port = server->http_port();

  auto health = http_get(port, "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(health.body, "ok\n");

  auto index = http_get(port, "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>t</title>");
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  auto js = http_get(port, "/web/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(http_get(port, "/web/style.css").header("Content-Type"), "text/css; charset=utf-8");
  // Out of the root by any spelling: 404, and never the file.
  std::string rel = "../" + outside.path().substr(outside.path().rfind('/') + 1) + "/secret.txt";
  for (const std::string& target :
       std::vector<std::string>{"/web/" + rel, "/web/%2e%2e/secret.txt", "/web/..%2fsecret.txt",
                                "/../etc/passwd", "/web//etc/passwd", "/nothing-here"}) {
    auto r = http_get(port, target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body.find("secret\""), std::string::npos);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << target;
  }

  auto metrics = http_get(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body, HasSubstr("cellrtc_http_requests_total{status=\"200\"} "));
  EXPECT_THAT(metrics.body, HasSubstr("cellrtc_http_requests_total{status=\"404\"} 6\n"));
  EXPECT_THAT(metrics.body, HasSubstr("cellrtc_http_connections_total "));
  // Prometheus text format: comments, or a metric name, optional labels, a value.
  std::istringstream lines(metrics.body);
  std::regex sample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.eE+-]+|[-+]Inf|NaN)");
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 8);

  // Keep-alive: several requests on one connection are counted once as a connection; HEAD
  // has the length and no body; other methods on fixed paths are refused.
  auto head = http_request(port, {.method = "HEAD", .target = "/web/app.js"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "19");
  EXPECT_EQ(http_request(port, {.method = "POST", .target = "/healthz"}).status, 405);
  EXPECT_EQ(http_get(port, "/ws").status, 400);  // not an upgrade
}

TEST(ServerBinary, WebSocketGetsTheDevicesSnapshotFirst) {
  auto server = start_or_fail({"--device", "cam-1:cam-1-token-0123456789"});
  ASSERT_TRUE(server);
  WebSocketClient ws;
  ASSERT_TRUE(ws.connect(server->http_port())) << ws.error();
  auto first = ws.read(10s);
  ASSERT_TRUE(first) << ws.error();
  auto json = nlohmann::json::parse(*first);
  EXPECT_EQ(json["type"], "devices");
  ASSERT_TRUE(json["devices"].is_array());
  ASSERT_EQ(json["devices"].size(), 1u) << *first;
  EXPECT_EQ(json["devices"][0]["id"], "cam-1");
  EXPECT_EQ(json["devices"][0]["online"], false);

  auto metrics = http_get(server->http_port(), "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("cellrtc_websocket_subscribers 1\n"));
}

TEST(ServerBinary, TooManyWhipRequestsGet429WithRetryAfter) {
  auto server = start_or_fail({"--request-burst", "3", "--requests-per-second", "0.05"});
  ASSERT_TRUE(server);
  auto port = server->http_port();
  ClientRequest post{.method = "POST",
                     .target = "/whip",
                     .headers = {{"Content-Type", "application/sdp"},
                                 {"Authorization", "Bearer wrong-token-0123456789"}},
                     .body = "v=0\r\n"};
  for (int i = 0; i < 3; ++i) {
    auto r = http_request(port, post);
    EXPECT_EQ(r.status, 401) << i << " " << r.body;  // the relay's answer: a wrong token
  }
  auto limited = http_request(port, post);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.header("Content-Type"), "application/problem+json");
  int retry_after = std::atoi(limited.header("Retry-After").c_str());
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 20);
  // Reads are not limited.
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  EXPECT_EQ(http_get(port, "/api/devices").status, 200);
  EXPECT_THAT(http_get(port, "/metrics").body, HasSubstr("cellrtc_http_rate_limited_total 1\n"));
}

TEST(ServerBinary, HugeBodyGets413) {
  auto server = start_or_fail({"--max-body-bytes", "2048", "--max-sdp-bytes", "1024"});
  ASSERT_TRUE(server);
  auto r = http_request(server->http_port(), {.method = "POST",
                                              .target = "/whip",
                                              .headers = {{"Content-Type", "application/sdp"}},
                                              .body = std::string(200 * 1024, 'a')});
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_THAT(r.body, HasSubstr("2048"));
  // The server carries on.
  EXPECT_EQ(http_get(server->http_port(), "/healthz").status, 200);
  // A header over the limit is refused too.
  auto big_header = http_request(
      server->http_port(), {.target = "/healthz", .headers = {{"X-Big", std::string(20000, 'h')}}});
  EXPECT_EQ(big_header.status, 431) << big_header.error;
}

TEST(ServerBinary, HttpsWithASelfSignedCertificate) {
  TempDir dir;
  std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      " -keyout " +
      dir.file("key.pem") + " -out " + dir.file("cert.pem") + " -days 2 -subj /CN=localhost > " +
      dir.file("openssl.log") + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  // The same P-256 pair serves as the DTLS certificate, from one PEM file.
  ASSERT_EQ(std::system(("cat " + dir.file("cert.pem") + " " + dir.file("key.pem") + " > " +
                         dir.file("dtls.pem"))
                            .c_str()),
            0);
  auto server = start_or_fail({"--tls-certificate", dir.file("cert.pem"), "--tls-key",
                               dir.file("key.pem"), "--certificate-file", dir.file("dtls.pem")});
  ASSERT_TRUE(server);
  EXPECT_THAT(server->listening(), ::testing::StartsWith("https://127.0.0.1:"));
  EXPECT_THAT(server->lines(), ::testing::Contains(::testing::StartsWith("viewer https://")));

  auto r = http_request(server->http_port(), {.target = "/healthz", .tls = true});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "ok\n");
  // Plain HTTP on the TLS port gets no HTTP answer, and TLS 1.1 is refused (RFC 8996).
  EXPECT_EQ(http_request(server->http_port(), {.target = "/healthz", .timeout = 3000ms}).status, 0);
  auto old = http_request(server->http_port(),
                          {.target = "/healthz", .tls = true, .tls_max_version = "1.1"});
  EXPECT_EQ(old.status, 0);
  EXPECT_THAT(old.error, HasSubstr("tls handshake"));
  // Still serving.
  EXPECT_EQ(http_request(server->http_port(), {.target = "/healthz", .tls = true}).status, 200);
}

TEST(ServerBinary, SigtermClosesWebSocketsAndExitsZeroQuickly) {
  auto server = start_or_fail({});
  ASSERT_TRUE(server);
  WebSocketClient ws;
  ASSERT_TRUE(ws.connect(server->http_port())) << ws.error();
  ASSERT_TRUE(ws.read(10s)) << ws.error();
  // An idle keep-alive HTTP connection must not hold the shutdown up either.
  ASSERT_EQ(http_get(server->http_port(), "/healthz").status, 200);

  auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(server->child().pid(), SIGTERM), 0);
  // The subscriber gets a close frame, not a reset.
  EXPECT_FALSE(ws.read(10s));
  EXPECT_TRUE(ws.closed());
  EXPECT_THAT(ws.error(), HasSubstr("closed: code 1001"));
  auto status = server->child().wait(10s);
  auto took = std::chrono::steady_clock::now() - sent;
  ASSERT_TRUE(status) << "still running 10 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << interop::describe_wait_status(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << server->log_tail();
  // About 2 s at most by design; the bound here leaves room for a loaded machine.
  EXPECT_LT(took, 5s);
  EXPECT_THAT(server->log_tail(), HasSubstr("stopping signal=SIGTERM"));
}

TEST(ServerBinary, ConfigurationErrorsExit2NamingTheKey) {
  auto bad_flag = run_server_to_end({"--listen", "nowhere"});
  ASSERT_TRUE(WIFEXITED(bad_flag.wait_status)) << bad_flag.log;
  EXPECT_EQ(WEXITSTATUS(bad_flag.wait_status), 2);
  EXPECT_THAT(bad_flag.log, HasSubstr("--listen (http.listen): 'nowhere' is not IP:PORT"));

  TempDir dir;
  dir.write("c.toml", "[http]\nlisten = \"127.0.0.1:0\"\nlisten_twice = 1\n");
  auto bad_file = run_server_to_end({"--config", dir.file("c.toml")});
  ASSERT_TRUE(WIFEXITED(bad_file.wait_status)) << bad_file.log;
  EXPECT_EQ(WEXITSTATUS(bad_file.wait_status), 2);
  EXPECT_THAT(bad_file.log, HasSubstr(dir.file("c.toml") + ":3: unknown key 'http.listen_twice'"));

  auto missing_tls =
      run_server_to_end({"--listen", "127.0.0.1:0", "--udp-port", "0", "--tls-certificate",
                         dir.file("none.pem"), "--tls-key", dir.file("none.key")});
  ASSERT_TRUE(WIFEXITED(missing_tls.wait_status)) << missing_tls.log;
  EXPECT_EQ(WEXITSTATUS(missing_tls.wait_status), 2);
  EXPECT_THAT(missing_tls.log, HasSubstr("http.tls_certificate"));

  auto help = run_server_to_end({"--help"});
  ASSERT_TRUE(WIFEXITED(help.wait_status));
  EXPECT_EQ(WEXITSTATUS(help.wait_status), 0);
  EXPECT_THAT(help.out, HasSubstr("--udp-port PORT"));
}

TEST(ServerBinary, PortInUseExits1) {
  auto first = start_or_fail({});
  ASSERT_TRUE(first);
  auto second = run_server_to_end(
      {"--listen", "127.0.0.1:" + std::to_string(first->http_port()), "--udp-port", "0"});
  ASSERT_TRUE(WIFEXITED(second.wait_status)) << second.log;
  EXPECT_EQ(WEXITSTATUS(second.wait_status), 1);
  EXPECT_THAT(second.log, HasSubstr("cannot listen"));
}

}  // namespace
}  // namespace cellrtc::process
