#include "runtime/event_loop.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace cellrtc::runtime {
namespace {

// Generous bounds for a loaded CI machine; nothing in these tests should take close to them.
constexpr Duration kTestDeadline = seconds(5);

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop) << loop.error().message();
  return std::move(*loop);
}

TEST(EventLoop, TimersFireInDeadlineThenInsertionOrder) {
  auto loop = make_loop();
  Instant start = loop->now();
  std::vector<int> order;
  loop->add_timer(start + milliseconds(30), [&] { order.push_back(3); });
  loop->add_timer(start + milliseconds(10), [&] { order.push_back(1); });
  loop->add_timer(start + milliseconds(20), [&] { order.push_back(2); });
  loop->add_timer(start + milliseconds(20), [&] { order.push_back(22); });
  loop->add_timer(start, [&] { order.push_back(0); });
  EXPECT_TRUE(loop->run_until([&] { return order.size() == 5; }, start + kTestDeadline));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 22, 3}));
}

TEST(EventLoop, TimersDoNotFireEarly) {
  auto loop = make_loop();
  Instant start = loop->now();
  Instant at = start + milliseconds(25);
  std::optional<Instant> fired;
  loop->add_timer(at, [&] { fired = loop->now(); });
  EXPECT_TRUE(loop->run_until([&] { return fired.has_value(); }, start + kTestDeadline));
  EXPECT_GE(*fired, at);
}

TEST(EventLoop, CancelledTimersDoNotFire) {
  auto loop = make_loop();
  Instant start = loop->now();
  int fired = 0;
  TimerId a = loop->add_timer(start + milliseconds(5), [&] { fired += 1; });
  loop->add_timer(start + milliseconds(5), [&] { fired += 10; });
  loop->cancel_timer(a);
  loop->cancel_timer(a);       // twice is harmless
  loop->cancel_timer(999999);  // unknown is harmless
  EXPECT_TRUE(loop->run_for(milliseconds(20)));
  EXPECT_EQ(fired, 10);
  EXPECT_FALSE(loop->next_timer());
}

TEST(EventLoop, ATimerReArmingForNowDoesNotStarveTheLoop) {
  auto loop = make_loop();
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    loop->add_timer(loop->now(), tick);
  };
  loop->add_timer(loop->now(), tick);
  // One tick per iteration: run_once returns after a bounded amount of work.
  for (int i = 0; i < 5; ++i)
    loop->run_once(loop->now() + milliseconds(100));
  EXPECT_EQ(ticks, 5);
}

TEST(EventLoop, RunUntilADeadlineReturnsAtIt) {
  auto loop = make_loop();
  Instant start = loop->now();
  EXPECT_TRUE(loop->run_until(start + milliseconds(30)));
  Duration took = loop->now() - start;
  EXPECT_GE(took, milliseconds(30));
  EXPECT_LT(took, seconds(2));
}

TEST(EventLoop, PostFromAnotherThreadWakesTheLoop) {
  auto loop = make_loop();
  std::thread::id ran_on;
  bool done = false;
  Instant start = loop->now();
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop->post([&] {
      ran_on = std::this_thread::get_id();
      done = true;
    });
  });
  // No timer is armed, so only the post can end the wait before the deadline.
  bool finished = loop->run_until([&] { return done; }, start + kTestDeadline);
  other.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_LT(loop->now() - start, seconds(2));
}

TEST(EventLoop, ManyPostsFromManyThreadsAllRun) {
  auto loop = make_loop();
  constexpr int kThreads = 4;
  constexpr int kPostsEach = 250;
  int count = 0;  // touched only on the loop thread
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPostsEach; ++i)
        loop->post([&] { ++count; });
    });
  }
  bool finished =
      loop->run_until([&] { return count == kThreads * kPostsEach; }, loop->now() + kTestDeadline);
  for (auto& t : threads)
    t.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(count, kThreads * kPostsEach);
}

TEST(EventLoop, StopFromAnotherThreadEndsTheRun) {
  auto loop = make_loop();
  Instant start = loop->now();
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop->stop();
  });
  EXPECT_FALSE(loop->run_until(start + kTestDeadline));
  other.join();
  EXPECT_LT(loop->now() - start, seconds(2));
  // The stop is consumed: the next run goes to its deadline.
  EXPECT_TRUE(loop->run_for(milliseconds(5)));
}

TEST(EventLoop, StopFromACallbackEndsThePredicateRun) {
  auto loop = make_loop();
  int later = 0;
  loop->add_timer(loop->now(), [&] { loop->stop(); });
  loop->add_timer(loop->now() + milliseconds(1), [&] { ++later; });
  EXPECT_FALSE(loop->run_until([] { return false; }, loop->now() + kTestDeadline));
  EXPECT_EQ(later, 0);
}

TEST(EventLoop, WatchesAnFdUntilUnwatched) {
  auto loop = make_loop();
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  int reads = 0;
  ASSERT_TRUE(loop->watch(efd, Interest{}, [&](Readiness r) {
    EXPECT_TRUE(r.readable);
    uint64_t v;
    ASSERT_EQ(::read(efd, &v, sizeof v), static_cast<ssize_t>(sizeof v));
    ++reads;
  }));
  EXPECT_FALSE(loop->watch(efd, Interest{}, [](Readiness) {}));  // already watched

  uint64_t one = 1;
  ASSERT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_TRUE(loop->run_until([&] { return reads == 1; }, loop->now() + kTestDeadline));

  loop->unwatch(efd);
  ASSERT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_TRUE(loop->run_for(milliseconds(20)));
  EXPECT_EQ(reads, 1);
  ::close(efd);
}

TEST(EventLoop, ReportsWritableWhenAsked) {
  auto loop = make_loop();
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  bool writable = false;
  ASSERT_TRUE(loop->watch(efd, Interest{false, true}, [&](Readiness r) {
    writable = r.writable;
    loop->modify(efd, Interest{true, false}).ok();
  }));
  EXPECT_TRUE(loop->run_until([&] { return writable; }, loop->now() + kTestDeadline));
  loop->unwatch(efd);
  ::close(efd);
}

}  // namespace
}  // namespace cellrtc::runtime
