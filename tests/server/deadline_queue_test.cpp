#include "server/deadline_queue.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

Instant at_ms(int64_t ms) {
  return Instant() + milliseconds(ms);
}

TEST(DeadlineQueue, DueKeysComeSoonestFirstAndAreDisarmed) {
  DeadlineQueue q;
  EXPECT_FALSE(q.next());
  q.arm("c", at_ms(30));
  q.arm("a", at_ms(10));
  q.arm("b", at_ms(20));
  EXPECT_EQ(q.next(), at_ms(10));
  EXPECT_EQ(q.take_due(at_ms(5)), std::vector<std::string>{});
  EXPECT_EQ(q.take_due(at_ms(20)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.next(), at_ms(30));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.take_due(at_ms(100)), std::vector<std::string>{"c"});
  EXPECT_FALSE(q.next());
}

TEST(DeadlineQueue, RearmingAndErasingLeaveNoStaleDeadline) {
  DeadlineQueue q;
  q.arm("a", at_ms(10));
  q.arm("b", at_ms(50));
  q.arm("a", at_ms(40));  // later now: the old entry is stale
  EXPECT_EQ(q.next(), at_ms(40));
  EXPECT_EQ(q.take_due(at_ms(20)), std::vector<std::string>{});
  q.arm("b", std::nullopt);
  EXPECT_EQ(q.take_due(at_ms(60)), std::vector<std::string>{"a"});
  q.arm("c", at_ms(70));
  q.erase("c");
  EXPECT_FALSE(q.next());
  EXPECT_EQ(q.take_due(at_ms(1000)), std::vector<std::string>{});
}

TEST(DeadlineQueue, StaleEntriesStayBounded) {
  DeadlineQueue q;
  for (int i = 0; i < 10; ++i)
    q.arm("k" + std::to_string(i), at_ms(1000 + i));
  for (int round = 0; round < 10000; ++round)
    q.arm("k" + std::to_string(round % 10), at_ms(2000 + round));
  EXPECT_EQ(q.size(), 10u);
  EXPECT_LE(q.entries(), 2 * q.size() + 64 + 1);
  auto due = q.take_due(at_ms(1'000'000));
  EXPECT_EQ(due.size(), 10u);
  EXPECT_EQ(due.back(), "k9");  // re-armed last, latest deadline
}

}  // namespace
}  // namespace cellrtc::server
