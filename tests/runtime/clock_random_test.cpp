#include <gtest/gtest.h>

#include <array>

#include "runtime/clock.h"
#include "runtime/os_random.h"

namespace cellrtc::runtime {
namespace {

TEST(MonotonicClock, StartsNearZeroAndNeverGoesBack) {
  MonotonicClock clock;
  Instant first = clock.now();
  EXPECT_GE(first.us(), 0);
  EXPECT_LT(first.us(), 1'000'000);
  Instant prev = first;
  for (int i = 0; i < 1000; ++i) {
    Instant t = clock.now();
    EXPECT_GE(t, prev);
    prev = t;
  }
}

TEST(MonotonicClock, ConvertsBackToTheOsClock) {
  MonotonicClock clock;
  Instant t = clock.now();
  timespec ts = clock.to_timespec(t);
  timespec os{};
  clock_gettime(CLOCK_MONOTONIC, &os);
  int64_t diff_us = (os.tv_sec - ts.tv_sec) * 1'000'000 + (os.tv_nsec - ts.tv_nsec) / 1000;
  EXPECT_GE(diff_us, 0);
  EXPECT_LT(diff_us, 1'000'000);
}

TEST(OsRandom, FillsWithBytesThatDiffer) {
  OsRandom random;
  std::array<uint8_t, 64> a{}, b{};
  random.fill(a);
  random.fill(b);
  // 512 random bits equal or all zero: probability 2^-512.
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<uint8_t, 64>{}));
  EXPECT_EQ(random.ice_chars(22).size(), 22u);
  EXPECT_LT(random.uniform(10), 10u);
}

}  // namespace
}  // namespace cellrtc::runtime
