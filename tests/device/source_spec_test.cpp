#include "device/source_spec.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "core/media/jpeg_info.h"

namespace cellrtc::device {
namespace {

using Kind = SourceSpec::Kind;

SourceSpec parsed(std::string_view text) {
  auto s = parse_source_spec(text);
  EXPECT_TRUE(s.ok()) << text << ": " << (s.ok() ? "" : s.error().message);
  return s.ok() ? *s : SourceSpec{};
}

std::string error_of(std::string_view text) {
  auto s = parse_source_spec(text);
  EXPECT_FALSE(s.ok()) << text;
  return s.ok() ? "" : s.error().message;
}

TEST(SourceSpec, Parses) {
  EXPECT_EQ(parsed("testpattern"), (SourceSpec{Kind::test_pattern, "", 640, 480}));
  EXPECT_EQ(parsed("testpattern:320x240"), (SourceSpec{Kind::test_pattern, "", 320, 240}));
  EXPECT_EQ(parsed("v4l2:/dev/video0"), (SourceSpec{Kind::v4l2, "/dev/video0", 640, 480}));
  EXPECT_EQ(parsed("v4l2:/dev/video2@1280x720"),
            (SourceSpec{Kind::v4l2, "/dev/video2", 1280, 720}));
  EXPECT_EQ(parsed("dir:/srv/frames"), (SourceSpec{Kind::directory, "/srv/frames", 640, 480}));
  EXPECT_EQ(parsed("dir:a:b"), (SourceSpec{Kind::directory, "a:b", 640, 480}));
  EXPECT_EQ(parsed("stdin"), (SourceSpec{Kind::stdin_stream, "", 640, 480}));
}

TEST(SourceSpec, RejectsWithAReason) {
  const std::string expected =
      "expected testpattern[:WxH], v4l2:/dev/videoN[@WxH], dir:PATH or stdin";
  EXPECT_EQ(error_of(""), "no source given; " + expected);
  EXPECT_EQ(error_of("webcam"), "source \"webcam\": unknown; " + expected);
  EXPECT_EQ(error_of("stdin:x"), "source \"stdin:x\": unknown; " + expected);
  EXPECT_EQ(error_of("TestPattern"), "source \"TestPattern\": unknown; " + expected);
  EXPECT_EQ(error_of("testpattern:640"),
            "source \"testpattern:640\": the size must be WxH, e.g. testpattern:640x480");
  EXPECT_NE(error_of("testpattern:0x480").find("WxH"), std::string::npos);
  EXPECT_NE(error_of("testpattern:640x480x2").find("WxH"), std::string::npos);
  EXPECT_NE(error_of("testpattern:99999x480").find("WxH"), std::string::npos);
  EXPECT_NE(error_of("testpattern:-640x480").find("WxH"), std::string::npos);
  EXPECT_EQ(error_of("v4l2:"), "source \"v4l2:\": name the device, e.g. v4l2:/dev/video0");
  EXPECT_NE(error_of("v4l2:/dev/video0@big").find("WxH"), std::string::npos);
  EXPECT_EQ(error_of("dir:"), "source \"dir:\": name the directory, e.g. dir:/srv/frames");
}

TEST(SourceSpec, OpensSources) {
  auto tp = open_source("testpattern:320x240");
  ASSERT_TRUE(tp.ok()) << tp.error().message;
  EXPECT_EQ((*tp)->name(), "testpattern 320x240");
  auto frame = (*tp)->next(Instant(), CaptureSettings{});
  ASSERT_TRUE(frame.ok());
  auto info = media::inspect_jpeg(frame->jpeg());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->width, 320);

  auto small = open_source("testpattern:16x16");
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("size must be between"), std::string::npos);

  auto cam = open_source("v4l2:/dev/null");
  ASSERT_FALSE(cam.ok());
  EXPECT_NE(cam.error().message.find("not a V4L2 device"), std::string::npos);

  auto dir = open_source("dir:/nonexistent/cellrtc");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("cannot list"), std::string::npos);

  auto in = open_source("stdin");
  if (::fcntl(0, F_GETFL) >= 0) {
    ASSERT_TRUE(in.ok()) << in.error().message;
    EXPECT_EQ((*in)->name(), "stdin");
    EXPECT_EQ((*in)->poll_fd(), 0);
  } else {  // run with stdin closed
    ASSERT_FALSE(in.ok());
    EXPECT_EQ(in.error().message, "stdin: fcntl: Bad file descriptor");
  }

  EXPECT_FALSE(open_source("bogus").ok());
}

}  // namespace
}  // namespace cellrtc::device
