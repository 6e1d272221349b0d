#include "device/test_pattern.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cstdlib>
#include <optional>
#include <vector>

#include "core/media/frame_header.h"
#include "core/media/jpeg_info.h"

namespace cellrtc::device {
namespace {

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  int luma(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000;
  }
};

std::optional<Decoded> decode(ByteView jpeg) {
  tjhandle h = tjInitDecompress();
  if (!h) return std::nullopt;
  Decoded d;
  int subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(h, jpeg.data(), jpeg.size(), &d.width, &d.height, &subsamp,
                          &colorspace) != 0) {
    tjDestroy(h);
    return std::nullopt;
  }
  d.rgb.resize(static_cast<size_t>(d.width) * d.height * 3);
  int rc =
      tjDecompress2(h, jpeg.data(), jpeg.size(), d.rgb.data(), d.width, 0, d.height, TJPF_RGB, 0);
  tjDestroy(h);
  if (rc != 0) return std::nullopt;
  return d;
}

// Reads the seven-segment digits of a row back from a decoded frame: each segment's centre is
// dark when lit. -1 when a digit's pattern is no digit.
int64_t read_row(const Decoded& d, const TestPattern::DigitRow& row) {
  int64_t value = 0;
  auto segs = TestPattern::segments(row.digit_w, row.digit_h);
  for (int i = 0; i < row.count; ++i) {
    auto cell = row.cell(i);
    uint8_t mask = 0;
    for (size_t k = 0; k < segs.size(); ++k) {
      int cx = cell.x + segs[k].x + segs[k].w / 2;
      int cy = cell.y + segs[k].y + segs[k].h / 2;
      if (d.luma(cx, cy) < 100) mask |= static_cast<uint8_t>(1u << k);
    }
    int digit = -1;
    for (int v = 0; v <= 9; ++v)
      if (TestPattern::segment_mask(v) == mask) digit = v;
    if (digit < 0) return -1;
    value = value * 10 + digit;
  }
  return value;
}

std::unique_ptr<TestPattern> make(TestPatternConfig config = {}) {
  auto p = TestPattern::create(config);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(p).value() : nullptr;
}

TEST(TestPattern, FramesAreValidJpegsThatDecode) {
  auto pattern = make();
  ASSERT_TRUE(pattern);
  EXPECT_EQ(pattern->name(), "testpattern 640x480");
  for (int i = 0; i < 3; ++i) {
    auto frame = pattern->next(Instant::from_us(i * 100'000), CaptureSettings{});
    ASSERT_TRUE(frame.ok()) << frame.error().message;
    auto info = media::inspect_jpeg(frame->jpeg());
    ASSERT_TRUE(info.ok()) << info.error().reason;
    EXPECT_EQ(info->size, frame->jpeg().size());
    EXPECT_EQ(info->width, 640);
    EXPECT_EQ(info->height, 480);
    EXPECT_EQ(info->components, 3);
    auto decoded = decode(frame->jpeg());
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->width, 640);
    EXPECT_EQ(decoded->height, 480);
    EXPECT_EQ(frame->width, 640);
    EXPECT_EQ(frame->height, 480);
    EXPECT_EQ(frame->quality, 50);
    EXPECT_EQ(frame->flags, media::frame_flags::kTestPattern);
    EXPECT_EQ(frame->capture_time, Instant::from_us(i * 100'000));
  }
  EXPECT_EQ(pattern->stats().frames, 3u);
}

TEST(TestPattern, SizeAndQualityComeFromEachFramesSettings) {
  auto pattern = make();
  ASSERT_TRUE(pattern);
  CaptureSettings s;
  s.width = 320;
  s.height = 240;
  s.quality = 30;
  auto small = pattern->next(Instant::from_us(0), s);
  ASSERT_TRUE(small.ok());
  auto info = media::inspect_jpeg(small->jpeg());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->width, 320);
  EXPECT_EQ(info->height, 240);
  EXPECT_EQ(small->quality, 30);

  // Same picture size, higher quality: a bigger image.
  s.quality = 90;
  auto fine = pattern->next(Instant::from_us(0), s);
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->quality, 90);
  EXPECT_GT(fine->jpeg().size(), small->jpeg().size() * 3 / 2);

  s.width = 1280;
  s.height = 720;
  auto hd = pattern->next(Instant::from_us(0), s);
  ASSERT_TRUE(hd.ok());
  auto decoded = decode(hd->jpeg());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->width, 1280);
  EXPECT_EQ(decoded->height, 720);
}

TEST(TestPattern, RejectsSizesItCannotDraw) {
  auto bad = TestPattern::create({.width = 32, .height = 480});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("32x480"), std::string::npos) << bad.error().message;

  auto pattern = make();
  CaptureSettings s;
  s.width = 5000;
  s.height = 480;
  auto frame = pattern->next(Instant(), s);
  ASSERT_FALSE(frame.ok());
  EXPECT_FALSE(frame.error().fatal);
  EXPECT_TRUE(pattern->next(Instant(), CaptureSettings{}).ok());
}

TEST(TestPattern, BurnsInSequenceAndCaptureTime) {
  auto pattern = make();
  ASSERT_TRUE(pattern);
  auto l = TestPattern::layout(640, 480);
  for (uint32_t i = 0; i < 12; ++i) {
    Instant t = Instant::from_us(1'234'567'000 + int64_t{i} * 66'667);
    auto frame = pattern->next(t, CaptureSettings{});
    ASSERT_TRUE(frame.ok());
    auto d = decode(frame->jpeg());
    ASSERT_TRUE(d);
    EXPECT_EQ(read_row(*d, l.sequence), i);
    EXPECT_EQ(read_row(*d, l.time_ms), t.us() / 1000);
  }
}

TEST(TestPattern, SequenceDigitsDifferBetweenFramesAndNothingElseDrawsThere) {
  auto a = make();
  auto b = make();
  ASSERT_TRUE(a && b);
  auto l = TestPattern::layout(640, 480);
  auto region_diff = [&](const Decoded& x, const Decoded& y) {
    long sum = 0;
    for (int row = l.sequence.y; row < l.sequence.y + l.sequence.digit_h; ++row)
      for (int col = l.sequence.x; col < l.sequence.x + l.sequence.count * l.sequence.pitch; ++col)
        sum += std::abs(x.luma(col, row) - y.luma(col, row));
    return sum;
  };
  auto a0 = a->next(Instant::from_us(0), CaptureSettings{});
  auto a1 = a->next(Instant::from_us(66'667), CaptureSettings{});
  auto b0 = b->next(Instant::from_us(5'000'000), CaptureSettings{});
  ASSERT_TRUE(a0.ok() && a1.ok() && b0.ok());
  auto da0 = decode(a0->jpeg()), da1 = decode(a1->jpeg()), db0 = decode(b0->jpeg());
  ASSERT_TRUE(da0 && da1 && db0);
  // Frame 0 of two patterns at different times: the sequence region is the same picture.
  EXPECT_LT(region_diff(*da0, *db0), 2000);
  // Frames 0 and 1: digit "0" becomes "1", whole segments change.
  EXPECT_GT(region_diff(*da0, *da1), 50'000);
}

TEST(TestPattern, FrameSizesLookLikeAnOv2640AtVga) {
  auto pattern = make();
  ASSERT_TRUE(pattern);
  auto mean_size = [&](int quality) {
    size_t sum = 0;
    for (int i = 0; i < 5; ++i) {
      CaptureSettings s;
      s.quality = quality;
      auto frame = pattern->next(Instant::from_us(i * 66'667), s);
      EXPECT_TRUE(frame.ok());
      sum += frame.ok() ? frame->jpeg().size() : 0;
    }
    return sum / 5;
  };
  size_t q25 = mean_size(25), q50 = mean_size(50), q80 = mean_size(80);
  EXPECT_GE(q25, 8'000u);
  EXPECT_LE(q25, 20'000u);
  EXPECT_GT(q50, q25);
  EXPECT_GT(q80, q50);
  EXPECT_LE(q80, 45'000u);
}

TEST(TestPattern, MessageCarriesHeaderInPlace) {
  auto pattern = make();
  ASSERT_TRUE(pattern);
  auto frame = pattern->next(Instant::from_us(42'000), CaptureSettings{});
  ASSERT_TRUE(frame.ok());
  const uint8_t* image = frame->jpeg().data();
  size_t image_size = frame->jpeg().size();
  Bytes message = std::move(frame).value().into_message(7, media::frame_flags::kSnapshot);
  // The image did not move: the header was written into the room left for it.
  EXPECT_EQ(message.data() + media::kFrameHeaderSize, image);
  auto parsed = media::parse_frame(message);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->header.sequence, 7u);
  EXPECT_EQ(parsed->header.capture_time_us, 42'000u);
  EXPECT_EQ(parsed->header.width, 640);
  EXPECT_EQ(parsed->header.height, 480);
  EXPECT_EQ(parsed->header.quality, 50);
  EXPECT_EQ(parsed->header.flags, media::frame_flags::kTestPattern | media::frame_flags::kSnapshot);
  EXPECT_EQ(parsed->jpeg.size(), image_size);
}

}  // namespace
}  // namespace cellrtc::device
