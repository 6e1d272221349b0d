#include "core/common/random.h"

namespace cellrtc {

uint32_t Random::next_u32() {
  uint8_t b[4];
  fill(b);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

uint64_t Random::next_u64() {
  return (uint64_t{next_u32()} << 32) | next_u32();
}

uint32_t Random::uniform(uint32_t bound) {
  // Rejection sampling removes the modulo bias.
  uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
  for (;;) {
    uint32_t v = next_u32();
    if (v < limit) return v % bound;
  }
}

double Random::unit() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

std::string Random::ice_chars(size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s(length, 'A');
  for (auto& c : s)
    c = kAlphabet[uniform(64)];
  return s;
}

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

SeededRandom::SeededRandom(uint64_t seed) {
  for (auto& s : s_)
    s = splitmix64(seed);
}

uint64_t SeededRandom::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void SeededRandom::fill(std::span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t v = next();
    for (int k = 0; k < 8 && i < out.size(); ++k, ++i)
      out[i] = static_cast<uint8_t>(v >> (8 * k));
  }
}

}  // namespace cellrtc
