// The firmware's session host (firmware/app/session_sockets.h) end to end: its portable code
// over POSIX sockets standing in for lwIP (loopback only), with transport tcp, publishes to the
// real cellrtc-server through PublisherStreamer, as the firmware's loop does; a WHEP viewer of
// our core over UDP receives its frames in order, and the device opened not one UDP socket.
// Two paths: ICE-TCP to the server's HTTP port (--ice-tcp-shared; RFC 6544, RFC 4571 framing),
// and relay only through coturn over TURN-TCP or TURN-TLS with the time-limited credentials of
// the server's WHIP answer (RFC 8656; the device holds no TURN secret; TLS verified against the
// configured CA, the name given by the static host list).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "core/dtls/certificate.h"
#include "device/source_spec.h"
#include "firmware/app/publisher_streamer.h"
#include "firmware/app/session_sockets.h"
#include "firmware/app/turn_host_cache.h"
#include "interop/coturn.h"
#include "interop/turn_driver.h"
#include "process/frame_watch.h"
#include "process/http_client.h"
#include "process/server_process.h"
#include "runtime/clock.h"
#include "runtime/os_random.h"
#include "runtime/sockaddr.h"

namespace cellrtc::process {
namespace {

constexpr const char* kToken = "firmware-device-token-0123456789";

// transport tcp must never open one: any use is counted and refused.
class NoDatagrams final : public firmware::DatagramSockets {
 public:
  Result<Bound> open(const SocketAddress&) override {
    ++uses;
    return Error{Errc::invalid_state, "no UDP in this test"};
  }
  Status send(int, const SocketAddress&, ByteView) override {
    ++uses;
    return Error{Errc::invalid_state, "no UDP in this test"};
  }
  std::optional<Received> receive(int, std::span<uint8_t>) override { return std::nullopt; }
  void close(int) override {}
  std::atomic<int> uses{0};
};

// StreamSockets on POSIX sockets, as lwIP's are used on the device (tcp_sockets_esp.cpp).
class PosixStreams final : public firmware::StreamSockets {
 public:
  Result<int> connect(const SocketAddress& remote) override {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{Errc::invalid_state, "socket() failed"};
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const runtime::SockaddrStorage sa = runtime::to_sockaddr(remote);
    if (::connect(fd, sa.get(), sa.length) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return Error{Errc::invalid_state, "connect() failed"};
    }
    ++connections;
    return fd;
  }
  ConnectState poll_connect(int handle) override {
    pollfd p{handle, POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) return ConnectState::connecting;
    int error = 0;
    socklen_t len = sizeof(error);
    if (::getsockopt(handle, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0)
      return ConnectState::failed;
    return ConnectState::connected;
  }
  Result<size_t> write(int handle, ByteView data) override {
    const ssize_t n = ::send(handle, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return Error{Errc::invalid_state, "send() failed"};
  }
  ReadResult read(int handle, std::span<uint8_t> buffer) override {
    const ssize_t n = ::recv(handle, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) return {static_cast<size_t>(n), false};
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {0, false};
    return {0, true};
  }
  void close(int handle) override { ::close(handle); }
  std::atomic<int> connections{0};
};

// The camera: test-pattern JPEGs lent as the driver's buffers are; each returned once.
class PatternCamera final : public firmware::Camera {
 public:
  Status apply(const firmware::CameraSettings&) override { return {}; }
  void request_frame() override {}
  void release(uint32_t) override { ++released; }
  std::atomic<int> released{0};
};

whip::WhipResult<whip::HttpResponse> perform(uint16_t port, const whip::WhipRequest& r) {
  const std::string prefix = "http://127.0.0.1:" + std::to_string(port);
  ClientRequest request;
  request.method = r.method;
  request.target = r.url.rfind(prefix, 0) == 0 ? r.url.substr(prefix.size()) : r.url;
  for (const auto& h : r.headers)
    request.headers.emplace_back(h.name, h.value);
  request.body = r.body;
  request.timeout = std::chrono::milliseconds(5000);
  ClientResponse got = http_request(port, request);
  if (got.status == 0) return whip::WhipError{whip::WhipErrorKind::network, 0, got.error};
  whip::HttpResponse out;
  out.status = got.status;
  for (const auto& [name, value] : got.headers)
    out.headers.push_back({name, value});
  out.body = got.body;
  return out;
}

// The firmware's loop on a thread: the publisher's requests performed (blocking, loopback),
// camera frames offered while the streamer wants them, the session host read when poll() says
// its sockets are ready (its watch set) and flushed after every step.
class FirmwareDevice {
 public:
  // `turn_hosts` (outlives the device, or null): TURN names are looked up with `lookup` with
  // each answer before the publisher takes it (on the device the HTTP task does it), and the
  // session host's resolver answers from the cache.
  FirmwareDevice(uint16_t port, firmware::SessionSocketsConfig net,
                 firmware::TurnHostCache* turn_hosts = nullptr,
                 streamer::HostResolver lookup = nullptr)
      : port_(port), net_(net), turn_hosts_(turn_hosts), lookup_(std::move(lookup)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FirmwareDevice() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string line_with(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t at = log_.find(text);
    if (at == std::string::npos) return {};
    size_t start = log_.rfind('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    return log_.substr(start, log_.find('\n', at) - start);
  }
  bool wait_streaming(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!streaming_ && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return streaming_;
  }
  std::string log() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  NoDatagrams udp;
  PosixStreams tcp;
  PatternCamera camera;
  std::atomic<uint64_t> tcp_messages_out{0};
  std::atomic<int> frames_offered{0};
  std::atomic<uint64_t> relays_kept_closing{0};
  std::atomic<size_t> relays_left_closing{0};

 private:
  void note(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_ += line + "\n";
  }
  void run() {
    runtime::MonotonicClock clock;
    runtime::OsRandom rng;
    auto certificate = dtls::Certificate::generate(rng, "cellrtc-device");
    auto source = device::open_source("testpattern:160x120");
    if (!certificate || !source) return note("setup failed");
    if (turn_hosts_) net_.resolve = turn_hosts_->resolver([&clock] { return clock.now(); });
    auto answer = [&](const whip::WhipRequest& request) {
      auto got = perform(port_, request);
      if (turn_hosts_ && got)
        turn_hosts_->store(clock.now(), firmware::lookup_turn_hosts(request, *got, {}, lookup_));
      return got;
    };
    firmware::SessionSockets sockets(udp, tcp, net_);
    sockets.set_local_addresses({IpAddress::loopback_v4()});
    streamer::PublisherConfig config;
    config.endpoint = "http://127.0.0.1:" + std::to_string(port_) + "/whip";
    config.token = kToken;
    config.request_timeout = seconds(5);
    firmware::PublisherStreamer streaming(config, rng, *certificate, sockets);
    streamer::Publisher& pub = streaming.publisher();
    const Instant end = clock.now() + seconds(60);
    uint32_t frame_id = 0;
    streaming.start(clock.now());
    while (clock.now() < end) {
      Instant now = clock.now();
      streaming.handle_timeout(now);
      sockets.handle_timeout(now);
      while (auto r = pub.poll_request())
        pub.handle_response(clock.now(), r->id, answer(r->request));
      now = clock.now();
      if (streaming.wants_frame(now)) {
        device::CaptureSettings settings;
        settings.wait = Duration(0);
        settings.quality = streaming.frame_wish().quality;
        auto frame = (*source)->next(now, settings);
        if (frame) {
          firmware::CameraFrame lent{++frame_id, frame->jpeg(), frame->width, frame->height, now};
          ++frames_offered;
          streaming.offer_frame(now, firmware::FrameLease(&camera, lent));
        }
      }
      sockets.flush(now, pub);
      while (auto e = pub.poll_event()) {
        if (auto* s = std::get_if<streamer::event::StateChanged>(&*e)) {
          note(std::string("state: ") + streamer::to_string(s->state) + " " + s->detail);
          if (s->state == streamer::PublisherState::streaming) streaming_ = true;
        } else if (auto* l = std::get_if<streamer::event::Log>(&*e)) {
          note(l->kind + ": " + l->text);
        }
      }
      while (auto line = sockets.poll_log())
        note(*line);
      tcp_messages_out = sockets.stats().tcp_messages_out;
      if (stop_) break;
      // Wait for the sockets, the streamer's next deadline, or 20 ms (the camera, a stop).
      firmware::WatchSet watch = sockets.watch_set();
      std::vector<pollfd> fds;
      for (int fd : watch.readable) {
        short events = POLLIN;
        for (int w : watch.writable)
          if (w == fd) events |= POLLOUT;
        fds.push_back({fd, events, 0});
      }
      int wait_ms = 20;
      if (auto t = earliest(streaming.next_timeout(), sockets.next_timeout()))
        wait_ms = std::clamp<int>(static_cast<int>((*t - clock.now()).count() / 1000), 0, 20);
      if (::poll(fds.data(), fds.size(), wait_ms) > 0) sockets.read(clock.now(), pub);
    }
    // The session ends with its DELETE; its relays deallocate (answered, or given up after
    // their close_timeout of 2 s).
    pub.stop(clock.now());
    for (int i = 0; i < 10 && !pub.done(); ++i) {
      while (auto r = pub.poll_request())
        pub.handle_response(clock.now(), r->id, answer(r->request));
      sockets.flush(clock.now(), pub);
    }
    relays_kept_closing = sockets.stats().relays_kept_closing;
    const Instant closing_end = clock.now() + seconds(5);
    while (sockets.closing_relays() > 0 && clock.now() < closing_end) {
      firmware::WatchSet watch = sockets.watch_set();
      std::vector<pollfd> fds;
      for (int fd : watch.readable)
        fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) > 0) sockets.read(clock.now(), pub);
      sockets.handle_timeout(clock.now());
    }
    relays_left_closing = sockets.closing_relays();
    tcp_messages_out = sockets.stats().tcp_messages_out;
  }

  uint16_t port_;
  firmware::SessionSocketsConfig net_;
  firmware::TurnHostCache* turn_hosts_;
  streamer::HostResolver lookup_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> streaming_{false};
  std::mutex mutex_;
  std::string log_;
};

// A WHEP viewer of our core over UDP watches camera "cam" until it has 10 frames; their
// sequence numbers increase.
void watch_ten_frames(const ServerProcess& server, FirmwareDevice& device) {
  watch_frames_in_order(server.http_port(), "cam", 10,
                        [&] { return device.log() + server.log_tail(); });
}

// What both paths show: no UDP at all, and every lent frame back to the camera once (the
// streamer copies it into its message).
void expect_tcp_only(FirmwareDevice& device) {
  device.stop();
  std::printf("[ firmware ] %s", device.log().c_str());
  EXPECT_EQ(device.udp.uses, 0);
  EXPECT_GE(device.tcp.connections, 1);
  EXPECT_EQ(device.camera.released, device.frames_offered);
}

TEST(FirmwareSession, TcpOnlySessionHostStreamsToTheServerThroughItsSharedHttpPort) {
  std::string error;
  auto server =
      ServerProcess::start({"--device", std::string("cam:") + kToken, "--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  firmware::SessionSocketsConfig net;
  net.transport = streamer::IceTransport::tcp;
  FirmwareDevice device(server->http_port(), net);
  ASSERT_TRUE(device.wait_streaming(std::chrono::seconds(20)))
      << device.log() << server->log_tail();
  EXPECT_NE(device.line_with("state: streaming").find("over tcp"), std::string::npos)
      << device.log();
  ASSERT_NO_FATAL_FAILURE(watch_ten_frames(*server, device));
  EXPECT_GT(device.tcp_messages_out, 0u);  // ICE-TCP messages, RFC 4571-framed
  expect_tcp_only(device);
}

class FirmwareRelaySession : public ::testing::TestWithParam<turn::TurnTransport> {};

TEST_P(FirmwareRelaySession, RelayOnlySessionHostStreamsThroughCoturn) {
  const bool tls = GetParam() == turn::TurnTransport::tls;
  interop::CoturnOptions options;
  options.allow_loopback_peers = true;  // the server's media port is on 127.0.0.1
  auto identity = interop::make_test_tls_identity("turn.cellrtc.test");
  ASSERT_TRUE(identity);
  if (tls) {
    options.tls_cert_pem = identity->cert_pem;
    options.tls_key_pem = identity->key_pem;
  }
  std::string error;
  auto coturn = interop::CoturnServer::start(options, &error);
  ASSERT_TRUE(coturn) << error;
  const std::string url =
      tls ? "turns:turn.cellrtc.test:" + std::to_string(coturn->tls_address().port()) +
                "?transport=tcp"
          : "turn:127.0.0.1:" + std::to_string(coturn->port()) + "?transport=tcp";
  auto server = ServerProcess::start({"--device", std::string("cam:") + kToken, "--turn-secret",
                                      coturn->static_auth_secret(), "--turn-url", url},
                                     &error);
  ASSERT_TRUE(server) << error;
  firmware::SessionSocketsConfig net;
  net.transport = streamer::IceTransport::tcp;
  net.relay_only = true;
  net.relay.ca_pem = identity->cert_pem;  // FirmwareConfig::ca_pem on the device
  // The TURN server's name is looked up with the WHIP answer, off the loop (TurnHostCache), as
  // on the device; the loop only reads the cache.
  std::atomic<int> lookups{0};
  streamer::HostResolver lookup = [&lookups](const std::string& host) {
    ++lookups;
    return host == "turn.cellrtc.test" ? Result<IpAddress, std::string>(IpAddress::loopback_v4())
                                       : Result<IpAddress, std::string>("unknown " + host);
  };
  firmware::TurnHostCache turn_hosts;
  // The certificate's dates are checked against the wall clock, as once SNTP has answered.
  net.unix_time = [] { return std::optional<int64_t>(std::time(nullptr)); };
  FirmwareDevice device(server->http_port(), net, &turn_hosts, lookup);
  ASSERT_TRUE(device.wait_streaming(std::chrono::seconds(20)))
      << device.log() << server->log_tail() << coturn->log_tail();
  // The relay was allocated on the server's TURN entry, and is the only candidate there was.
  EXPECT_NE(device.line_with("relay: allocated").find(" on " + url + " in "), std::string::npos)
      << device.log();
  // The state line names the path as the viewer page does: the relay and how it is reached.
  EXPECT_NE(device.line_with("state: streaming").find(tls ? "over turn-tls" : "over turn-tcp"),
            std::string::npos)
      << device.log();
  ASSERT_NO_FATAL_FAILURE(watch_ten_frames(*server, device));
  EXPECT_EQ(device.tcp_messages_out, 0u);  // no ICE-TCP: every byte went through coturn
  expect_tcp_only(device);
  // The closed session's allocation was deallocated over its TURN connection, kept for it.
  EXPECT_EQ(device.relays_kept_closing, 1u);
  EXPECT_EQ(device.relays_left_closing, 0u);
  device.stop();
  // turns: by name: looked up once, with the answer; the session's plan found it in the cache.
  EXPECT_EQ(lookups, tls ? 1 : 0);
  EXPECT_EQ(turn_hosts.stats().stored, tls ? 1u : 0u);
  EXPECT_EQ(turn_hosts.stats().hits, tls ? 1u : 0u);
  EXPECT_EQ(turn_hosts.stats().misses, 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, FirmwareRelaySession,
                         ::testing::Values(turn::TurnTransport::tcp, turn::TurnTransport::tls),
                         [](const auto& p) { return std::string(turn::to_string(p.param)); });

}  // namespace
}  // namespace cellrtc::process
