// The whole path on loopback with the real programs: cellrtc-device publishes a test pattern to
// cellrtc-server (WHIP), a viewer (our PeerConnection, WHEP) receives the frames. Then the
// server is killed and started again on the same ports: the device reconnects by itself and a
// new viewer sees frames again, their sequence going on. SIGTERM ends the device with a DELETE.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/media/frame_header.h"
#include "device/whip_client.h"
#include "interop/coturn.h"
#include "interop/turn_driver.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "support/build_paths.h"
#include "support/peer_endpoint.h"

extern char** environ;

namespace cellrtc::device {
namespace {

constexpr const char* kToken = "e2e-device-token-0123456789";

// A child process with its stdout on a pipe we read lines from; killed when destroyed.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stderr_path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  bool started() const { return pid_ > 0; }

  // The next line of stdout, within `limit`.
  std::optional<std::string> read_line(Duration limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[1024];
      ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  // Reads lines (keeping them) until one starts with `prefix`.
  std::optional<std::string> wait_for(const std::string& prefix, Duration limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = read_line(
          std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()));
      if (!line) return std::nullopt;
      if (line->rfind(prefix, 0) == 0) return line;
    }
    return std::nullopt;
  }
  void drain() {
    while (read_line(milliseconds(500))) {
    }
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status, or nullopt when it did not end within `limit`.
  std::optional<int> wait(Duration limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return std::nullopt;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::vector<std::string> lines_;
};

std::vector<std::string> server_args(uint16_t http_port, uint16_t udp_port,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> args = {cellrtc::test_paths::binary_dir() + "/server/cellrtc-server",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(http_port),
                                   "--udp-port",
                                   std::to_string(udp_port),
                                   "--udp-address",
                                   "127.0.0.1",
                                   "--device",
                                   std::string("cam1:") + kToken,
                                   "--reconnect-grace",
                                   "60"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

struct Server {
  // Starts cellrtc-server; `http_port`/`udp_port` 0 pick free ones.
  Server(uint16_t http_port, uint16_t udp_port, const std::string& log,
         const std::vector<std::string>& extra = {})
      : child(server_args(http_port, udp_port, extra), log) {
    if (auto l = child.wait_for("listening ", seconds(20))) url = l->substr(10);
    if (auto l = child.wait_for("media udp ", seconds(5))) {
      auto address = SocketAddress::parse(l->substr(10));
      if (address) media_port = address->port();
    }
    ready = child.wait_for("ready", seconds(5)).has_value();
  }
  uint16_t http_port() const {
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  Child child;
  std::string url;
  uint16_t media_port = 0;
  bool ready = false;
};

// A viewer: WHEP to the server, frames counted on `video`.
class Viewer {
 public:
  explicit Viewer(const std::string& base) : rng_(5), loop_(runtime::EventLoop::create().value()) {
    cert_ =
        std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng_, "viewer").value());
    peer::PeerConfig config;
    config.certificate = cert_.get();
    peer_ = std::make_unique<testing::PeerEndpoint>(config, rng_);
    driver_ = std::make_unique<runtime::EndpointDriver>(*loop_, *peer_);
    Instant now = loop_->now();
    auto bound = driver_->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
    if (!bound) return;
    (void)peer_->pc.add_host_socket(now, *bound);
    peer_->pc.end_of_local_sockets(now);
    (void)peer_->pc.create_data_channel(
        now, {.label = "video", .ordered = false, .max_retransmits = 0u});
    (void)peer_->pc.create_data_channel(now, {.label = "control"});
    auto offer = peer_->pc.create_offer(now);
    if (!offer) return;
    WhipClientConfig whep;
    whep.url = base + "/whep/cam1";
    whep.request_timeout = seconds(5);
    WhipClient client(whep);
    auto session = client.publish(*offer);
    if (!session) {
      error = session.error().message;
      return;
    }
    if (!peer_->pc.set_remote_description(loop_->now(), session->answer).ok()) {
      error = "answer refused";
      return;
    }
    peer_->drain(loop_->now());
    driver_->wake();
    ok = true;
  }
  ~Viewer() {
    driver_.reset();
    peer_.reset();
  }

  std::vector<media::FrameHeader> frames() const {
    std::vector<media::FrameHeader> out;
    for (const auto& m : peer_->messages) {
      auto it = peer_->open.find(m.id);
      if (it == peer_->open.end() || it->second != "video" || !m.binary) continue;
      auto f = media::parse_frame(m.data);
      EXPECT_TRUE(f.ok());
      if (f) out.push_back(f->header);
    }
    return out;
  }
  bool run_until_frames(size_t count, Duration limit) {
    return loop_->run_until([&] { return frames().size() >= count; }, loop_->now() + limit);
  }

  bool ok = false;
  std::string error;

 private:
  SeededRandom rng_;
  std::unique_ptr<dtls::Certificate> cert_;
  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<testing::PeerEndpoint> peer_;
  std::unique_ptr<runtime::EndpointDriver> driver_;
};

void expect_increasing(const std::vector<media::FrameHeader>& frames) {
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence) << "at " << i;
}

TEST(EndToEnd, DeviceToServerToViewerAndBackAfterAServerRestart) {
  std::string server_bin = cellrtc::test_paths::binary_dir() + "/server/cellrtc-server";
  std::string device_bin = cellrtc::test_paths::binary_dir() + "/device/cellrtc-device";
  ASSERT_TRUE(std::filesystem::exists(server_bin)) << server_bin;
  ASSERT_TRUE(std::filesystem::exists(device_bin)) << device_bin;
  std::string logs =
      std::filesystem::temp_directory_path() / ("cellrtc-e2e-" + std::to_string(::getpid()));
  std::filesystem::create_directories(logs);

  auto server = std::make_unique<Server>(0, 0, logs + "/server1.log");
  ASSERT_TRUE(server->ready) << "see " << logs;
  uint16_t http_port = server->http_port();
  uint16_t udp_port = server->media_port;
  std::string base = server->url;

  // Consent checks every 5 s (not 15 s): the killed server is noticed sooner.
  Child device({device_bin, "--server", base, "--token", kToken, "--source", "testpattern:160x120",
                "--bind", "127.0.0.1", "--keepalive-interval", "5"},
               logs + "/device.log");
  ASSERT_TRUE(device.started());
  auto streaming = [&](Duration limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = device.read_line(milliseconds(200));
      if (line && line->find("state: streaming") != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_TRUE(streaming(seconds(30)));

  std::vector<media::FrameHeader> first;
  {
    Viewer viewer(base);
    ASSERT_TRUE(viewer.ok) << viewer.error;
    ASSERT_TRUE(viewer.run_until_frames(15, seconds(30)));
    first = viewer.frames();
  }
  expect_increasing(first);
  EXPECT_EQ(first.back().width, 160);

  // The server dies without a word and comes back on the same ports.
  server->child.signal(SIGKILL);
  ASSERT_TRUE(server->child.wait(seconds(10)).has_value());
  server.reset();
  auto killed_at = std::chrono::steady_clock::now();
  server = std::make_unique<Server>(http_port, udp_port, logs + "/server2.log");
  ASSERT_TRUE(server->ready) << "see " << logs;
  // The device notices the silence, its ICE restart is refused (unknown session) and it
  // publishes again.
  ASSERT_TRUE(streaming(seconds(60))) << "device did not come back; see " << logs;
  std::printf("[ e2e ] device streaming again %.1f s after the server was killed and restarted\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count());

  std::vector<media::FrameHeader> second;
  {
    Viewer viewer(base);
    ASSERT_TRUE(viewer.ok) << viewer.error;
    ASSERT_TRUE(viewer.run_until_frames(15, seconds(30)));
    second = viewer.frames();
  }
  expect_increasing(second);
  // One stream across the reconnect: the sequence went on.
  EXPECT_GT(second.front().sequence, first.back().sequence);

  device.signal(SIGTERM);
  auto code = device.wait(seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  device.drain();
  bool stopped = false;
  for (const auto& l : device.lines())
    stopped |= l.find("state: stopped") != std::string::npos;
  EXPECT_TRUE(stopped);
  server->child.signal(SIGTERM);
  EXPECT_EQ(server->child.wait(seconds(10)), 0);
  // The device ended its session on the way out.
  std::ifstream log(logs + "/server2.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("method=DELETE path=/whip/"), std::string::npos) << text;
  std::filesystem::remove_all(logs);
}

TEST(EndToEnd, WhipOverHttpsVerifiesTheServerCertificate) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("cellrtc-e2e-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // A CA and a certificate for 127.0.0.1 signed by it.
  std::string cmd =
      "cd " + dir +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
      "-subj /CN=cellrtc-test-ca -keyout ca.key -out ca.pem 2>/dev/null"
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null"
      " && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.ext -out server.pem 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  Server server(0, 0, dir + "/server.log",
                {"--tls-certificate", dir + "/server.pem", "--tls-key", dir + "/server.key"});
  ASSERT_TRUE(server.ready);
  ASSERT_EQ(server.url.rfind("https://", 0), 0u) << server.url;

  SeededRandom rng(3);
  auto cert = dtls::Certificate::generate(rng, "d").value();
  peer::PeerConfig config;
  config.certificate = &cert;
  peer::PeerConnection pc(config, rng);
  (void)pc.add_host_socket(Instant{}, SocketAddress(IpAddress::loopback_v4(), 40100));
  pc.end_of_local_sockets(Instant{});
  (void)pc.create_data_channel(Instant{}, {.label = "video"});
  std::string offer = pc.create_offer(Instant{}).value();

  WhipClientConfig whip;
  whip.url = server.url;
  whip.token = kToken;
  whip.request_timeout = seconds(10);
  {
    // The system's CAs do not know ours: refused, as a TLS failure.
    WhipClient client(whip);
    auto r = client.publish(offer);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, WhipErrorKind::tls) << r.error().message;
    EXPECT_TRUE(r.error().retryable());
  }
  {
    whip.ca_file = dir + "/ca.pem";
    WhipClient client(whip);
    auto r = client.publish(offer);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->resource_url.rfind(server.url + "/whip/", 0), 0u) << r->resource_url;
    auto ended = client.end(*r);
    ASSERT_TRUE(ended.ok()) << ended.error().message;
    EXPECT_TRUE(*ended);
  }
  server.child.signal(SIGTERM);
  EXPECT_EQ(server.child.wait(seconds(10)), 0);
  std::filesystem::remove_all(dir);
}

// The device with --ice-transport-policy relay reaches the server only through coturn, over
// TURN-UDP, TURN-TCP or TURN-TLS, with the time-limited credentials the server put in its WHIP
// answer (the device has no TURN secret), and a viewer receives its frames.
class TurnEndToEnd : public ::testing::TestWithParam<turn::TurnTransport> {};

TEST_P(TurnEndToEnd, RelayOnlyDeviceStreamsThroughCoturn) {
  const turn::TurnTransport transport = GetParam();
  std::string device_bin = cellrtc::test_paths::binary_dir() + "/device/cellrtc-device";
  std::string logs =
      std::filesystem::temp_directory_path() /
      ("cellrtc-e2e-turn-" + std::to_string(::getpid()) + "-" + turn::to_string(transport));
  std::filesystem::create_directories(logs);

  interop::CoturnOptions options;
  options.allow_loopback_peers = true;  // the server's media port is on 127.0.0.1
  auto identity = interop::make_test_tls_identity("turn.cellrtc.test");
  ASSERT_TRUE(identity);
  std::ofstream(logs + "/turn-ca.pem") << identity->cert_pem;
  if (transport == turn::TurnTransport::tls) {
    options.tls_cert_pem = identity->cert_pem;
    options.tls_key_pem = identity->key_pem;
  }
  std::string error;
  auto coturn = interop::CoturnServer::start(options, &error);
  ASSERT_TRUE(coturn) << error;
  std::string url;
  switch (transport) {
    case turn::TurnTransport::udp:
      url = "turn:127.0.0.1:" + std::to_string(coturn->port()) + "?transport=udp";
      break;
    case turn::TurnTransport::tcp:
      url = "turn:127.0.0.1:" + std::to_string(coturn->port()) + "?transport=tcp";
      break;
    case turn::TurnTransport::tls:
      url = "turns:turn.cellrtc.test:" + std::to_string(coturn->tls_address().port()) +
            "?transport=tcp";
      break;
  }
  Server server(0, 0, logs + "/server.log",
                {"--turn-secret", coturn->static_auth_secret(), "--turn-url", url});
  ASSERT_TRUE(server.ready) << "see " << logs;

  Child device({device_bin, "--server", server.url, "--token", kToken, "--source",
                "testpattern:160x120", "--bind", "127.0.0.1", "--ice-transport-policy", "relay",
                "--resolve", "turn.cellrtc.test=127.0.0.1", "--ca-file", logs + "/turn-ca.pem"},
               logs + "/device.log");
  ASSERT_TRUE(device.started());
  bool streaming = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (!streaming && std::chrono::steady_clock::now() < deadline) {
    auto line = device.read_line(milliseconds(200));
    streaming = line && line->find("state: streaming") != std::string::npos;
  }
  std::string output;
  for (const auto& l : device.lines())
    output += l + "\n";
  ASSERT_TRUE(streaming) << output << coturn->log_tail();
  // The relay was allocated on the server's TURN entry and is what carries the stream.
  std::string allocated;
  for (const auto& l : device.lines())
    if (l.find("relay: allocated") != std::string::npos) allocated = l;
  EXPECT_NE(allocated.find(" on " + url + " in "), std::string::npos) << output;
  std::printf("[ e2e ] %s\n", allocated.c_str());

  Viewer viewer(server.url);
  ASSERT_TRUE(viewer.ok) << viewer.error;
  ASSERT_TRUE(viewer.run_until_frames(5, seconds(20))) << output;
  expect_increasing(viewer.frames());
  device.signal(SIGTERM);
  EXPECT_EQ(device.wait(seconds(10)), 0);
  std::filesystem::remove_all(logs);
}

INSTANTIATE_TEST_SUITE_P(Transports, TurnEndToEnd,
                         ::testing::Values(turn::TurnTransport::udp, turn::TurnTransport::tcp,
                                           turn::TurnTransport::tls),
                         [](const auto& p) { return std::string(turn::to_string(p.param)); });

}  // namespace
}  // namespace cellrtc::device
