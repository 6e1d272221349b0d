// cellrtc-server's connection limit and its IPv6 listener, against the real binary on loopback.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "process/http_client.h"
#include "process/server_process.h"

namespace cellrtc::process {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// One HTTP/1.1 request on a raw socket to [::1]:port, the whole answer until the server closes
// (at most 10 s).
std::string get_over_ipv6(uint16_t port, const std::string& target) {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  address.sin6_port = htons(port);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    char buffer[4096];
    for (int i = 0; i < 100; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      auto n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      answer.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

TEST(ServerLimits, ListensOnIpv6) {
  std::string error;
  auto server = ServerProcess::start({"--listen", "[::1]:0", "--udp-address", "::1"}, &error);
  ASSERT_TRUE(server) << error;
  EXPECT_THAT(server->listening(), ::testing::StartsWith("http://[::1]:"));
  EXPECT_THAT(server->lines(), ::testing::Contains(::testing::StartsWith("media udp [::1]:")));
  EXPECT_THAT(
      server->lines(),
      ::testing::Contains("viewer http://[::1]:" + std::to_string(server->http_port()) + "/"));
  auto answer = get_over_ipv6(server->http_port(), "/healthz");
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answer, ::testing::EndsWith("\r\n\r\nok\n"));
  EXPECT_THAT(server->log_tail(), HasSubstr("client=::1"));
}

TEST(ServerLimits, ConnectionsOverTheLimitAreClosed) {
  std::string error;
  auto server = ServerProcess::start({"--max-connections", "2"}, &error);
  ASSERT_TRUE(server) << error;
  auto first = std::make_unique<WebSocketClient>();
  WebSocketClient second;
  ASSERT_TRUE(first->connect(server->http_port())) << first->error();
  ASSERT_TRUE(second.connect(server->http_port())) << second.error();
  ASSERT_TRUE(first->read(10s));
  ASSERT_TRUE(second.read(10s));
  // A third connection is accepted and closed at once: no response.
  auto refused = http_get(server->http_port(), "/healthz");
  EXPECT_EQ(refused.status, 0);
  EXPECT_THAT(server->log_tail(), HasSubstr("connection refused: limit reached"));
  // Once one leaves, a new connection gets in.
  first.reset();
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = http_get(server->http_port(), "/healthz").status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace cellrtc::process
