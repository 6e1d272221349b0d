// The device agent against a WHIP server written here: an HTTP server on loopback whose
// sessions are ICE-lite PeerConnections on their own event loop thread. Frames flow, pings are
// answered, failures back off, 401 stops, a lost session is replaced, stop() DELETEs.
#include "device/agent.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/media/control_message.h"
#include "core/media/frame_header.h"
#include "core/stun/stun_message.h"
#include "device/source_spec.h"
#include "device/stream_source.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "support/fake_http_server.h"
#include "support/peer_endpoint.h"
#include "support/queued_endpoint.h"
#include "test_jpegs.h"
#include "tools/modem-sim/pty.h"
#include "tools/modem-sim/sim_modem.h"

namespace cellrtc::device {
namespace {

using cellrtc::testing::FakeHttpServer;
using cellrtc::testing::HttpRequest;
using cellrtc::testing::HttpResponse;
using cellrtc::testing::PeerEndpoint;

// A WHIP server: sessions are PeerConnections driven on a loop thread of their own (the agent
// blocks its thread while it POSTs, so the answer must be made elsewhere).
class TestWhipServer {
 public:
  TestWhipServer() : rng_(99) {
    cert_ =
        std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng_, "server").value());
    loop_ = std::move(runtime::EventLoop::create().value());
    thread_ = std::thread([this] {
      while (!stopping_.load())
        loop_->run_for(milliseconds(100));
    });
    http_ = std::make_unique<FakeHttpServer>([this](const HttpRequest& r) { return handle(r); });
  }
  ~TestWhipServer() {
    http_.reset();
    on_loop([this] {
      sessions_.clear();
      return 0;
    });
    stopping_.store(true);
    loop_->stop();
    thread_.join();
  }

  std::string url() const { return http_->url(); }
  // Link headers of the next answers (ICE servers, RFC 8840 section 4.4 style).
  void set_links(std::vector<std::string> links) {
    std::lock_guard<std::mutex> lock(mutex_);
    links_ = std::move(links);
  }
  runtime::EventLoop& loop() { return *loop_; }
  const dtls::Certificate& certificate() const { return *cert_; }
  std::vector<HttpRequest> requests() const { return http_->requests(); }

  // Answers the next POSTs with these statuses before answering normally.
  void fail_next(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mutex_);
    scripted_ = std::move(statuses);
  }

  template <class F>
  auto on_loop(F f) -> decltype(f()) {
    std::promise<decltype(f())> done;
    auto result = done.get_future();
    loop_->post([&] { done.set_value(f()); });
    return result.get();
  }

  // Frames the newest session received on `video`, parsed.
  std::vector<media::FrameHeader> frames(int session) {
    return on_loop([&] {
      std::vector<media::FrameHeader> out;
      auto it = sessions_.find(session);
      if (it == sessions_.end()) return out;
      auto& peer = *it->second->peer;
      for (const auto& m : peer.messages) {
        if (peer.open[m.id] != "video") continue;
        if (auto f = media::parse_frame(m.data)) out.push_back(f->header);
      }
      return out;
    });
  }
  std::vector<std::string> control_messages(int session) {
    return on_loop([&] {
      std::vector<std::string> out;
      auto it = sessions_.find(session);
      if (it == sessions_.end()) return out;
      auto& peer = *it->second->peer;
      for (const auto& m : peer.messages)
        if (peer.open[m.id] == "control") out.emplace_back(as_chars(m.data));
      return out;
    });
  }
  bool say(int session, const std::string& text) {
    return on_loop([&] {
      auto it = sessions_.find(session);
      if (it == sessions_.end()) return false;
      auto& peer = *it->second->peer;
      for (const auto& [id, label] : peer.open) {
        if (label != "control") continue;
        bool ok = peer.pc.send(loop_->now(), id, as_bytes(text), false).ok();
        peer.drain(loop_->now());
        it->second->driver->wake();
        return ok;
      }
      return false;
    });
  }
  // A crash: every session disappears without a word; the resources are unknown after it.
  void drop_sessions() {
    on_loop([&] {
      sessions_.clear();
      return 0;
    });
  }
  int newest_session() {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_id_ - 1;
  }

 private:
  struct Session {
    std::unique_ptr<PeerEndpoint> peer;
    std::unique_ptr<runtime::EndpointDriver> driver;
    std::string offer;
  };

  HttpResponse status(int code, const char* reason) {
    HttpResponse r;
    r.status = code;
    r.reason = reason;
    return r;
  }

  HttpResponse handle(const HttpRequest& request) {
    if (request.method == "POST" && request.target == "/whip") {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!scripted_.empty()) {
          int code = scripted_.front();
          scripted_.erase(scripted_.begin());
          return status(code, code == 401 ? "Unauthorized" : "Error");
        }
      }
      if (request.header("Authorization") != "Bearer device-token")
        return status(401, "Unauthorized");
      int id = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        id = next_id_++;
      }
      std::string answer = on_loop([&] {
        auto s = std::make_unique<Session>();
        peer::PeerConfig config;
        config.certificate = cert_.get();
        config.ice.lite = true;
        s->peer = std::make_unique<PeerEndpoint>(config, rng_);
        s->driver = std::make_unique<runtime::EndpointDriver>(*loop_, *s->peer);
        auto bound = s->driver->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
        if (!bound) return std::string();
        Instant now = loop_->now();
        (void)s->peer->pc.add_host_socket(now, *bound);
        s->peer->pc.end_of_local_sockets(now);
        if (!s->peer->pc.set_remote_description(now, request.body).ok()) return std::string();
        auto a = s->peer->pc.create_answer(now);
        if (!a) return std::string();
        s->offer = request.body;
        s->peer->drain(now);
        s->driver->wake();
        sessions_[id] = std::move(s);
        return *a;
      });
      if (answer.empty()) return status(400, "Bad Request");
      HttpResponse r = status(201, "Created");
      r.body = answer;
      r.headers = {{"Content-Type", "application/sdp"},
                   {"Location", "/whip/" + std::to_string(id)},
                   {"ETag", "\"1\""}};
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& link : links_)
          r.headers.emplace_back("Link", link);
      }
      return r;
    }
    int id = request.target.rfind("/whip/", 0) == 0 ? std::atoi(request.target.c_str() + 6) : -1;
    bool known = on_loop([&] { return sessions_.count(id) > 0; });
    if (!known) return status(404, "Not Found");
    if (request.method == "DELETE") {
      on_loop([&] {
        sessions_.erase(id);
        return 0;
      });
      return status(200, "OK");
    }
    if (request.method == "PATCH") {
      auto fragment = parse_ice_fragment(request.body);
      if (!fragment) return status(400, "Bad Request");
      std::string body = on_loop([&] {
        auto& s = *sessions_[id];
        Instant now = loop_->now();
        std::string offer = apply_ice_fragment(s.offer, *fragment);
        if (!s.peer->pc.set_remote_description(now, offer).ok()) return std::string();
        auto a = s.peer->pc.create_answer(now);
        s.peer->drain(now);
        s.driver->wake();
        if (!a) return std::string();
        auto ours = parse_ice_fragment(*a);
        std::string out = "a=ice-ufrag:" + ours->ufrag + "\r\na=ice-pwd:" + ours->pwd + "\r\n";
        for (const auto& c : ours->candidates)
          out += "a=" + c + "\r\n";
        return out;
      });
      if (body.empty()) return status(400, "Bad Request");
      HttpResponse r = status(200, "OK");
      r.body = body;
      r.headers = {{"Content-Type", "application/trickle-ice-sdpfrag"}, {"ETag", "\"2\""}};
      return r;
    }
    return status(405, "Method Not Allowed");
  }

  SeededRandom rng_;
  std::unique_ptr<dtls::Certificate> cert_;
  std::unique_ptr<runtime::EventLoop> loop_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::map<int, std::unique_ptr<Session>> sessions_;  // on the loop thread only
  std::mutex mutex_;
  std::vector<int> scripted_;       // guarded by mutex_
  std::vector<std::string> links_;  // guarded by mutex_
  int next_id_ = 1;                 // guarded by mutex_
  std::unique_ptr<FakeHttpServer> http_;
};

struct AgentUnderTest {
  explicit AgentUnderTest(const std::string& url, std::string token = "device-token",
                          std::unique_ptr<FrameSource> camera = nullptr,
                          std::string modem_port = {},
                          const std::function<void(AgentConfig&)>& adjust = {}) {
    AgentConfig config;
    config.whip.url = url;
    config.whip.token = std::move(token);
    config.whip.request_timeout = seconds(5);
    config.bind = {IpAddress::loopback_v4()};
    config.backoff = {milliseconds(50), milliseconds(400), 0.2};
    config.stats_interval = seconds(1);
    // RFC 7675's 5 s rather than the device's 15 s: a lost server is noticed sooner.
    config.keepalive_interval = seconds(5);
    config.modem.port = std::move(modem_port);
    config.modem.timeout = seconds(5);
    if (!camera) {
      auto source = open_source("testpattern:160x120");
      EXPECT_TRUE(source.ok());
      camera = std::move(*source);
    }
    if (adjust) adjust(config);
    auto made = Agent::create(std::move(config), std::move(camera),
                              [this](const std::string& l) { lines.push_back(l); });
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error());
    agent = std::move(*made);
  }
  // Runs until `done` or 30 s (generous: the machine is shared).
  bool run_until(const std::function<bool()>& done, Duration limit = seconds(30)) {
    agent->run(agent->now() + limit, done);
    return done();
  }
  std::vector<std::string> lines;
  std::unique_ptr<Agent> agent;
};

TEST(Agent, StreamsAnswersPingsAndDeletesOnStop) {
  TestWhipServer server;
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 20; }))
      << device.agent->last_error();
  EXPECT_EQ(device.agent->state(), AgentState::streaming);
  auto frames = server.frames(1);
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence);
  EXPECT_EQ(frames.back().width, 160);
  EXPECT_EQ(frames.back().flags & media::frame_flags::kTestPattern,
            media::frame_flags::kTestPattern);

  ASSERT_TRUE(server.say(1, R"({"type":"ping","t":4242})"));
  ASSERT_TRUE(device.run_until([&] {
    for (const auto& m : server.control_messages(1))
      if (m.find("\"pong\"") != std::string::npos && m.find("4242") != std::string::npos)
        return true;
    return false;
  }));
  // A viewer's size limit reaches the camera: the test pattern makes smaller frames.
  ASSERT_TRUE(server.say(1, media::encode_set({0, 0, 80, 0})));
  ASSERT_TRUE(device.run_until([&] {
    auto f = server.frames(1);
    return !f.empty() && f.back().width == 80 && f.back().height == 60;
  }));
  ASSERT_TRUE(device.run_until([&] {
    for (const auto& m : server.control_messages(1))
      if (m.find("\"telemetry\"") != std::string::npos) return true;
    return false;
  }));

  device.agent->stop();
  EXPECT_EQ(device.agent->run(device.agent->now() + seconds(10)), 0);
  EXPECT_EQ(device.agent->state(), AgentState::stopped);
  auto requests = server.requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests.back().method, "DELETE");
  EXPECT_EQ(requests.back().target, "/whip/1");
  bool saw_streaming = false, saw_stats = false;
  for (const auto& l : device.lines) {
    saw_streaming |= l.find("state: streaming") != std::string::npos;
    saw_stats |= l.find("stats: ") != std::string::npos && l.find(" fps, ") != std::string::npos;
  }
  EXPECT_TRUE(saw_streaming);
  EXPECT_TRUE(saw_stats);
}

TEST(Agent, RetriesServerErrorsWithGrowingBackoff) {
  TestWhipServer server;
  server.fail_next({500, 503, 500});
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 5; }))
      << device.agent->last_error();
  const auto& stats = device.agent->stats();
  EXPECT_EQ(stats.publishes, 4u);
  EXPECT_EQ(stats.sessions, 1u);
  ASSERT_EQ(stats.backoffs.size(), 3u);
  // 50, 100, 200 ms nominal, each within +-20 %.
  EXPECT_GE(stats.backoffs[0], milliseconds(40));
  EXPECT_LE(stats.backoffs[0], milliseconds(60));
  EXPECT_GE(stats.backoffs[2], milliseconds(160));
  EXPECT_LE(stats.backoffs[2], milliseconds(240));
  EXPECT_GT(stats.backoffs[2], stats.backoffs[0]);
  bool logged = false;
  for (const auto& l : device.lines)
    logged |= l.find("state: backoff (POST " + server.url() + "/whip" + ": HTTP 503") !=
              std::string::npos;
  EXPECT_TRUE(logged);
}

TEST(Agent, StopsOnAWrongToken) {
  TestWhipServer server;
  AgentUnderTest device(server.url(), "wrong-token");
  EXPECT_EQ(device.agent->run(device.agent->now() + seconds(20)), 2);
  EXPECT_EQ(device.agent->state(), AgentState::stopped);
  EXPECT_EQ(device.agent->stats().publishes, 1u);
  EXPECT_NE(device.agent->last_error().find("HTTP 401 Unauthorized (check the device token)"),
            std::string::npos)
      << device.agent->last_error();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(Agent, ReplacesASessionTheServerLost) {
  TestWhipServer server;
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 5; }));
  // The server forgets everything; the device notices the silence (ICE consent, RFC 7675),
  // tries an ICE restart, hears 404 and publishes anew.
  auto server_frames_before = server.frames(1);
  server.drop_sessions();
  ASSERT_TRUE(device.run_until(
      [&] { return server.newest_session() == 2 && server.frames(2).size() >= 5; }, seconds(60)))
      << device.agent->last_error();
  bool patched = false;
  for (const auto& r : server.requests())
    patched |= r.method == "PATCH" && r.target == "/whip/1";
  EXPECT_TRUE(patched);
  EXPECT_EQ(device.agent->stats().sessions, 2u);
  EXPECT_EQ(device.agent->stats().failures, 1u);
  auto frames = server.frames(2);
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence);
  // The new session goes on with the sequence where the old one stopped.
  auto before = server_frames_before;
  ASSERT_FALSE(before.empty());
  EXPECT_GT(frames.front().sequence, before.back().sequence);
}

TEST(Agent, StreamsACameraThatHasItsOwnRate) {
  // A source with a descriptor (as V4L2 and stdin are): an MJPEG stream on a pipe at about
  // 30 fps, faster than the session's 10; the agent reads every frame and sends the ones due.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto jpegs = device::testing::small_jpegs(10);
  std::atomic<bool> stop{false};
  std::thread camera([&] {
    for (int i = 0; i < 3000 && !stop.load(); ++i) {
      const Bytes& j = jpegs[static_cast<size_t>(i) % jpegs.size()];
      if (::write(fds[1], j.data(), j.size()) != static_cast<ssize_t>(j.size())) break;
      std::this_thread::sleep_for(milliseconds(33));
    }
    ::close(fds[1]);
  });
  auto source = StreamSource::open(fds[0], "pipe", true);
  ASSERT_TRUE(source.ok());
  TestWhipServer server;
  AgentUnderTest device(server.url(), "device-token", std::move(*source));
  bool streamed = device.run_until([&] { return server.frames(1).size() >= 15; });
  stop.store(true);
  camera.join();
  ASSERT_TRUE(streamed) << device.agent->last_error();
  auto frames = server.frames(1);
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence);
  EXPECT_EQ(frames.back().width, 160);
  EXPECT_EQ(frames.back().quality, 0);  // a camera's own JPEG: quality unknown
  EXPECT_GT(device.agent->stats().camera_frames, device.agent->stats().camera_skipped);
}

// The simulated A7670E on a pseudo-terminal, run on a thread in real time.
class ModemOnPty {
 public:
  explicit ModemOnPty(modemsim::Scenario scenario) : sim_(std::move(scenario)) {
    std::string error;
    pty_ = modemsim::Pty::open(false, &error);
    if (!pty_) return;
    sim_.start(now());
    thread_ = std::thread([this] {
      uint8_t buf[1024];
      while (!stop_.load()) {
        sim_.handle_timeout(now());
        while (auto out = sim_.poll_transmit())
          (void)!::write(pty_->master(), out->data(), out->size());
        pollfd p{pty_->master(), POLLIN, 0};
        if (::poll(&p, 1, 5) > 0 && (p.revents & POLLIN)) {
          ssize_t n = ::read(pty_->master(), buf, sizeof buf);
          if (n > 0) sim_.handle_bytes(now(), ByteView(buf, static_cast<size_t>(n)));
        }
      }
    });
  }
  ~ModemOnPty() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::string path() const { return pty_ ? pty_->slave_path() : ""; }

 private:
  static Instant now() {
    auto t = std::chrono::steady_clock::now().time_since_epoch();
    return Instant::from_us(std::chrono::duration_cast<std::chrono::microseconds>(t).count());
  }
  modemsim::SimModem sim_;
  std::optional<modemsim::Pty> pty_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(Agent, SendsModemTelemetry) {
  auto scenario = *modemsim::scenario_by_name("lte_fallback");
  scenario.registration_delay = Duration{0};
  ModemOnPty modem(scenario);
  ASSERT_FALSE(modem.path().empty());
  TestWhipServer server;
  AgentUnderTest device(server.url(), "device-token", nullptr, modem.path());
  std::optional<media::TelemetryMessage> seen;
  ASSERT_TRUE(device.run_until([&] {
    for (const auto& m : server.control_messages(1)) {
      auto o = media::parse_control_object(m);
      if (!o) continue;
      auto t = media::decode_telemetry(*o);
      if (t && t->modem) seen = *t;
    }
    return seen.has_value();
  }));
  EXPECT_EQ(seen->modem->rssi_dbm, -73);
  EXPECT_EQ(seen->modem->bars, 4);
  EXPECT_EQ(seen->modem->operator_name, "20205");
  EXPECT_EQ(seen->modem->tech, "EDGE");
}

TEST(Agent, StopDuringABlockedPostReturnsPromptly) {
  HttpResponse silent;
  silent.silent = true;
  FakeHttpServer hanging([&](const HttpRequest&) { return silent; });
  AgentUnderTest device(hanging.url());
  std::thread stopper([&] {
    while (hanging.request_count() == 0)
      std::this_thread::sleep_for(milliseconds(10));
    device.agent->stop();
  });
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(device.agent->run(device.agent->now() + seconds(20)), 0);
  stopper.join();
  EXPECT_EQ(device.agent->state(), AgentState::stopped);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
}

// The WHIP requests run off the loop: while the server holds a POST unanswered (well inside
// its 20 s timeout), the loop's timers keep running.
TEST(Agent, TheLoopKeepsServingWhileAPostHangs) {
  HttpResponse silent;
  silent.silent = true;
  FakeHttpServer hanging([&](const HttpRequest&) { return silent; });
  AgentUnderTest device(hanging.url(), "device-token", nullptr, {},
                        [](AgentConfig& c) { c.whip.request_timeout = seconds(20); });
  runtime::EventLoop& loop = device.agent->loop();
  int ticks_while_held = 0;
  std::function<void()> tick = [&] {
    if (hanging.request_count() > 0) ++ticks_while_held;
    loop.add_timer(loop.now() + milliseconds(50), tick);
  };
  loop.add_timer(loop.now(), tick);
  EXPECT_TRUE(device.run_until([&] { return ticks_while_held >= 5; }, seconds(10)));
  EXPECT_EQ(hanging.request_count(), 1u);
  EXPECT_EQ(device.agent->stats().publishes, 1u);
}

// A direct-mode viewer as the viewer page would be: a core PeerConnection on the test server's
// loop, offering `video` and `control`, its offer sent over the session's control channel in
// parts, the device's answer collected from the control messages the server received.
struct DirectViewerPeer {
  DirectViewerPeer(TestWhipServer& s, AgentUnderTest& d) : server(s), device(d) {}
  ~DirectViewerPeer() {
    server.on_loop([&] {
      driver.reset();
      peer.reset();
      return 0;
    });
  }

  std::vector<nlohmann::json> control_of(const std::string& type) {
    std::vector<nlohmann::json> out;
    for (const auto& m : server.control_messages(1)) {
      auto j = nlohmann::json::parse(m, nullptr, false);
      if (!j.is_discarded() && j.value("type", "") == type) out.push_back(j);
    }
    return out;
  }

  // Offers, waits for the device's answer and applies it; false on failure. `first_part` adds
  // fields to the offer's first part (the server's fresh TURN credentials).
  bool connect(const nlohmann::json& first_part = nlohmann::json::object()) {
    std::string offer = server.on_loop([&] {
      peer::PeerConfig config;
      config.certificate = &server.certificate();
      peer = std::make_unique<PeerEndpoint>(config, rng);
      driver = std::make_unique<runtime::EndpointDriver>(server.loop(), *peer);
      Instant now = server.loop().now();
      auto bound = driver->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
      if (!bound) return std::string();
      (void)peer->pc.add_host_socket(now, *bound);
      peer->pc.end_of_local_sockets(now);
      video =
          peer->pc
              .create_data_channel(now, {.label = "video", .ordered = false, .max_retransmits = 0})
              .value();
      control = peer->pc.create_data_channel(now, {.label = "control"}).value();
      auto made = peer->pc.create_offer(now);
      return made ? *made : std::string();
    });
    if (offer.empty()) return false;
    // In parts of at most 500 bytes, as the server cuts larger ones.
    size_t parts = (offer.size() + 499) / 500;
    for (size_t i = 0; i < parts; ++i) {
      nlohmann::json part{{"type", "direct-offer"},
                          {"id", id},
                          {"part", i},
                          {"parts", parts},
                          {"sdp", offer.substr(i * 500, 500)}};
      if (i == 0) part.update(first_part);
      if (!server.say(1, part.dump())) return false;
    }
    std::string answer;
    if (!device.run_until([&] {
          std::vector<nlohmann::json> answers;
          for (auto& a : control_of("direct-answer"))
            if (a["id"] == id) answers.push_back(std::move(a));
          if (answers.empty() || answers.size() < answers.front()["parts"].get<size_t>())
            return false;
          answer.clear();
          for (const auto& a : answers)
            answer += a["sdp"].get<std::string>();
          return true;
        }))
      return false;
    return server.on_loop([&] {
      bool ok = peer->pc.set_remote_description(server.loop().now(), answer).ok();
      peer->drain(server.loop().now());
      driver->wake();
      return ok;
    });
  }

  std::vector<media::FrameHeader> frames() {
    return server.on_loop([&] {
      std::vector<media::FrameHeader> out;
      for (const auto& m : peer->messages)
        if (m.id == video)
          if (auto f = media::parse_frame(m.data)) out.push_back(f->header);
      return out;
    });
  }

  bool send_control(const std::string& text) {
    return server.on_loop([&] {
      bool ok = peer->pc.send(server.loop().now(), control, as_bytes(text), false).ok();
      peer->drain(server.loop().now());
      driver->wake();
      return ok;
    });
  }

  TestWhipServer& server;
  AgentUnderTest& device;
  std::string id = "viewer1";
  SeededRandom rng{7};
  std::unique_ptr<PeerEndpoint> peer;
  std::unique_ptr<runtime::EndpointDriver> driver;
  uint16_t video = 0;
  uint16_t control = 0;
};

// Direct mode (docs/protocol.md): the server forwards a viewer's offer over the session's
// control channel; the agent's direct viewer answers, connects to the viewer itself, and the
// viewer gets frames in order while the session to the server keeps getting them too.
TEST(Agent, DirectViewerGetsFramesInOrderWhileTheRelayDoes) {
  TestWhipServer server;
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 3; }))
      << device.agent->last_error();

  DirectViewerPeer viewer(server, device);
  ASSERT_TRUE(viewer.connect());
  size_t relay_before = server.frames(1).size();
  ASSERT_TRUE(device.run_until([&] {
    return viewer.frames().size() >= 10 && server.frames(1).size() >= relay_before + 10;
  })) << viewer.frames().size()
      << " direct frames";
  auto frames = viewer.frames();
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence);
  auto relayed = server.frames(1);
  for (size_t i = 1; i < relayed.size(); ++i)
    EXPECT_GT(relayed[i].sequence, relayed[i - 1].sequence);
  auto states = viewer.control_of("direct-state");
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front()["id"], "viewer1");
  EXPECT_EQ(states.front()["state"], "connected");

  // The server says the viewer left: its connection goes.
  ASSERT_TRUE(server.say(1, R"({"type":"direct-close","id":"viewer1"})"));
  ASSERT_TRUE(device.run_until([&] { return device.agent->direct_viewers()->size() == 0; }));
}

// A TURN server that notes who allocates (RFC 8656 section 7.2): the first Allocate is
// challenged (401 with REALM and NONCE); an authenticated one is recorded by its USERNAME and
// refused with 403 (the gatherer gives the server up at once and the answer does not wait),
// or granted when `password` is set (a relayed address that relays nothing). Deallocations
// (Refresh with LIFETIME 0) are recorded by transaction id; the first `lose_deallocations`
// get no answer.
class ScriptedTurn final : public cellrtc::testing::QueuedEndpoint {
 public:
  void handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (silent) return;
    auto m = stun::Message::parse(data);
    if (!m || m->cls() != stun::Class::request) return;
    auto reply = stun::MessageBuilder::response_to(*m, stun::Class::error_response);
    if (!m->has_message_integrity()) {
      reply.add_error_code(401, "Unauthorized").add_realm(kRealm).add_nonce("n");
      out.push_back(Transmit{local, from, std::move(reply).finish(true)});
      return;
    }
    const std::string username(m->username().value_or(""));
    if (m->method() == stun::Method::allocate) usernames.push_back(username);
    if (password.empty()) {
      reply.add_error_code(403, "Forbidden");
      out.push_back(Transmit{local, from, std::move(reply).finish(true)});
      return;
    }
    auto ok = stun::MessageBuilder::response_to(*m, stun::Class::success_response);
    if (m->method() == stun::Method::allocate) {
      ok.add_xor_relayed_address(SocketAddress(IpAddress::loopback_v4(), 9))
          .add_xor_mapped_address(from)
          .add_lifetime(600);
    } else if (m->method() == stun::Method::refresh) {
      const uint32_t lifetime = m->lifetime().value_or(600);
      if (lifetime == 0) {
        deallocations.push_back(m->transaction_id());
        if (lose_deallocations > 0) {
          --lose_deallocations;
          return;
        }
      }
      ok.add_lifetime(lifetime);
    }
    out.push_back(Transmit{
        local, from,
        std::move(ok).finish_with_integrity(stun::long_term_key(username, kRealm, password))});
  }

  static constexpr const char* kRealm = "cellrtc.test";
  std::string password;  // empty: Allocates refused
  bool silent = false;   // answers nothing
  int lose_deallocations = 0;
  std::vector<std::string> usernames;              // of every authenticated Allocate, in order
  std::vector<stun::TransactionId> deallocations;  // every Refresh with LIFETIME 0 received
};

// Serves `turn` on a loopback socket of the test server's loop; the server names it in the WHIP
// answer's Link header with the credentials 1800000000:demo / whip-secret. Set `turn`'s options
// before; its driver leaves, on the loop's thread, when this goes.
class ScriptedTurnOnServerLoop {
 public:
  ScriptedTurnOnServerLoop(TestWhipServer& server, ScriptedTurn& turn) : server_(server) {
    auto address = server_.on_loop([&] {
      driver_ = std::make_unique<runtime::EndpointDriver>(server_.loop(), turn);
      return driver_->add_socket(SocketAddress(IpAddress::loopback_v4(), 0)).value();
    });
    server_.set_links({"<turn:127.0.0.1:" + std::to_string(address.port()) +
                       "?transport=udp>; rel=\"ice-server\"; username=\"1800000000:demo\"; "
                       "credential=\"whip-secret\""});
  }
  ~ScriptedTurnOnServerLoop() {
    server_.on_loop([&] {
      driver_.reset();
      return 0;
    });
  }
  ScriptedTurnOnServerLoop(const ScriptedTurnOnServerLoop&) = delete;
  ScriptedTurnOnServerLoop& operator=(const ScriptedTurnOnServerLoop&) = delete;

 private:
  TestWhipServer& server_;
  std::unique_ptr<runtime::EndpointDriver> driver_;
};

// Credentials reach the device two ways (docs/protocol.md): the turn-credentials push and the
// direct-offer's fields. A direct viewer's relays use the freshest the device holds: pushed
// ones serve the next viewer's allocation, offer fields that expire earlier do not replace
// them, and offer fields that expire later do.
TEST(Agent, DirectViewersAllocateWithTheFreshestTurnCredentials) {
  TestWhipServer server;
  ScriptedTurn turn;
  // The WHIP answer's credentials, the oldest of all.
  ScriptedTurnOnServerLoop served(server, turn);
  auto recorded = [&] { return server.on_loop([&] { return turn.usernames; }); };
  auto recorded_count = [&](const std::string& username) {
    auto all = recorded();
    return std::count(all.begin(), all.end(), username);
  };
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 3; }))
      << device.agent->last_error();

  ASSERT_TRUE(server.say(
      1, media::encode_turn_credentials({"1900000000:demo", "pushed-secret", 1900000000})));
  ASSERT_TRUE(device.run_until(
      [&] { return device.agent->session()->stats().turn_credentials_received == 1; }));
  // The session's own relay allocated with the WHIP answer's.
  ASSERT_TRUE(device.run_until([&] { return !recorded().empty(); }));
  EXPECT_EQ(recorded(), std::vector<std::string>{"1800000000:demo"});
  DirectViewerPeer first(server, device);
  ASSERT_TRUE(first.connect());
  EXPECT_EQ(recorded_count("1900000000:demo"), 1);
  EXPECT_EQ(recorded_count("1800000000:demo"), 1);

  DirectViewerPeer second(server, device);
  second.id = "viewer2";
  ASSERT_TRUE(
      second.connect({{"turn_username", "1899999000:demo"}, {"turn_credential", "older-secret"}}));
  EXPECT_EQ(recorded_count("1900000000:demo"), 2);
  EXPECT_EQ(recorded_count("1899999000:demo"), 0);

  DirectViewerPeer third(server, device);
  third.id = "viewer3";
  ASSERT_TRUE(
      third.connect({{"turn_username", "1900000500:demo"}, {"turn_credential", "newer-secret"}}));
  EXPECT_EQ(recorded_count("1900000500:demo"), 1);
  EXPECT_EQ(recorded_count("1900000000:demo"), 2);
}

// A direct viewer that leaves releases its allocation (RFC 8656 section 7.2) after its
// connection is gone: a lost deallocation is sent again (RFC 8489 section 6.2.1), and one the
// TURN server never answers is given up after the relays' close_timeout (2 s).
TEST(Agent, AGoneDirectViewersDeallocationIsRetransmittedAndThenGivenUp) {
  TestWhipServer server;
  ScriptedTurn turn;
  turn.password = "whip-secret";
  ScriptedTurnOnServerLoop served(server, turn);
  auto deallocations = [&] { return server.on_loop([&] { return turn.deallocations; }); };
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 3; }))
      << device.agent->last_error();
  const DirectViewers& direct = *device.agent->direct_viewers();

  // The first deallocation is lost, its retransmission answered.
  server.on_loop([&] { return turn.lose_deallocations = 1; });
  DirectViewerPeer first(server, device);
  ASSERT_TRUE(first.connect());
  ASSERT_TRUE(server.say(1, R"({"type":"direct-close","id":"viewer1"})"));
  ASSERT_TRUE(device.run_until([&] { return direct.size() == 0 && direct.closing() == 1; }));
  ASSERT_TRUE(device.run_until([&] { return direct.closing() == 0; }));
  auto sent = deallocations();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], sent[1]);  // the same request again

  // Never answered: three transmissions (0, 0.5, 1.5 s), then given up at 2 s.
  server.on_loop([&] { return turn.lose_deallocations = 100; });
  DirectViewerPeer second(server, device);
  second.id = "viewer2";
  ASSERT_TRUE(second.connect());
  ASSERT_TRUE(server.say(1, R"({"type":"direct-close","id":"viewer2"})"));
  ASSERT_TRUE(device.run_until([&] { return direct.size() == 0 && direct.closing() == 1; }));
  ASSERT_TRUE(device.run_until([&] { return direct.closing() == 0; }, seconds(10)));
  sent = deallocations();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[2], sent[3]);
  EXPECT_EQ(sent[3], sent[4]);
  EXPECT_NE(sent[1], sent[2]);
  // The session's own allocation was never released meanwhile.
  EXPECT_EQ(device.agent->closing_sessions(), 0u);
}

// A TURN server that never answers does not hold a direct answer past the device's gather
// limit (media::kDirectGatherLimit), which leaves the rest of the server's kDirectAnswerWait
// for the way to the server.
TEST(Agent, ADirectAnswerWaitsForASilentTurnServerOnlyUntilTheGatherLimit) {
  TestWhipServer server;
  ScriptedTurn turn;
  turn.silent = true;
  ScriptedTurnOnServerLoop served(server, turn);
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 3; }))
      << device.agent->last_error();
  DirectViewerPeer viewer(server, device);
  const Instant offered = device.agent->now();
  ASSERT_TRUE(viewer.connect());
  const Duration took = device.agent->now() - offered;
  const DirectViewerStats& stats = device.agent->direct_viewers()->stats();
  EXPECT_EQ(stats.answered, 1u);
  EXPECT_EQ(stats.gather_timeouts, 1u);
  EXPECT_GE(took, media::kDirectGatherLimit);
  // Loopback: the answer is at the server with most of the margin left (generous bound).
  EXPECT_LT(took, media::kDirectAnswerWait);
}

// Stopping releases the session's TURN allocation (RFC 8656 section 7.2) before the agent
// exits: a lost deallocation is sent again (RFC 8489 section 6.2.1) after the DELETE.
TEST(Agent, OnStopALostDeallocationOfTheSessionIsSentAgainBeforeExit) {
  TestWhipServer server;
  ScriptedTurn turn;
  turn.password = "whip-secret";
  turn.lose_deallocations = 1;
  ScriptedTurnOnServerLoop served(server, turn);
  AgentUnderTest device(server.url());
  ASSERT_TRUE(device.run_until([&] {
    if (server.frames(1).size() < 3) return false;
    for (const auto& l : device.lines)
      if (l.find("allocated 127.0.0.1:9 ") != std::string::npos) return true;
    return false;
  })) << device.agent->last_error();

  device.agent->stop();
  EXPECT_EQ(device.agent->run(device.agent->now() + seconds(10)), 0);
  EXPECT_EQ(server.requests().back().method, "DELETE");
  EXPECT_EQ(device.agent->closing_sessions(), 0u);
  auto sent = server.on_loop([&] { return turn.deallocations; });
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], sent[1]);
}

// The stats line (--json-log) carries the SCTP associations' recovery counters: the relay
// session's, and once a direct viewer is connected, the direct viewers' summed.
TEST(Agent, JsonStatsCarryTheSctpRecoveryCountersOfTheSessionAndTheDirectViewers) {
  TestWhipServer server;
  AgentUnderTest device(server.url(), "device-token", nullptr, {}, [](AgentConfig& c) {
    c.log_format = LogFormat::json;
    c.stats_interval = milliseconds(200);
  });
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 3; }))
      << device.agent->last_error();
  DirectViewerPeer viewer(server, device);
  ASSERT_TRUE(viewer.connect());
  auto stats_with_viewer = [&]() -> std::optional<nlohmann::json> {
    for (const auto& l : device.lines) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("event", "") == "stats" && j.value("direct_viewers", 0) == 1)
        return j;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(device.run_until([&] { return stats_with_viewer().has_value(); }));
  const nlohmann::json j = *stats_with_viewer();
  for (const char* key :
       {"sctp_fast_retransmits", "sctp_retransmitted_chunks", "sctp_t3_timeouts",
        "sctp_backoff_probes", "direct_sctp_fast_retransmits", "direct_sctp_retransmitted_chunks",
        "direct_sctp_t3_timeouts", "direct_sctp_backoff_probes"})
    EXPECT_TRUE(j.contains(key) && j[key].is_number_unsigned()) << key << ": " << j.dump();
  const std::string message = j.value("message", "");
  EXPECT_NE(message.find(", sctp fast rtx "), std::string::npos) << message;
  EXPECT_NE(message.find(", direct sctp fast rtx "), std::string::npos) << message;
  EXPECT_NE(message.find(", T3 "), std::string::npos) << message;
  EXPECT_NE(message.find(", probes "), std::string::npos) << message;
}

// One camera serves the relay session and the direct viewers at the rate the fastest wants,
// each taking frames at its own rate: with the relay session held to 2 fps, a direct viewer
// still gets its own faster rate, and its snapshot request reaches the camera (a frame at the
// snapshot quality with the snapshot flag, above the relay session's quality cap of 40).
TEST(Agent, TheCameraFollowsADirectViewerAsWellAsTheRelaySession) {
  TestWhipServer server;
  AgentUnderTest device(server.url(), "device-token", nullptr, {}, [](AgentConfig& c) {
    c.session.max_fps = 2;
    c.session.max_quality = 40;
    c.session.rate.max_fps = 2;
    c.session.rate.preferred_fps = std::min(c.session.rate.preferred_fps, 2.0);
    c.session.rate.min_fps = std::min(c.session.rate.min_fps, 2.0);
  });
  ASSERT_TRUE(device.run_until([&] { return server.frames(1).size() >= 1; }))
      << device.agent->last_error();
  DirectViewerPeer viewer(server, device);
  ASSERT_TRUE(viewer.connect());
  ASSERT_TRUE(device.run_until([&] { return viewer.frames().size() >= 2; }));

  const size_t direct_from = viewer.frames().size();
  const size_t relay_from = server.frames(1).size();
  ASSERT_TRUE(device.run_until([&] { return viewer.frames().size() >= direct_from + 12; }));
  const size_t direct_got = viewer.frames().size() - direct_from;
  const size_t relay_got = server.frames(1).size() - relay_from;
  // Captured for the relay alone, the viewer could not get more frames than the relay session.
  EXPECT_GE(direct_got, relay_got + 5) << direct_got << " direct, " << relay_got << " relay";

  ASSERT_TRUE(viewer.send_control(R"({"type":"snapshot"})"));
  ASSERT_TRUE(device.run_until([&] {
    for (const auto& f : viewer.frames())
      if (f.flags & media::frame_flags::kSnapshot) return true;
    return false;
  }));
  for (const auto& f : viewer.frames())
    if (f.flags & media::frame_flags::kSnapshot) {
      EXPECT_EQ(f.quality, 92);
    }
}

}  // namespace
}  // namespace cellrtc::device
