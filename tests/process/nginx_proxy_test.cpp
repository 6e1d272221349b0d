// The committed nginx configuration (scripts/deploy/nginx-cellrtc.conf) in front of the real
// cellrtc-server, both on loopback: Debian's nginx runs in the foreground from a temporary
// prefix, with the file's host-specific parts (ports, Let's Encrypt paths) replaced by the
// test's. Through it: HTTPS, the port-80 redirect, a WebSocket upgrade and a WHIP POST, PATCH
// and DELETE with a real offer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "process/http_client.h"
#include "process/server_process.h"
#include "runtime/os_random.h"
#include "support/build_paths.h"

namespace cellrtc::process {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kNginx = "/usr/sbin/nginx";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// A TCP port nothing listens on right now (bound, read, released).
uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool accepts_connections(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

TEST(NginxProxy, CommittedConfigurationCarriesWhipAndWebSocket) {
  if (!std::filesystem::exists(kNginx)) GTEST_SKIP() << kNginx << " is not installed";
  TempDir dir;
  std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      " -keyout " +
      dir.file("privkey.pem") + " -out " + dir.file("fullchain.pem") +
      " -days 2 -subj /CN=localhost > " + dir.file("openssl.log") + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::string error;
  auto server = ServerProcess::start(
      {"--device", "cam:cam-token-0123456789abcdef", "--trusted-proxy", "127.0.0.1"}, &error);
  ASSERT_TRUE(server) << error;

  uint16_t https_port = free_tcp_port();
  uint16_t http_port = free_tcp_port();
  std::string site =
      read_file(cellrtc::test_paths::source_dir() + "/scripts/deploy/nginx-cellrtc.conf");
  ASSERT_THAT(site, HasSubstr("server 127.0.0.1:8080;"));
  replace_all(site, "server 127.0.0.1:8080;",
              "server 127.0.0.1:" + std::to_string(server->http_port()) + ";");
  replace_all(site, "listen 443 ssl http2;",
              "listen 127.0.0.1:" + std::to_string(https_port) + " ssl http2;");
  replace_all(site, "listen [::]:443 ssl http2;", "");
  replace_all(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(http_port) + ";");
  replace_all(site, "listen [::]:80;", "");
  replace_all(site, "/etc/letsencrypt/live/cellrtc.example.com/", dir.path() + "/");
  replace_all(site, "/var/www/html", dir.path());
  dir.write("site.conf", site);
  std::filesystem::create_directories(dir.file("temp"));
  dir.write("nginx.conf",
            "daemon off;\n"
            "master_process off;\n"
            "worker_processes 1;\n"
            "pid " +
                dir.file("nginx.pid") +
                ";\n"
                "error_log " +
                dir.file("error.log") +
                " info;\n"
                "events { worker_connections 64; }\n"
                "http {\n"
                "  access_log " +
                dir.file("access.log") +
                ";\n"
                "  client_body_temp_path " +
                dir.file("temp") +
                "/body;\n"
                "  proxy_temp_path " +
                dir.file("temp") +
                "/proxy;\n"
                "  fastcgi_temp_path " +
                dir.file("temp") +
                "/fastcgi;\n"
                "  uwsgi_temp_path " +
                dir.file("temp") +
                "/uwsgi;\n"
                "  scgi_temp_path " +
                dir.file("temp") +
                "/scgi;\n"
                "  include " +
                dir.file("site.conf") +
                ";\n"
                "}\n");
  auto nginx = interop::ChildProcess::spawn(
      {.program = kNginx,
       .args = {"-p", dir.path(), "-e", dir.file("error.log"), "-c", dir.file("nginx.conf")},
       .log_path = interop::interop_log_path(interop::unique_name("nginx") + ".log"),
       .capture_stdout = false},
      &error);
  ASSERT_TRUE(nginx) << error;
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = accepts_connections(https_port);
    if (!up) std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(nginx->running()) << read_file(dir.file("error.log")) << nginx->log_tail();
  }
  ASSERT_TRUE(up) << read_file(dir.file("error.log"));

  // HTTPS through nginx; plain HTTP is redirected to it.
  auto health = http_request(https_port, {.target = "/healthz", .tls = true});
  ASSERT_EQ(health.status, 200) << health.error << read_file(dir.file("error.log"));
  EXPECT_EQ(health.body, "ok\n");
  auto redirect = http_get(http_port, "/");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_THAT(redirect.header("Location"), ::testing::StartsWith("https://"));
  auto page = http_request(https_port, {.target = "/", .tls = true});
  EXPECT_EQ(page.status, 200);

  // The WebSocket upgrade passes through: the devices snapshot arrives.
  WebSocketClient ws;
  ASSERT_TRUE(ws.connect(https_port, "/ws", true))
      << ws.error() << read_file(dir.file("error.log"));
  auto snapshot = ws.read(10s);
  ASSERT_TRUE(snapshot) << ws.error();
  EXPECT_EQ(nlohmann::json::parse(*snapshot)["type"], "devices");

  // WHIP with a real offer: 201, the relative Location, ETag and the answer come through.
  runtime::OsRandom rng;
  auto certificate = dtls::Certificate::generate(rng, "cellrtc-test-device");
  ASSERT_TRUE(certificate);
  peer::PeerConfig config;
  config.certificate = &*certificate;
  peer::PeerConnection pc(config, rng);
  Instant now = Instant::from_us(0);
  ASSERT_TRUE(pc.add_host_socket(now, SocketAddress(IpAddress::loopback_v4(), 40000)));
  pc.end_of_local_sockets(now);
  ASSERT_TRUE(
      pc.create_data_channel(now, {.label = "video", .ordered = false, .max_retransmits = 0}));
  ASSERT_TRUE(pc.create_data_channel(now, {.label = "control"}));
  auto offer = pc.create_offer(now);
  ASSERT_TRUE(offer);
  auto created =
      http_request(https_port, {.method = "POST",
                                .target = "/whip",
                                .headers = {{"Content-Type", "application/sdp"},
                                            {"Authorization", "Bearer cam-token-0123456789abcdef"}},
                                .body = *offer,
                                .tls = true});
  ASSERT_EQ(created.status, 201) << created.body << read_file(dir.file("error.log"));
  EXPECT_EQ(created.header("Content-Type"), "application/sdp");
  EXPECT_THAT(created.header("Location"), ::testing::StartsWith("/whip/"));
  EXPECT_FALSE(created.header("ETag").empty());
  EXPECT_THAT(created.body, HasSubstr("a=fingerprint:sha-256 "));
  auto deleted = http_request(
      https_port, {.method = "DELETE", .target = created.header("Location"), .tls = true});
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  // A wrong token is the server's 401, passed through as a problem.
  auto refused =
      http_request(https_port, {.method = "POST",
                                .target = "/whip",
                                .headers = {{"Content-Type", "application/sdp"},
                                            {"Authorization", "Bearer wrong-token-0123456789"}},
                                .body = *offer,
                                .tls = true});
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.header("Content-Type"), "application/problem+json");
  // The server saw the requests coming from nginx (trusted) on behalf of 127.0.0.1.
  EXPECT_THAT(server->log_tail(1 << 16), HasSubstr("method=POST path=/whip status=201"));
}

}  // namespace
}  // namespace cellrtc::process
