// The HTTP front end in process, with a real relay, on loopback: what the binary's process tests
// cannot reach, such as a WebSocket subscriber that stops reading.
#include "server/http_front.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "process/http_client.h"
#include "server/media_plane.h"

namespace cellrtc::server {
namespace {

using namespace std::chrono_literals;

class FrontOnLoopback : public ::testing::Test {
 protected:
  // Runs `fn` on the server's thread and returns its result.
  template <class F>
  auto on_io(F fn) {
    std::packaged_task<decltype(fn())()> task(fn);
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  void SetUp() override {
    config_.http.listen = "127.0.0.1:0";
    config_.relay.udp_port = 0;
    config_.devices = {{"cam", "cam-token-0123456789abcdef", ""}};
    certificate_.emplace(std::move(dtls::Certificate::generate(rng_, "cellrtc-test").value()));
    relay_ = std::make_unique<Relay>(config_, rng_, *certificate_);
    media_ = std::make_unique<MediaPlane>(io_, *relay_, clock_, log_, nullptr);
    FrontLimits limits;
    limits.websocket_queue_messages = 4;
    front_ = std::make_unique<HttpFront>(io_, config_, *relay_, *media_, clock_, log_, limits);
    ASSERT_TRUE(media_->bind(config_.relay.udp_addresses, 0));
    auto bound = front_->start();
    ASSERT_TRUE(bound) << bound.error();
    port_ = bound->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    on_io([this] {
      media_->shutdown();
      front_->stop();
      io_.stop();
      return 0;
    });
    if (thread_.joinable()) thread_.join();
  }

  SeededRandom rng_{7};
  runtime::MonotonicClock clock_;
  Logger log_{LogLevel::error, false};
  ServerConfig config_;
  std::optional<dtls::Certificate> certificate_;
  boost::asio::io_context io_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<MediaPlane> media_;
  std::unique_ptr<HttpFront> front_;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(FrontOnLoopback, ASubscriberThatStopsReadingIsDroppedNotBufferedForever) {
  process::WebSocketClient slow;
  process::WebSocketClient fast;
  ASSERT_TRUE(slow.connect(port_)) << slow.error();
  ASSERT_TRUE(fast.connect(port_)) << fast.error();
  ASSERT_TRUE(slow.read(10s));  // the snapshot; then it reads no more
  ASSERT_TRUE(fast.read(10s));
  EXPECT_EQ(on_io([&] { return front_->metrics().websocket_subscribers; }), 2u);

  // Large events fill the kernel's socket buffers toward the silent subscriber; then its queue
  // (4 messages here) overflows and it is dropped. The one that reads keeps up: every event is
  // read before the next is sent.
  const std::string big(256 * 1024, 'x');
  bool dropped = false;
  for (int i = 0; i < 400 && !dropped; ++i) {
    std::string json =
        "{\"type\":\"test\",\"n\":" + std::to_string(i) + ",\"pad\":\"" + big + "\"}";
    on_io([&] {
      front_->broadcast(RelayEvent{json});
      return 0;
    });
    auto got = fast.read(10s);
    ASSERT_TRUE(got) << i << ": " << fast.error();
    EXPECT_EQ(*got, json);
    dropped = on_io([&] { return front_->metrics().websocket_dropped_total; }) == 1;
  }
  EXPECT_TRUE(dropped);
  EXPECT_EQ(on_io([&] { return front_->metrics().websocket_subscribers; }), 1u);
  // The one that read is still subscribed.
  on_io([&] {
    front_->broadcast(RelayEvent{"{\"type\":\"after\"}"});
    return 0;
  });
  EXPECT_EQ(fast.read(10s), "{\"type\":\"after\"}");
}

// A raw connection, for what no ordinary client does step by step.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& text) { (void)!::write(fd_, text.data(), text.size()); }
  // Reads until `until` has arrived (or 10 s pass, or the peer closes); returns all of it.
  std::string read_until(const std::string& until) {
    char buffer[4096];
    for (int i = 0; i < 1000 && received_.find(until) == std::string::npos; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      auto n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) break;
      received_.append(buffer, static_cast<size_t>(n));
    }
    return received_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

TEST_F(FrontOnLoopback, AnswersExpectContinueBeforeTheBody) {
  RawConnection raw(port_);
  ASSERT_TRUE(raw.connected());
  const std::string body(2000, 'v');
  raw.send(
      "POST /whip HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
      "Authorization: Bearer wrong-token-0123456789\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  // The interim answer comes with no body sent yet.
  EXPECT_THAT(raw.read_until("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 100 Continue\r\n"));
  raw.send(body);
  EXPECT_THAT(raw.read_until("\"status\":401"), ::testing::HasSubstr("HTTP/1.1 401 Unauthorized"));
}

TEST_F(FrontOnLoopback, RoutesWithoutASocket) {
  HttpRequest health;
  health.method = "GET";
  health.target = "/healthz?x=1";
  EXPECT_EQ(on_io([&] { return front_->handle(health).body; }), "ok\n");
  HttpRequest devices;
  devices.method = "GET";
  devices.target = "/api/devices";
  auto response = on_io([&] { return front_->handle(devices); });
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, ::testing::HasSubstr("\"id\":\"cam\""));
  HttpRequest unknown;
  unknown.method = "GET";
  unknown.target = "/nothing";
  EXPECT_EQ(on_io([&] { return front_->handle(unknown).status; }), 404);
  HttpRequest post_metrics;
  post_metrics.method = "POST";
  post_metrics.target = "/metrics";
  EXPECT_EQ(on_io([&] { return front_->handle(post_metrics).status; }), 405);
}

}  // namespace
}  // namespace cellrtc::server
