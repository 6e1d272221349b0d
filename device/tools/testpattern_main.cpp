// cellrtc-testpattern: the test pattern's frame sizes per JPEG quality, or its frames as an
// MJPEG stream on stdout.
//
//   cellrtc-testpattern sizes [--size WxH] [--frames N] [--noise A]
//   cellrtc-testpattern mjpeg [--size WxH] [--frames N] [--quality Q]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "device/test_pattern.h"

namespace {

using cellrtc::Instant;
using cellrtc::device::CaptureSettings;
using cellrtc::device::TestPattern;
using cellrtc::device::TestPatternConfig;

int usage() {
  std::fprintf(stderr,
               "usage: cellrtc-testpattern sizes [--size WxH] [--frames N] [--noise A]\n"
               "       cellrtc-testpattern mjpeg [--size WxH] [--frames N] [--quality Q]\n");
  return 2;
}

bool parse_size(std::string_view s, TestPatternConfig& c) {
  auto x = s.find('x');
  if (x == std::string_view::npos) return false;
  int w = std::atoi(std::string(s.substr(0, x)).c_str());
  int h = std::atoi(std::string(s.substr(x + 1)).c_str());
  if (w <= 0 || h <= 0 || w > 65535 || h > 65535) return false;
  c.width = static_cast<uint16_t>(w);
  c.height = static_cast<uint16_t>(h);
  return true;
}

bool write_all(const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::write(STDOUT_FILENO, p, n);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string_view mode = argv[1];
  TestPatternConfig config;
  int frames = mode == "sizes" ? 50 : 100;
  int quality = 50;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--size") {
      if (!parse_size(argv[++i], config)) return usage();
    } else if (a == "--frames") {
      frames = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--noise") {
      config.noise = std::atoi(argv[++i]);
    } else if (a == "--quality") {
      quality = std::atoi(argv[++i]);
    } else {
      return usage();
    }
  }
  auto made = TestPattern::create(config);
  if (!made) {
    std::fprintf(stderr, "%s\n", made.error().message.c_str());
    return 1;
  }
  TestPattern& pattern = **made;

  if (mode == "sizes") {
    std::printf("%ux%u, %d frames per quality (KB = 1000 bytes)\n", config.width, config.height,
                frames);
    std::printf("quality   min KB  mean KB   max KB\n");
    for (int q = 20; q <= 90; q += 10) {
      size_t lo = SIZE_MAX, hi = 0, sum = 0;
      for (int f = 0; f < frames; ++f) {
        CaptureSettings s;
        s.quality = q;
        auto frame = pattern.next(Instant::from_us(f * 66'667), s);
        if (!frame) {
          std::fprintf(stderr, "%s\n", frame.error().message.c_str());
          return 1;
        }
        size_t n = frame->jpeg().size();
        lo = std::min(lo, n);
        hi = std::max(hi, n);
        sum += n;
      }
      std::printf("%7d %8.1f %8.1f %8.1f\n", q, lo / 1000.0, sum / 1000.0 / frames, hi / 1000.0);
    }
    return 0;
  }
  if (mode == "mjpeg") {
    CaptureSettings s;
    s.quality = quality;
    for (int f = 0; f < frames; ++f) {
      auto frame = pattern.next(Instant::from_us(f * 66'667), s);
      if (!frame) {
        std::fprintf(stderr, "%s\n", frame.error().message.c_str());
        return 1;
      }
      if (!write_all(frame->jpeg().data(), frame->jpeg().size())) return 1;
    }
    return 0;
  }
  return usage();
}
