// EndpointDriver's plain streams (StreamCommand): connect, write, read and close a TCP
// connection for an endpoint, and report a refused connection; loopback only.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <string>

#include "runtime/endpoint_driver.h"
#include "runtime/sockaddr.h"

namespace cellrtc::runtime {
namespace {

// Opens stream 7 to `remote`, writes "hello" once connected, collects what comes back.
class StreamUser final : public DatagramEndpoint {
 public:
  explicit StreamUser(SocketAddress remote) {
    commands.push_back(StreamCommand{StreamCommand::Kind::connect, 7, remote, {}});
    // Written before the connection completes: the driver queues it.
    commands.push_back(StreamCommand{StreamCommand::Kind::write, 7, {}, Bytes{'h', 'i', ' '}});
  }
  void handle_datagram(Instant, const SocketAddress&, const SocketAddress&, ByteView) override {}
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override { return std::nullopt; }
  std::optional<Instant> next_timeout() const override { return std::nullopt; }
  std::optional<StreamCommand> poll_stream_command() override {
    if (commands.empty()) return std::nullopt;
    StreamCommand c = std::move(commands.front());
    commands.pop_front();
    return c;
  }
  void handle_stream_connected(Instant, uint32_t stream) override {
    EXPECT_EQ(stream, 7u);
    connected = true;
    commands.push_back(
        StreamCommand{StreamCommand::Kind::write, 7, {}, Bytes{'h', 'e', 'l', 'l', 'o'}});
  }
  void handle_stream_data(Instant, uint32_t stream, ByteView data) override {
    EXPECT_EQ(stream, 7u);
    received += std::string(as_chars(data));
    if (received.size() >= 8)
      commands.push_back(StreamCommand{StreamCommand::Kind::close, 7, {}, {}});
  }
  void handle_stream_closed(Instant, uint32_t stream) override {
    EXPECT_EQ(stream, 7u);
    closed = true;
  }

  std::deque<StreamCommand> commands;
  bool connected = false;
  bool closed = false;
  std::string received;
};

int listen_loopback(SocketAddress* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *bound = SocketAddress(IpAddress::loopback_v4(), ntohs(a.sin_port));
  return fd;
}

TEST(StreamConnections, ConnectsWritesReadsAndCloses) {
  SocketAddress server;
  int listener = listen_loopback(&server);
  ASSERT_GE(listener, 0);
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  StreamUser user(server);
  EndpointDriver driver(**loop, user);
  driver.wake();

  // The far end: accept, read the 8 bytes, answer them reversed, then see the close.
  int conn = -1;
  std::string got;
  (void)(*loop)->watch(listener, Interest{}, [&](Readiness) {
    conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) return;
    (*loop)->unwatch(listener);
    (void)(*loop)->watch(conn, Interest{}, [&](Readiness) {
      char buf[64];
      ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        if (got.size() == 8) {
          std::string reply(got.rbegin(), got.rend());
          ASSERT_EQ(::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL), 8);
        }
      } else {
        (*loop)->unwatch(conn);
        got += "|eof";
      }
    });
  });
  ASSERT_TRUE(
      (*loop)->run_until([&] { return got.ends_with("|eof"); }, (*loop)->now() + seconds(5)));
  EXPECT_TRUE(user.connected);
  EXPECT_EQ(got, "hi hello|eof");
  EXPECT_EQ(user.received, "olleh ih");
  EXPECT_FALSE(user.closed) << "a close the endpoint asked for is not reported back";
  EXPECT_EQ(driver.streams().open_connections(), 0u);
  EXPECT_EQ(driver.streams().counters().bytes_sent, 8u);
  ::close(conn);
  ::close(listener);
}

TEST(StreamConnections, ReportsARefusedConnection) {
  SocketAddress server;
  int listener = listen_loopback(&server);
  ASSERT_GE(listener, 0);
  ::close(listener);  // nothing listens there now
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  StreamUser user(server);
  EndpointDriver driver(**loop, user);
  driver.wake();
  ASSERT_TRUE((*loop)->run_until([&] { return user.closed; }, (*loop)->now() + seconds(5)));
  EXPECT_FALSE(user.connected);
  EXPECT_EQ(driver.streams().counters().failed, 1u);
  EXPECT_EQ(driver.streams().open_connections(), 0u);
}

}  // namespace
}  // namespace cellrtc::runtime
