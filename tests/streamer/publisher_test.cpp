// streamer::Publisher alone, in virtual time and without any socket: its PeerConnection talks
// to cellrtc-server's relay through the simulated network, and its WHIP requests reach the
// relay's handle_http after a simulated round trip, or get scripted answers (errors, garbage,
// silence) in their place.
#include "core/streamer/publisher.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/media/frame_header.h"
#include "support/relay_scenario.h"

namespace cellrtc::streamer {
namespace {

using testing::RelayScenario;
using whip::HttpResponse;
using whip::WhipErrorKind;
using whip::WhipRequest;
using whip::WhipRequestKind;
using whip::WhipResult;

// A scripted answer to one request; nullopt: forward it to the relay.
using Script = std::function<std::optional<std::optional<WhipResult<HttpResponse>>>(
    const WhipRequest& request)>;

// These tests publish with no viewer and count the frames the device sends: a relay that told
// the device nobody watches (docs/protocol.md, "demand") would leave it one frame in 5 s.
server::ServerConfig full_rate_relay() {
  server::ServerConfig config = testing::relay_test_config();
  config.relay.demand = false;
  return config;
}

// The device: a host on the simulated internet whose sockets and HTTP the test provides.
class SimDevice : public PublisherHost, public DatagramEndpoint {
 public:
  SimDevice(RelayScenario& scenario, PublisherConfig config)
      : s_(scenario), rng_(77), cert_(dtls::Certificate::generate(rng_, "device").value()) {
    host_ = s_.net
                .add_host("device", testing::ip("203.0.113.7"), s_.net.internet(),
                          testing::fixed_link(milliseconds(30)))
                .value();
    config.endpoint = "http://198.51.100.1:8080/whip";
    publisher =
        std::make_unique<Publisher>(std::move(config), rng_, cert_, *this, CameraMode::pull);
  }

  // --- PublisherHost
  std::optional<std::string> open_session(Instant now, peer::PeerConnection& pc) override {
    if (refuse_sockets) return std::string("no local address to send from");
    auto bound = s_.net.bind(host_, 0, *this);
    if (!bound) return std::string("cannot bind");
    local_ = *bound;
    (void)pc.add_host_socket(now, *bound);
    return std::nullopt;
  }
  void close_session(Instant, peer::PeerConnection&) override {
    if (!local_) return;
    s_.net.wake(*this);  // the close's last datagrams
    (void)s_.net.unbind(host_, local_->port());
    local_.reset();
    ++sessions_closed;
  }
  std::optional<media::EncodedFrame> capture(Instant now,
                                             const media::CaptureRequest& request) override {
    media::EncodedFrame f;
    f.message.assign(media::kFrameHeaderSize, 0);
    Bytes jpeg(1500, 0x55);
    jpeg[0] = 0xFF;
    jpeg[1] = 0xD8;
    jpeg[jpeg.size() - 2] = 0xFF;
    jpeg[jpeg.size() - 1] = 0xD9;
    f.message.insert(f.message.end(), jpeg.begin(), jpeg.end());
    f.width = 320;
    f.height = 240;
    f.quality = static_cast<uint8_t>(request.quality);
    f.capture_time = now;
    return f;
  }

  // --- DatagramEndpoint: the session's socket
  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (cut) return;
    if (auto* pc = publisher->peer()) pc->handle_datagram(now, local, from, data);
    publisher->handle_peer_activity(now);
    pump();
  }
  void handle_timeout(Instant now) override {
    publisher->handle_peer_timeout(now);
    pump();
  }
  std::optional<Transmit> poll_transmit() override {
    auto* pc = publisher->peer();
    while (pc) {
      auto t = pc->poll_transmit();
      if (!t || !cut) return t;  // cut: the link drops everything
    }
    return std::nullopt;
  }
  std::optional<Instant> next_timeout() const override { return publisher->peer_timeout(); }

  // Drains the publisher: events recorded, requests answered after a round trip, its timer.
  void pump() {
    while (auto e = publisher->poll_event()) {
      if (auto* st = std::get_if<event::StateChanged>(&*e)) states.push_back(st->state);
      if (auto* l = std::get_if<event::Log>(&*e)) logs.push_back(l->kind + ": " + l->text);
      if (auto* f = std::get_if<event::Fatal>(&*e)) fatal = f->reason;
    }
    while (auto r = publisher->poll_request()) {
      requests.push_back(r->request);
      std::optional<std::optional<WhipResult<HttpResponse>>> scripted;
      if (script) scripted = script(r->request);
      if (scripted && !*scripted) continue;  // never answered
      s_.net.at(s_.net.now() + milliseconds(60),
                [this, id = r->id, request = r->request, scripted] {
                  WhipResult<HttpResponse> response =
                      scripted ? **scripted : WhipResult<HttpResponse>(forward(request));
                  if (response) statuses.push_back(response->status);
                  publisher->handle_response(s_.net.now(), id, response);
                  pump();
                });
    }
    arm();
    if (local_) s_.net.wake(*this);
  }

  // The publisher's own timer, re-armed when its deadline moves.
  void arm() {
    auto next = publisher->next_timeout();
    if (next == armed_at_) return;
    armed_at_ = next;
    uint64_t token = ++arm_token_;
    if (!next) return;
    s_.net.at(std::max(*next, s_.net.now()), [this, token] {
      if (token != arm_token_) return;
      armed_at_.reset();
      publisher->handle_timeout(s_.net.now());
      pump();
    });
  }

  HttpResponse forward(const WhipRequest& request) {
    server::HttpRequest req;
    req.method = request.method;
    size_t path = request.url.find('/', request.url.find("://") + 3);
    req.target = request.url.substr(path);
    for (const auto& h : request.headers)
      req.headers.push_back({h.name, h.value});
    req.body = request.body;
    req.client = "203.0.113.7";
    server::HttpResponse r = s_.http(req);
    HttpResponse out;
    out.status = r.status;
    for (const auto& h : r.headers)
      out.headers.push_back({h.name, h.value});
    out.body = r.body;
    return out;
  }

  void start() {
    s_.net.at(s_.net.now(), [this] {
      publisher->start(s_.net.now());
      pump();
    });
  }
  bool run_until(const std::function<bool()>& done, Duration limit) {
    return s_.net.run_until(done, s_.net.now() + limit);
  }
  size_t count(WhipRequestKind kind) const {
    size_t n = 0;
    for (const auto& r : requests)
      n += r.kind == kind;
    return n;
  }
  bool saw(PublisherState state) const {
    return std::find(states.begin(), states.end(), state) != states.end();
  }

  std::unique_ptr<Publisher> publisher;
  Script script;
  bool cut = false;  // the radio link drops every datagram both ways
  bool refuse_sockets = false;
  std::vector<WhipRequest> requests;
  std::vector<int> statuses;  // of the responses that came
  std::vector<PublisherState> states;
  std::vector<std::string> logs;
  std::optional<std::string> fatal;
  int sessions_closed = 0;

 private:
  RelayScenario& s_;
  SeededRandom rng_;
  dtls::Certificate cert_;
  sim::NodeId host_ = 0;
  std::optional<SocketAddress> local_;
  std::optional<Instant> armed_at_;
  uint64_t arm_token_ = 0;
};

PublisherConfig quick_config() {
  PublisherConfig c;
  c.token = "device-token-1";
  c.backoff = {seconds(1), seconds(8), 0};  // no jitter: the waits are exact
  c.request_timeout = seconds(5);
  c.answer_margin = seconds(1);
  c.keepalive_interval = seconds(5);
  c.stable_after = seconds(5);
  return c;
}

HttpResponse response(int status, std::string body = {}, std::vector<whip::HttpHeader> h = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(h);
  return r;
}

// Answers the first `n` requests of `kind` with `answer`, forwards the rest.
Script first(WhipRequestKind kind, int n, std::optional<WhipResult<HttpResponse>> answer) {
  auto left = std::make_shared<int>(n);
  return [kind, left,
          answer](const WhipRequest& r) -> std::optional<std::optional<WhipResult<HttpResponse>>> {
    if (r.kind != kind || *left <= 0) return std::nullopt;
    --*left;
    return answer;
  };
}

TEST(Publisher, PublishesStreamsAndDeletesOnStop) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().frames_sent >= 10; }, seconds(20)))
      << d.publisher->last_error();
  EXPECT_EQ(d.publisher->state(), PublisherState::streaming);
  EXPECT_EQ(d.states.front(), PublisherState::connecting);
  EXPECT_TRUE(d.saw(PublisherState::waiting));
  ASSERT_TRUE(d.publisher->whip_session());
  // The relay's Location, resolved against the endpoint.
  EXPECT_TRUE(d.publisher->whip_session()->resource_url.starts_with("http://198.51.100.1:8080/"));
  EXPECT_TRUE(d.publisher->timeline().channels_open);
  EXPECT_EQ(d.requests.at(0).kind, WhipRequestKind::publish);
  EXPECT_EQ(d.requests.at(0).headers.back().value, "Bearer device-token-1");

  std::string resource = d.publisher->whip_session()->resource_url;
  d.publisher->stop(s.net.now());
  d.pump();
  EXPECT_EQ(d.publisher->state(), PublisherState::stopped);
  ASSERT_TRUE(d.run_until([&] { return d.publisher->done(); }, seconds(5)));
  EXPECT_EQ(d.count(WhipRequestKind::end), 1u);
  EXPECT_EQ(d.requests.back().url, resource);
  // The DELETE goes before the PeerConnection's close: the relay takes it as the device
  // leaving, not as a link to wait for (a close seen first would show "reconnecting").
  EXPECT_EQ(d.statuses.back(), 200);
  auto devices = nlohmann::json::parse(s.request("GET", "/api/devices").body);
  EXPECT_EQ(devices[0]["state"], "offline");
  EXPECT_EQ(d.sessions_closed, 1);
  EXPECT_FALSE(d.publisher->next_timeout());
}

TEST(Publisher, ServerErrorsTimeoutsAndGarbageBackOffWithGrowingWaits) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  int posts = 0;
  d.script = [&](const WhipRequest& r) -> std::optional<std::optional<WhipResult<HttpResponse>>> {
    if (r.kind != WhipRequestKind::publish) return std::nullopt;
    switch (++posts) {
      case 1:
        return std::optional<WhipResult<HttpResponse>>(
            response(503, R"({"title":"Service Unavailable","detail":"relay full"})",
                     {{"Content-Type", "application/problem+json"}}));
      case 2:
        return std::optional<WhipResult<HttpResponse>>(std::nullopt);  // no answer at all
      case 3:
        return std::optional<WhipResult<HttpResponse>>(
            response(201, "<html>hello</html>", {{"Location", "/whip/x"}}));
      case 4:
        return std::optional<WhipResult<HttpResponse>>(
            whip::WhipError{WhipErrorKind::connect, 0, "POST x: cannot connect: refused"});
      default:
        return std::nullopt;
    }
  };
  d.start();
  ASSERT_TRUE(
      d.run_until([&] { return d.publisher->state() == PublisherState::streaming; }, seconds(60)));
  EXPECT_EQ(posts, 5);
  const auto stats = d.publisher->stats();
  EXPECT_EQ(stats.publishes, 5u);
  EXPECT_EQ(stats.sessions, 1u);
  EXPECT_EQ(stats.failures, 0u);  // no session existed to fail
  EXPECT_EQ(stats.backoffs,
            (std::vector<Duration>{seconds(1), seconds(2), seconds(4), seconds(8)}));
  EXPECT_NE(d.publisher->last_error(), "");
  EXPECT_TRUE(d.saw(PublisherState::backoff));
  EXPECT_EQ(d.sessions_closed, 4);  // every refused attempt's PeerConnection released
}

TEST(Publisher, BackoffReasonsAreOneLine) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.script = first(WhipRequestKind::publish, 1,
                   response(503, R"({"type":"about:blank","detail":"relay full"})"));
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.saw(PublisherState::backoff); }, seconds(5)));
  EXPECT_EQ(d.publisher->last_error(),
            "POST http://198.51.100.1:8080/whip: HTTP 503 Service Unavailable: relay full");
}

TEST(Publisher, UnauthorizedStopsForGood) {
  RelayScenario s(full_rate_relay());
  auto config = quick_config();
  config.token = "wrong";
  SimDevice d(s, config);
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.fatal.has_value(); }, seconds(5)));
  EXPECT_EQ(d.statuses, std::vector<int>{401});
  EXPECT_NE(d.fatal->find("check the device token"), std::string::npos) << *d.fatal;
  EXPECT_EQ(d.publisher->state(), PublisherState::stopped);
  EXPECT_TRUE(d.publisher->done());
  ASSERT_TRUE(s.net.run_for(seconds(60)).ok());
  EXPECT_EQ(d.requests.size(), 1u);  // never tried again
}

TEST(Publisher, NoLocalAddressBacksOffUntilThereIsOne) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.refuse_sockets = true;
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().backoffs.size() == 2; }, seconds(5)));
  EXPECT_TRUE(d.requests.empty());
  d.refuse_sockets = false;
  ASSERT_TRUE(
      d.run_until([&] { return d.publisher->state() == PublisherState::streaming; }, seconds(10)));
}

// A radio outage while streaming: ICE loses consent, the publisher restarts ICE by PATCH on the
// same session, and streams again on it once the link is back.
TEST(Publisher, IceRestartByPatchResumesTheSameSession) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().frames_sent >= 5; }, seconds(20)));
  std::string resource = d.publisher->whip_session()->resource_url;
  d.cut = true;
  ASSERT_TRUE(d.run_until([&] { return d.count(WhipRequestKind::ice_restart) == 1; }, seconds(30)));
  EXPECT_EQ(d.requests.back().headers.at(1).value, "\"*\"");  // If-Match (RFC 9725 4.3.2)
  d.cut = false;
  ASSERT_TRUE(d.run_until(
      [&] {
        return d.publisher->stats().ice_restarts == 1 &&
               d.publisher->state() == PublisherState::streaming;
      },
      seconds(30)));
  uint64_t sent = d.publisher->stats().frames_sent;
  ASSERT_TRUE(
      d.run_until([&] { return d.publisher->stats().frames_sent >= sent + 5; }, seconds(10)));
  EXPECT_EQ(d.publisher->stats().sessions, 1u);
  EXPECT_EQ(d.publisher->whip_session()->resource_url, resource);
  EXPECT_EQ(d.count(WhipRequestKind::publish), 1u);
}

// The server forgot the session (restarted): the restart's PATCH gets 404, nothing is
// DELETEd, and a new session is published after a backoff.
TEST(Publisher, IceRestartAnswered404StartsANewSession) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.script = first(WhipRequestKind::ice_restart, 1, response(404, "no such session"));
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().frames_sent >= 5; }, seconds(20)));
  d.cut = true;
  ASSERT_TRUE(d.run_until([&] { return d.saw(PublisherState::backoff); }, seconds(30)));
  EXPECT_EQ(d.publisher->last_error(), "the server no longer knows the session");
  EXPECT_EQ(d.count(WhipRequestKind::end), 0u);
  d.cut = false;
  ASSERT_TRUE(d.run_until(
      [&] {
        return d.publisher->stats().sessions == 2 &&
               d.publisher->state() == PublisherState::streaming;
      },
      seconds(30)));
  EXPECT_EQ(d.publisher->stats().failures, 1u);
  EXPECT_EQ(d.publisher->stats().backoffs, std::vector<Duration>{seconds(1)});
}

// Streaming for stable_after resets the backoff: after two failed attempts, a long stream,
// then a failure, the wait is the initial one again.
TEST(Publisher, BackoffGrowsThenResetsAfterStableStreaming) {
  RelayScenario s(full_rate_relay());
  auto config = quick_config();
  config.ice_restart = false;  // a lost connection goes straight to a new session
  SimDevice d(s, config);
  d.script = first(WhipRequestKind::publish, 2, response(500));
  d.start();
  ASSERT_TRUE(
      d.run_until([&] { return d.publisher->state() == PublisherState::streaming; }, seconds(20)));
  ASSERT_TRUE(s.net.run_for(seconds(6)).ok());  // stable_after is 5 s
  d.cut = true;
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().backoffs.size() == 3; }, seconds(40)));
  EXPECT_EQ(d.publisher->stats().backoffs,
            (std::vector<Duration>{seconds(1), seconds(2), seconds(1)}));
  EXPECT_EQ(d.publisher->stats().failures, 1u);
  // The lost session was DELETEd (the server may still hold it).
  EXPECT_EQ(d.count(WhipRequestKind::end), 1u);
}

// Frame sequence numbers go on across sessions.
TEST(Publisher, SequenceNumbersGoOnAcrossSessions) {
  RelayScenario s(full_rate_relay());
  auto config = quick_config();
  config.ice_restart = false;
  SimDevice d(s, config);
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().frames_sent >= 5; }, seconds(20)));
  uint32_t next = d.publisher->session()->next_sequence();
  d.cut = true;
  ASSERT_TRUE(d.run_until([&] { return d.saw(PublisherState::backoff); }, seconds(40)));
  d.cut = false;
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().sessions == 2; }, seconds(20)));
  EXPECT_GE(d.publisher->session()->next_sequence(), next);
}

// A firmware whose network went away drops the session at once, and publishes anew when the
// network is back.
TEST(Publisher, StopsWhenTheNetworkGoesAndStartsAgain) {
  RelayScenario s(full_rate_relay());
  SimDevice d(s, quick_config());
  d.start();
  ASSERT_TRUE(d.run_until([&] { return d.publisher->stats().frames_sent >= 5; }, seconds(20)));
  d.script = [&](const WhipRequest&) -> std::optional<std::optional<WhipResult<HttpResponse>>> {
    if (!d.cut) return std::nullopt;
    return std::optional<WhipResult<HttpResponse>>(
        whip::WhipError{WhipErrorKind::network, 0, "DELETE: network error: no route"});
  };
  d.cut = true;
  d.publisher->stop(s.net.now(), Publisher::StopMode::drop);
  d.pump();
  EXPECT_EQ(d.publisher->state(), PublisherState::stopped);
  EXPECT_EQ(d.publisher->peer(), nullptr);  // closed at once, not waiting for the DELETE
  EXPECT_EQ(d.sessions_closed, 1);
  ASSERT_TRUE(d.run_until([&] { return d.publisher->done(); }, seconds(10)));
  d.cut = false;
  d.start();
  ASSERT_TRUE(d.run_until(
      [&] {
        return d.publisher->stats().sessions == 2 &&
               d.publisher->state() == PublisherState::streaming;
      },
      seconds(20)));
  EXPECT_EQ(d.count(WhipRequestKind::publish), 2u);
  EXPECT_TRUE(d.publisher->stats().backoffs.empty());
}

}  // namespace
}  // namespace cellrtc::streamer
