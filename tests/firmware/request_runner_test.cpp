// The publisher's requests through a runner: what it asks for is submitted, finished requests
// come back as its answers (failures with their kind), a full runner is a network error the
// publisher backs off from.
#include "firmware/app/request_runner.h"

#include <gtest/gtest.h>

#include <deque>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "firmware/app/publisher_streamer.h"

namespace cellrtc::firmware {
namespace {

class NoSockets final : public streamer::PublisherHost {
 public:
  std::optional<std::string> open_session(Instant, peer::PeerConnection&) override {
    return std::nullopt;
  }
  void close_session(Instant, peer::PeerConnection&) override {}
};

class FakeRunner final : public RequestRunner {
 public:
  bool submit(const streamer::PendingRequest& r) override {
    if (queued.size() >= capacity) return false;
    queued.push_back(r);
    return true;
  }
  std::optional<CompletedRequest> poll_completed() override {
    if (done.empty()) return std::nullopt;
    CompletedRequest c = std::move(done.front());
    done.pop_front();
    return c;
  }
  void cancel_all() override {
    cancelled += queued.size() + done.size();
    queued.clear();
    done.clear();
  }
  // The worker finishes the oldest request with `outcome`.
  void finish(HttpOutcome outcome) {
    done.push_back({queued.front().id, queued.front().request, std::move(outcome)});
    queued.pop_front();
  }
  size_t capacity = 4;
  size_t cancelled = 0;
  std::deque<streamer::PendingRequest> queued;
  std::deque<CompletedRequest> done;
};

struct Rig {
  Rig() : certificate(dtls::Certificate::generate(rng, "cellrtc-device").value()) {
    config.endpoint = "https://relay.example.net/whip";
    config.token = "t";
  }
  SeededRandom rng{5};
  dtls::Certificate certificate;
  streamer::PublisherConfig config;
  NoSockets host;
  FakeRunner runner;
};

TEST(RequestRunnerTest, ThePostIsSubmittedAndItsFailureComesBackWithItsKind) {
  Rig rig;
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.host);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  RequestPumpResult r = pump_requests(now, pub, rig.runner);
  EXPECT_EQ(r.submitted, 1u);
  EXPECT_EQ(r.answered, 0u);
  ASSERT_EQ(rig.runner.queued.size(), 1u);
  EXPECT_EQ(rig.runner.queued.front().request.method, "POST");
  EXPECT_EQ(pub.state(), streamer::PublisherState::connecting);

  rig.runner.finish(ResponseCollector().fail(HttpFailure::dns, "ESP_ERR_HTTP_CONNECT"));
  now += seconds(2);
  r = pump_requests(now, pub, rig.runner);
  EXPECT_EQ(r.answered, 1u);
  EXPECT_EQ(r.responses, 0u);  // no HTTP came back
  EXPECT_EQ(pub.state(), streamer::PublisherState::backoff);
  EXPECT_NE(pub.last_error().find("DNS lookup failed"), std::string::npos) << pub.last_error();
}

TEST(RequestRunnerTest, AServerErrorStatusReachesThePublishersParser) {
  Rig rig;
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.host);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  pump_requests(now, pub, rig.runner);
  ResponseCollector c;
  c.on_header("Content-Type", "text/plain");
  c.on_body("busy");
  rig.runner.finish(c.finish(503));
  EXPECT_EQ(pump_requests(now, pub, rig.runner).responses, 1u);
  EXPECT_EQ(pub.state(), streamer::PublisherState::backoff);
  EXPECT_NE(pub.last_error().find("503"), std::string::npos) << pub.last_error();
}

TEST(RequestRunnerTest, AFullRunnerIsANetworkErrorThePublisherBacksOffFrom) {
  Rig rig;
  rig.runner.capacity = 0;
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.host);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  RequestPumpResult r = pump_requests(now, pub, rig.runner);
  EXPECT_EQ(r.submitted, 0u);
  EXPECT_EQ(r.answered, 1u);
  EXPECT_EQ(pub.state(), streamer::PublisherState::backoff);
  EXPECT_NE(pub.last_error().find("request queue full"), std::string::npos) << pub.last_error();
}

// The network drops with the POST finished but not yet taken back: the streamer cancels it, so
// its answer never reaches the publisher nor counts as the network answering; with the POST
// still being performed, the next session's POST is not queued behind it.
TEST(RequestRunnerTest, RequestsInFlightWhenTheNetworkDropsAreCancelled) {
  Rig rig;
  PublisherStreamer s(rig.config, rig.rng, rig.certificate, rig.host, &rig.runner);
  Instant now = Instant{} + seconds(1);
  s.start(now);
  ASSERT_EQ(pump_requests(now, s.publisher(), rig.runner).submitted, 1u);
  rig.runner.finish(ResponseCollector().finish(503));  // done, not yet taken back

  now += seconds(1);
  s.stop(now);  // PPP gone
  EXPECT_EQ(rig.runner.cancelled, 1u);
  RequestPumpResult r = pump_requests(now, s.publisher(), rig.runner);
  EXPECT_EQ(r.answered, 0u);
  EXPECT_EQ(r.responses, 0u);

  now += seconds(10);
  s.start(now);  // PPP up again
  r = pump_requests(now, s.publisher(), rig.runner);
  ASSERT_EQ(r.submitted, 1u);
  const uint64_t second_post = rig.runner.queued.front().id;
  now += seconds(1);
  s.stop(now);  // gone again while the POST is being performed
  EXPECT_EQ(rig.runner.cancelled, 2u);
  EXPECT_TRUE(rig.runner.queued.empty());

  now += seconds(10);
  s.start(now);
  pump_requests(now, s.publisher(), rig.runner);
  ASSERT_EQ(rig.runner.queued.size(), 1u);  // only the new session's POST
  EXPECT_EQ(rig.runner.queued.front().request.method, "POST");
  EXPECT_GT(rig.runner.queued.front().id, second_post);
  EXPECT_EQ(s.publisher().state(), streamer::PublisherState::connecting);
}

}  // namespace
}  // namespace cellrtc::firmware

namespace cellrtc::firmware {
namespace {

// The worker's TURN name lookups ride with the finished request into the loop's cache.
TEST(RequestRunnerTest, TheAnswersTurnLookupsReachTheCache) {
  Rig rig;
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.host);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  pump_requests(now, pub, rig.runner);
  rig.runner.finish(ResponseCollector().finish(503));
  TurnHostLookup found;
  found.host = "turn.example.net";
  found.address = IpAddress::v4(198, 51, 100, 30);
  rig.runner.done.back().turn_hosts.push_back(found);
  TurnHostCache cache;
  EXPECT_FALSE(cache.lookup(now, "turn.example.net"));
  EXPECT_EQ(pump_requests(now, pub, rig.runner, {}, &cache).answered, 1u);
  auto cached = cache.lookup(now, "turn.example.net");
  ASSERT_TRUE(cached) << cached.error();
  EXPECT_EQ(*cached, IpAddress::v4(198, 51, 100, 30));
}

}  // namespace
}  // namespace cellrtc::firmware
