#include "device/stream_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "device/test_jpegs.h"

namespace cellrtc::device {
namespace {

struct Pipe {
  int read_end = -1, write_end = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    close_write();
    if (read_end >= 0) ::close(read_end);
  }
  void write(ByteView b) const {
    size_t done = 0;
    while (done < b.size()) {
      ssize_t n = ::write(write_end, b.data() + done, b.size() - done);
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }
  void close_write() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
};

CaptureSettings waiting(int ms) {
  CaptureSettings s;
  s.wait = milliseconds(ms);
  return s;
}

bool same(ByteView a, const Bytes& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(StreamSource, SplitsFramesWrittenInPieces) {
  auto jpegs = testing::small_jpegs(3);
  Pipe pipe;
  auto source = StreamSource::open(pipe.read_end, "stdin", false);
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto& s = **source;
  EXPECT_EQ(s.poll_fd(), pipe.read_end);

  // Nothing written yet: a timeout, not a failure.
  auto empty = s.next(Instant(), waiting(20));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Errc::timeout);
  EXPECT_FALSE(empty.error().fatal);

  // Frame 0 in three pieces, the last carrying the start of frame 1.
  const Bytes& f0 = jpegs[0];
  pipe.write(ByteView(f0).first(1));
  EXPECT_EQ(s.next(Instant(), waiting(10)).error().code, Errc::timeout);
  pipe.write(ByteView(f0).subspan(1, f0.size() / 2));
  EXPECT_EQ(s.next(Instant(), waiting(10)).error().code, Errc::timeout);
  pipe.write(ByteView(f0).subspan(1 + f0.size() / 2));
  pipe.write(ByteView(jpegs[1]).first(100));
  auto got0 = s.next(Instant::from_us(5000), waiting(100));
  ASSERT_TRUE(got0.ok()) << got0.error().message;
  EXPECT_TRUE(same(got0->jpeg(), f0));
  EXPECT_EQ(got0->width, 160);
  EXPECT_EQ(got0->height, 120);
  EXPECT_GE(got0->capture_time, Instant::from_us(5000));

  pipe.write(ByteView(jpegs[1]).subspan(100));
  pipe.write(jpegs[2]);
  auto got1 = s.next(Instant(), waiting(100));
  auto got2 = s.next(Instant(), waiting(100));
  ASSERT_TRUE(got1.ok() && got2.ok());
  EXPECT_TRUE(same(got1->jpeg(), jpegs[1]));
  EXPECT_TRUE(same(got2->jpeg(), jpegs[2]));

  pipe.close_write();
  auto end = s.next(Instant(), waiting(100));
  ASSERT_FALSE(end.ok());
  EXPECT_TRUE(end.error().fatal);
  EXPECT_EQ(end.error().message, "stdin: end of stream");
  EXPECT_EQ(s.stats().frames, 3u);
  EXPECT_FALSE(s.poll_note());
}

TEST(StreamSource, WaitsForAFrameWrittenLater) {
  auto jpegs = testing::small_jpegs(1);
  Pipe pipe;
  auto source = StreamSource::open(pipe.read_end, "pipe", false);
  ASSERT_TRUE(source.ok());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    pipe.write(jpegs[0]);
  });
  auto frame = (*source)->next(Instant::from_us(1'000'000), waiting(2000));
  writer.join();
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  // Stamped when it arrived, about 30 ms after the call began.
  EXPECT_GE(frame->capture_time, Instant::from_us(1'020'000));
}

TEST(StreamSource, SkipsGarbageAndBrokenFrames) {
  auto jpegs = testing::small_jpegs(3);
  Pipe pipe;
  auto source = StreamSource::open(pipe.read_end, "stdin", false);
  ASSERT_TRUE(source.ok());
  auto& s = **source;
  pipe.write(as_bytes("HTTP/1.0 200 OK\r\n--boundary\r\n\r\n"));
  pipe.write(jpegs[0]);
  pipe.write(as_bytes("\r\n--boundary\r\n\r\n"));
  // A frame cut short inside its headers, then straight into the next frame.
  pipe.write(ByteView(jpegs[1]).first(40));
  pipe.write(jpegs[2]);
  pipe.close_write();

  auto a = s.next(Instant(), waiting(100));
  auto b = s.next(Instant(), waiting(100));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(same(a->jpeg(), jpegs[0]));
  EXPECT_TRUE(same(b->jpeg(), jpegs[2]));
  EXPECT_FALSE(s.next(Instant(), waiting(100)).ok());
  EXPECT_EQ(s.garbage_bytes(), 31u + 16u);
  EXPECT_EQ(s.stats().skipped, 1u);
  std::vector<std::string> notes;
  while (auto n = s.poll_note())
    notes.push_back(*n);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[0], "stdin: skipped 31 bytes that are not JPEG");
  EXPECT_EQ(notes[1], "stdin: skipped 16 bytes that are not JPEG");
  EXPECT_NE(notes[2].find("stdin: dropping a broken frame"), std::string::npos) << notes[2];
}

TEST(StreamSource, OversizedFrameIsAnErrorAndTheStreamGoesOn) {
  auto jpegs = testing::small_jpegs(2, 90);
  ASSERT_GT(jpegs[0].size(), 4000u);
  Pipe pipe;
  auto source = StreamSource::open(pipe.read_end, "stdin", false,
                                   {.max_frame_size = 2000, .read_size = 1024});
  ASSERT_TRUE(source.ok());
  auto& s = **source;
  // A frame that never ends (no EOI): grows past the limit.
  Bytes endless(jpegs[0].begin(), jpegs[0].end() - 2);
  pipe.write(endless);
  Bytes small = testing::small_jpegs(1, 5)[0];
  ASSERT_LT(small.size(), 2000u);
  pipe.write(small);

  auto over = s.next(Instant(), waiting(100));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::limit_exceeded);
  EXPECT_FALSE(over.error().fatal);
  EXPECT_NE(over.error().message.find("stdin: a frame exceeds 2000 bytes"), std::string::npos)
      << over.error().message;
  auto after = s.next(Instant(), waiting(100));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_TRUE(same(after->jpeg(), small));
}

TEST(StreamSource, DefaultLimitIsFourMebibytes) {
  // A 5 MiB "frame" (SOI, a huge APP segment chain, no end) through a pipe from a thread.
  Pipe pipe;
  auto source = StreamSource::open(pipe.read_end, "stdin", false);
  ASSERT_TRUE(source.ok());
  std::thread writer([&] {
    Bytes big{0xFF, 0xD8};
    while (big.size() < 5 * 1024 * 1024) {
      big.insert(big.end(), {0xFF, 0xE1, 0xFF, 0xFF});
      big.resize(big.size() + 0xFFFD, 0x55);
    }
    pipe.write(big);
    pipe.close_write();
  });
  SourceResult<CapturedFrame> r = SourceError{};
  for (int i = 0; i < 1000; ++i) {
    r = (*source)->next(Instant(), waiting(1000));
    if (r.ok() || r.error().code != Errc::timeout) break;
  }
  // Read the rest (skipped: no SOI follows) so the writer can finish.
  for (int i = 0; i < 1000; ++i) {
    auto rest = (*source)->next(Instant(), waiting(1000));
    if (!rest.ok() && rest.error().fatal) break;
  }
  writer.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded) << r.error().message;
  EXPECT_NE(r.error().message.find(std::to_string(kMaxFrameSize)), std::string::npos);
}

TEST(StreamSource, BadDescriptor) {
  auto source = StreamSource::open(-1, "fd -1", false);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.error().message, "fd -1: fcntl: Bad file descriptor");
}

TEST(StreamSource, RestoresTheDescriptorsFlags) {
  Pipe pipe;
  int before = ::fcntl(pipe.read_end, F_GETFL);
  {
    auto source = StreamSource::open(pipe.read_end, "stdin", false);
    ASSERT_TRUE(source.ok());
    EXPECT_TRUE(::fcntl(pipe.read_end, F_GETFL) & O_NONBLOCK);
  }
  EXPECT_EQ(::fcntl(pipe.read_end, F_GETFL), before);
}

}  // namespace
}  // namespace cellrtc::device
