// A synthetic camera: real JPEG frames made with libturbojpeg from a moving picture (colour
// bars, a scrolling gradient, a bouncing checkered box, sensor-like noise) with the frame's
// sequence number and capture time in milliseconds burned in as large seven-segment digits.
// Noise and detail are chosen so frame sizes resemble an OV2640's at 640x480 (about 10-40 KB
// over the qualities the rate controller uses; docs/benchmarks.md). Quality and size are taken
// from CaptureSettings on every frame.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "device/frame_source.h"

namespace cellrtc::device {

struct TestPatternConfig {
  uint16_t width = 640;  // used when CaptureSettings asks for no size
  uint16_t height = 480;
  // Peak amplitude of the per-pixel noise (0..64): most of what makes a frame's size.
  int noise = 5;
  uint32_t seed = 1;
};

class TestPattern : public FrameSource {
 public:
  static constexpr uint16_t kMinWidth = 64;
  static constexpr uint16_t kMinHeight = 48;
  static constexpr uint16_t kMaxSide = 4096;
  static constexpr int kSequenceDigits = 8;  // the sequence number, modulo 10^8
  static constexpr int kTimeDigits = 9;      // capture time in ms, modulo 10^9

  static SourceResult<std::unique_ptr<TestPattern>> create(TestPatternConfig config = {});
  ~TestPattern() override;

  SourceResult<CapturedFrame> next(Instant now, const CaptureSettings& settings) override;
  const std::string& name() const override { return name_; }

  // Where the digits are, so a test (or a viewer-side check) can read them back.
  struct Rect {
    int x = 0, y = 0, w = 0, h = 0;
  };
  struct DigitRow {
    int x = 0, y = 0;  // top left of the first digit
    int digit_w = 0, digit_h = 0, pitch = 0;
    int count = 0;
    Rect cell(int i) const { return {x + i * pitch, y, digit_w, digit_h}; }
  };
  struct Layout {
    DigitRow sequence;
    DigitRow time_ms;
    Rect panel;  // the plain background the digits sit on (no noise, nothing moving)
  };
  static Layout layout(uint16_t width, uint16_t height);
  // Segments a..g of a seven-segment digit of the given size, relative to its cell.
  static std::array<Rect, 7> segments(int digit_w, int digit_h);
  // Bit i set: segment i (a..g) is lit for `digit` (0..9).
  static uint8_t segment_mask(int digit);

 private:
  struct Encoder;
  explicit TestPattern(TestPatternConfig config, std::unique_ptr<Encoder> encoder);
  void render(uint16_t width, uint16_t height, uint32_t sequence, int64_t time_ms);

  TestPatternConfig config_;
  std::unique_ptr<Encoder> encoder_;
  std::string name_;
  std::vector<uint8_t> rgb_;
  uint32_t sequence_ = 0;
};

}  // namespace cellrtc::device
