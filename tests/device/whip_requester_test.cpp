#include "device/whip_requester.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "support/fake_http_server.h"

namespace cellrtc::device {
namespace {

using testing::FakeHttpServer;
using testing::HttpRequest;
using testing::HttpResponse;

whip::WhipRequest request_to(const std::string& url, const std::string& method) {
  whip::WhipRequest r;
  r.method = method;
  r.url = url + "/whip";
  r.timeout = seconds(20);
  return r;
}

// The requests run in the order submitted, each completion on the loop's thread, and the
// loop's timers run while the first is held by the server.
TEST(WhipRequester, CompletesInOrderOnTheLoopWhileItKeepsServing) {
  std::atomic<bool> release{false};
  FakeHttpServer server([&](const HttpRequest& r) {
    // Hold the first request until the loop has shown it keeps running.
    while (r.method == "POST" && !release.load())
      std::this_thread::sleep_for(milliseconds(5));
    HttpResponse answer;
    answer.status = r.method == "POST" ? 201 : 204;
    answer.reason = r.method == "POST" ? "Created" : "No Content";
    return answer;
  });
  auto loop = runtime::EventLoop::create().value();
  WhipClientConfig config;
  config.url = server.url();
  WhipClient client(config);
  std::vector<std::pair<uint64_t, int>> done;
  const auto loop_thread = std::this_thread::get_id();
  WhipRequester requester(client, *loop, [&](uint64_t id, whip::WhipResult<whip::HttpResponse> r) {
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    done.emplace_back(id, r.ok() ? r->status : -1);
  });
  requester.submit(1, request_to(server.url(), "POST"));
  requester.submit(2, request_to(server.url(), "PATCH"));
  EXPECT_EQ(requester.in_flight(), 2u);
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks == 5) release.store(true);
    loop->add_timer(loop->now() + milliseconds(20), tick);
  };
  loop->add_timer(loop->now(), tick);
  EXPECT_TRUE(loop->run_until([&] { return done.size() == 2; }, loop->now() + seconds(20)));
  EXPECT_GE(ticks, 5);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0], (std::pair<uint64_t, int>{1, 201}));
  EXPECT_EQ(done[1], (std::pair<uint64_t, int>{2, 204}));
  EXPECT_EQ(requester.in_flight(), 0u);
  release.store(true);
}

// Destroying the requester cancels a request the server never answers, promptly, and its
// completion never runs.
TEST(WhipRequester, DestroyingCancelsAHangingRequest) {
  HttpResponse silent;
  silent.silent = true;
  FakeHttpServer server([&](const HttpRequest&) { return silent; });
  auto loop = runtime::EventLoop::create().value();
  WhipClientConfig config;
  config.url = server.url();
  WhipClient client(config);
  int completions = 0;
  auto requester = std::make_unique<WhipRequester>(
      client, *loop, [&](uint64_t, whip::WhipResult<whip::HttpResponse>) { ++completions; });
  requester->submit(1, request_to(server.url(), "POST"));
  // The server's thread sees the request; nothing wakes the loop, so look every 10 ms.
  for (int i = 0; i < 1000 && server.request_count() == 0; ++i)
    loop->run_for(milliseconds(10));
  ASSERT_EQ(server.request_count(), 1u);
  auto started = std::chrono::steady_clock::now();
  requester.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  loop->run_for(milliseconds(10));
  EXPECT_EQ(completions, 0);
  // The cancel ended with the requester: the next request is not cancelled (it times out).
  auto next = request_to(server.url(), "DELETE");
  next.timeout = milliseconds(200);
  EXPECT_EQ(client.perform(next).error().kind, WhipErrorKind::timeout);
}

}  // namespace
}  // namespace cellrtc::device
