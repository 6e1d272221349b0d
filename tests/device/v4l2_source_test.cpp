// No camera exists where these tests run: they check the decisions (formats, capabilities,
// which dequeued buffer wins) and the error paths of opening something that is not a camera.
// The ioctl sequence itself (S_FMT, mmap buffers, STREAMON, DQBUF/QBUF) needs a UVC webcam.
#include "device/v4l2_source.h"

#include <gtest/gtest.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <unistd.h>

#include "device/test_jpegs.h"

namespace cellrtc::device {
namespace {

TEST(V4l2Formats, FourccText) {
  EXPECT_EQ(fourcc_text(V4L2_PIX_FMT_MJPEG), "MJPG");
  EXPECT_EQ(fourcc_text(V4L2_PIX_FMT_YUYV), "YUYV");
  EXPECT_EQ(fourcc_text(V4L2_PIX_FMT_GREY), "GREY");
  EXPECT_EQ(fourcc_text(0x01020304), "????");
}

TEST(V4l2Formats, PrefersMjpegThenJpeg) {
  std::vector<V4l2Format> both = {{V4L2_PIX_FMT_YUYV, "YUYV 4:2:2"},
                                  {V4L2_PIX_FMT_JPEG, "JFIF JPEG"},
                                  {V4L2_PIX_FMT_MJPEG, "Motion-JPEG"}};
  auto f = choose_jpeg_format("/dev/video0", both);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, uint32_t{V4L2_PIX_FMT_MJPEG});
  auto jpeg = choose_jpeg_format("/dev/video0", {{V4L2_PIX_FMT_JPEG, "JFIF JPEG"}});
  ASSERT_TRUE(jpeg.ok());
  EXPECT_EQ(*jpeg, uint32_t{V4L2_PIX_FMT_JPEG});
}

TEST(V4l2Formats, NamesTheDeviceAndWhatItOffersWithoutMjpeg) {
  auto f = choose_jpeg_format("/dev/video2",
                              {{V4L2_PIX_FMT_YUYV, "YUYV 4:2:2"}, {V4L2_PIX_FMT_H264, "H.264"}});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::unsupported);
  EXPECT_EQ(f.error().message,
            "v4l2 /dev/video2: does not offer MJPEG; it offers YUYV (YUYV 4:2:2), H264 (H.264)");
  auto none = choose_jpeg_format("/dev/video3", {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message,
            "v4l2 /dev/video3: does not offer MJPEG; it offers no capture formats");
}

TEST(V4l2Formats, NeedsCaptureAndStreaming) {
  EXPECT_TRUE(
      check_capture_capabilities("/dev/video0", "cam", V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)
          .ok());
  auto meta = check_capture_capabilities("/dev/video1", "HD Webcam",
                                         V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING);
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.error().message, "v4l2 /dev/video1 (HD Webcam): not a video capture device");
  auto read_only =
      check_capture_capabilities("/dev/video0", "", V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_READWRITE);
  ASSERT_FALSE(read_only.ok());
  EXPECT_EQ(read_only.error().message, "v4l2 /dev/video0: does not support streaming I/O (mmap)");
}

TEST(V4l2Drain, NewestWholeJpegWins) {
  auto jpegs = testing::small_jpegs(3);
  Bytes truncated(jpegs[2].begin(), jpegs[2].begin() + static_cast<long>(jpegs[2].size() / 2));
  Bytes padded = jpegs[1];
  padded.resize(padded.size() + 4096, 0);  // UVC buffers hold more than the image
  // Oldest first: a whole frame, a padded whole frame, a flagged one, a truncated one.
  std::vector<DequeuedFrame> drained = {
      {jpegs[0], false}, {padded, false}, {jpegs[2], true}, {truncated, false}};
  NewestJpeg pick = pick_newest_jpeg(drained);
  ASSERT_TRUE(pick.index);
  EXPECT_EQ(*pick.index, 1u);
  EXPECT_EQ(pick.info.size, jpegs[1].size());
  EXPECT_EQ(pick.info.width, 160);
  EXPECT_EQ(pick.superseded, 1u);
  ASSERT_EQ(pick.broken.size(), 2u);
  EXPECT_EQ(pick.broken[0], "JPEG without EOI");
  EXPECT_EQ(pick.broken[1], "the driver flagged a buffer error");

  std::vector<DequeuedFrame> newest_good = {{truncated, false}, {jpegs[0], false}};
  pick = pick_newest_jpeg(newest_good);
  ASSERT_TRUE(pick.index);
  EXPECT_EQ(*pick.index, 1u);
  EXPECT_EQ(pick.superseded, 1u);  // older frames are not examined
  EXPECT_TRUE(pick.broken.empty());

  std::vector<DequeuedFrame> all_broken = {{truncated, false}, {ByteView(), false}};
  pick = pick_newest_jpeg(all_broken);
  EXPECT_FALSE(pick.index);
  EXPECT_EQ(pick.broken.size(), 2u);
  EXPECT_FALSE(pick_newest_jpeg({}).index);
}

TEST(V4l2Source, MissingDevice) {
  auto s = V4l2Source::open({.device = "/dev/video-cellrtc-none"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_EQ(s.error().message,
            "v4l2 /dev/video-cellrtc-none: cannot open: No such file or directory");
}

TEST(V4l2Source, DevNullIsNotACamera) {
  auto s = V4l2Source::open({.device = "/dev/null"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unsupported);
  EXPECT_EQ(s.error().message,
            "v4l2 /dev/null: not a V4L2 device (VIDIOC_QUERYCAP: Inappropriate ioctl for device)");
}

TEST(V4l2Source, RegularFileAndDirectoryAreNotCameras) {
  char path[] = "/tmp/cellrtc-v4l2-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto file = V4l2Source::open({.device = path});
  ::unlink(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("not a V4L2 device"), std::string::npos)
      << file.error().message;

  auto dir = V4l2Source::open({.device = "/tmp"});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().message, "v4l2 /tmp: cannot open: Is a directory");
}

}  // namespace
}  // namespace cellrtc::device
