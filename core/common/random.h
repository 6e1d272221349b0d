// Randomness is injected: the runtime passes an OS-backed source, tests and simulations a
// seeded one, so a simulated run is reproducible bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cellrtc {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(std::span<uint8_t> out) = 0;

  uint32_t next_u32();
  uint64_t next_u64();
  // Uniform in [0, bound); bound > 0.
  uint32_t uniform(uint32_t bound);
  // Uniform in [0, 1).
  double unit();
  // `length` characters from the ICE alphabet (RFC 8839 section 5.4 ice-char: ALPHA / DIGIT / "+" /
  // "/").
  std::string ice_chars(size_t length);
};

// xoshiro256** seeded through splitmix64: fast, small, deterministic. Not for secrets outside
// tests and simulations.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  void fill(std::span<uint8_t> out) override;
  uint64_t next();

 private:
  uint64_t s_[4];
};

}  // namespace cellrtc
