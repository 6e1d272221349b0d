#include "device/test_pattern.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cstring>

namespace cellrtc::device {
namespace {

// 4:2:2 chroma, as the OV2640 delivers its JPEGs.
constexpr int kSubsampling = TJSAMP_422;

struct Rgb {
  uint8_t r, g, b;
};

// 75 % colour bars (white, yellow, cyan, green, magenta, red, blue, black).
constexpr std::array<Rgb, 8> kBars = {{{191, 191, 191},
                                       {191, 191, 0},
                                       {0, 191, 191},
                                       {0, 191, 0},
                                       {191, 0, 191},
                                       {191, 0, 0},
                                       {0, 0, 191},
                                       {16, 16, 16}}};

uint32_t xorshift(uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

uint8_t clamp8(int v) {
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// A position bouncing between 0 and `range` at `speed` per frame.
int bounce(uint32_t frame, int speed, int range) {
  if (range <= 0) return 0;
  int64_t p = (static_cast<int64_t>(frame) * speed) % (2 * static_cast<int64_t>(range));
  return static_cast<int>(p < range ? p : 2 * range - p);
}

std::string size_name(uint16_t w, uint16_t h) {
  return "testpattern " + std::to_string(w) + "x" + std::to_string(h);
}

}  // namespace

struct TestPattern::Encoder {
  tjhandle handle = nullptr;
  unsigned char* buffer = nullptr;
  unsigned long capacity = 0;
  ~Encoder() {
    if (buffer) tjFree(buffer);
    if (handle) tjDestroy(handle);
  }
};

SourceResult<std::unique_ptr<TestPattern>> TestPattern::create(TestPatternConfig config) {
  if (config.width < kMinWidth || config.height < kMinHeight || config.width > kMaxSide ||
      config.height > kMaxSide)
    return SourceError{Errc::invalid_argument,
                       size_name(config.width, config.height) + ": size must be between " +
                           std::to_string(kMinWidth) + "x" + std::to_string(kMinHeight) + " and " +
                           std::to_string(kMaxSide) + "x" + std::to_string(kMaxSide)};
  config.noise = std::clamp(config.noise, 0, 64);
  auto encoder = std::make_unique<Encoder>();
  encoder->handle = tjInitCompress();
  if (!encoder->handle)
    return SourceError{Errc::invalid_state,
                       std::string("testpattern: libturbojpeg: ") + tjGetErrorStr2(nullptr)};
  return std::unique_ptr<TestPattern>(new TestPattern(config, std::move(encoder)));
}

TestPattern::TestPattern(TestPatternConfig config, std::unique_ptr<Encoder> encoder)
    : config_(config),
      encoder_(std::move(encoder)),
      name_(size_name(config.width, config.height)) {}

TestPattern::~TestPattern() = default;

SourceResult<CapturedFrame> TestPattern::next(Instant now, const CaptureSettings& settings) {
  uint16_t w = settings.width ? settings.width : config_.width;
  uint16_t h = settings.height ? settings.height : config_.height;
  if (w < kMinWidth || h < kMinHeight || w > kMaxSide || h > kMaxSide)
    return SourceError{
        Errc::invalid_argument,
        name_ + ": cannot make " + std::to_string(w) + "x" + std::to_string(h) + " frames", false};
  int quality = std::clamp(settings.quality, 1, 100);
  uint32_t sequence = sequence_++;
  render(w, h, sequence, now.us() / 1000);

  unsigned long need = tjBufSize(w, h, kSubsampling);
  if (need > encoder_->capacity) {
    if (encoder_->buffer) tjFree(encoder_->buffer);
    encoder_->buffer = tjAlloc(static_cast<int>(need));
    encoder_->capacity = encoder_->buffer ? need : 0;
    if (!encoder_->buffer)
      return SourceError{Errc::limit_exceeded, name_ + ": out of memory for the encoder", false};
  }
  unsigned long size = encoder_->capacity;
  unsigned char* out = encoder_->buffer;
  if (tjCompress2(encoder_->handle, rgb_.data(), w, 0, h, TJPF_RGB, &out, &size, kSubsampling,
                  quality, TJFLAG_NOREALLOC) != 0)
    return SourceError{Errc::invalid_state,
                       name_ + ": libturbojpeg: " + tjGetErrorStr2(encoder_->handle), false};

  CapturedFrame frame = CapturedFrame::with_image_size(size);
  std::memcpy(frame.jpeg_data(), out, size);
  frame.width = w;
  frame.height = h;
  frame.quality = static_cast<uint8_t>(quality);
  frame.flags = media::frame_flags::kTestPattern;
  frame.capture_time = now;
  ++stats_.frames;
  stats_.bytes += size;
  return frame;
}

TestPattern::Layout TestPattern::layout(uint16_t width, uint16_t height) {
  // Nine digits and two margins of a quarter digit height fit the width: 7.25 heights.
  int dh = std::max(8, std::min(height / 10, width * 4 / 29));
  int dw = dh / 2;
  int gap = dh / 4;
  int margin = dh / 4;
  Layout l;
  int panel_h = 2 * dh + 3 * margin;
  l.panel = {0, height - panel_h, width, panel_h};
  l.sequence = {margin, l.panel.y + margin, dw, dh, dw + gap, kSequenceDigits};
  l.time_ms = {margin, l.panel.y + 2 * margin + dh, dw, dh, dw + gap, kTimeDigits};
  return l;
}

std::array<TestPattern::Rect, 7> TestPattern::segments(int w, int h) {
  int t = std::max(2, h / 8);
  int mid = (h - t) / 2;
  return {{
      {t, 0, w - 2 * t, t},                    // a
      {w - t, t, t, mid - t},                  // b
      {w - t, mid + t, t, h - t - (mid + t)},  // c
      {t, h - t, w - 2 * t, t},                // d
      {0, mid + t, t, h - t - (mid + t)},      // e
      {0, t, t, mid - t},                      // f
      {t, mid, w - 2 * t, t},                  // g
  }};
}

uint8_t TestPattern::segment_mask(int digit) {
  constexpr std::array<uint8_t, 10> kMasks = {0x3F, 0x06, 0x5B, 0x4F, 0x66,
                                              0x6D, 0x7D, 0x07, 0x7F, 0x6F};
  return digit >= 0 && digit <= 9 ? kMasks[static_cast<size_t>(digit)] : 0;
}

void TestPattern::render(uint16_t w, uint16_t h, uint32_t sequence, int64_t time_ms) {
  rgb_.resize(static_cast<size_t>(w) * h * 3);
  auto put = [&](int x, int y, Rgb c) {
    uint8_t* p = &rgb_[(static_cast<size_t>(y) * w + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  };
  auto fill = [&](Rect r, Rgb c) {
    int x0 = std::max(0, r.x), y0 = std::max(0, r.y);
    int x1 = std::min<int>(w, r.x + r.w), y1 = std::min<int>(h, r.y + r.h);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        put(x, y, c);
  };

  Layout l = layout(w, h);
  int bars_h = h * 35 / 100;
  int middle_h = l.panel.y - bars_h;

  // Colour bars on top, then a gradient scrolling sideways by a few pixels a frame.
  for (int y = 0; y < bars_h; ++y)
    for (int x = 0; x < w; ++x)
      put(x, y, kBars[static_cast<size_t>(x * 8 / w)]);
  int shift = static_cast<int>((sequence * 3u) % 512u);
  for (int y = bars_h; y < l.panel.y; ++y) {
    int v = (y - bars_h) * 255 / std::max(1, middle_h);
    for (int x = 0; x < w; ++x) {
      int u = (x * 511 / w + shift) % 512;
      int ramp = u < 256 ? u : 511 - u;
      put(x, y, {clamp8(ramp), clamp8(v), clamp8(255 - ramp / 2 - v / 2)});
    }
  }

  // A checkered box bouncing around the middle band.
  int side = std::max(8, std::min<int>(middle_h * 3 / 4, w / 3));
  int bx = bounce(sequence, std::max(1, w / 60), w - side);
  int by = bars_h + bounce(sequence, std::max(1, middle_h / 25), middle_h - side);
  int cell = std::max(2, side / 8);
  for (int y = std::max(0, by); y < std::min<int>(by + side, l.panel.y); ++y)
    for (int x = bx; x < bx + side; ++x) {
      bool light = (((x - bx) / cell) + ((y - by) / cell)) % 2 == 0;
      put(x, y, light ? Rgb{235, 235, 235} : Rgb{20, 40, 120});
    }

  // Sensor-like luminance noise over the picture (not over the digits' panel), new every frame.
  if (config_.noise > 0) {
    uint32_t s = config_.seed * 2654435761u ^ (sequence + 1) * 40503u;
    if (s == 0) s = 1;
    int span = 2 * config_.noise + 1;
    for (size_t i = 0; i < static_cast<size_t>(l.panel.y) * w; ++i) {
      int n = static_cast<int>(xorshift(s) % static_cast<uint32_t>(span)) - config_.noise;
      uint8_t* p = &rgb_[i * 3];
      p[0] = clamp8(p[0] + n);
      p[1] = clamp8(p[1] + n);
      p[2] = clamp8(p[2] + n);
    }
  }

  // The panel and the digits: black on light grey.
  fill(l.panel, {224, 224, 224});
  auto draw_number = [&](const DigitRow& row, uint64_t value) {
    for (int i = row.count - 1; i >= 0; --i) {
      uint8_t mask = segment_mask(static_cast<int>(value % 10));
      value /= 10;
      Rect c = row.cell(i);
      auto segs = segments(row.digit_w, row.digit_h);
      for (size_t k = 0; k < segs.size(); ++k)
        if (mask & (1u << k))
          fill({c.x + segs[k].x, c.y + segs[k].y, segs[k].w, segs[k].h}, {0, 0, 0});
    }
  };
  draw_number(l.sequence, sequence % 100'000'000u);
  draw_number(l.time_ms, static_cast<uint64_t>(std::max<int64_t>(0, time_ms)) % 1'000'000'000u);
}

}  // namespace cellrtc::device
