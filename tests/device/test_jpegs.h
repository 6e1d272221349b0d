// Small real JPEGs for the source tests, made by the test pattern.
#pragma once

#include <gtest/gtest.h>

#include "core/common/bytes.h"
#include "device/test_pattern.h"

namespace cellrtc::device::testing {

// `count` consecutive 160x120 test-pattern frames (a few KB each).
inline std::vector<Bytes> small_jpegs(size_t count, int quality = 50) {
  auto pattern = TestPattern::create({.width = 160, .height = 120});
  EXPECT_TRUE(pattern.ok());
  std::vector<Bytes> out;
  for (size_t i = 0; i < count && pattern.ok(); ++i) {
    CaptureSettings s;
    s.quality = quality;
    auto frame = (*pattern)->next(Instant::from_us(static_cast<int64_t>(i) * 1000), s);
    EXPECT_TRUE(frame.ok());
    if (frame.ok()) out.emplace_back(frame->jpeg().begin(), frame->jpeg().end());
  }
  return out;
}

}  // namespace cellrtc::device::testing
