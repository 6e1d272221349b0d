#include "device/directory_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/media/jpeg_info.h"
#include "device/test_jpegs.h"

namespace cellrtc::device {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cellrtc-dir-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void write(const std::string& name, ByteView bytes) const {
    std::ofstream f(path_ + "/" + name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }

 private:
  std::string path_;
};

std::vector<std::string> drain_notes(FrameSource& s) {
  std::vector<std::string> notes;
  while (auto n = s.poll_note())
    notes.push_back(*n);
  return notes;
}

TEST(DirectorySource, PlaysGoodFilesInNameOrderAndSkipsBrokenOnes) {
  auto jpegs = testing::small_jpegs(3);
  ASSERT_EQ(jpegs.size(), 3u);
  TempDir dir;
  dir.write("b.jpg", jpegs[1]);
  dir.write("a.jpg", jpegs[0]);
  dir.write("c.jpg", jpegs[2]);
  Bytes truncated(jpegs[0].begin(), jpegs[0].begin() + static_cast<long>(jpegs[0].size() / 2));
  dir.write("d-truncated.jpg", truncated);
  dir.write("e-notes.txt", as_bytes("not a picture\n"));
  dir.write("f-empty.jpg", {});
  fs::create_directory(dir.path() + "/subdir");

  auto source = DirectorySource::open(dir.path());
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto& s = **source;
  EXPECT_EQ(s.name(), "dir " + dir.path());
  ASSERT_EQ(s.files().size(), 3u);
  EXPECT_EQ(s.stats().skipped, 3u);
  auto notes = drain_notes(s);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_NE(notes[0].find("d-truncated.jpg: JPEG without EOI"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("e-notes.txt: no JPEG SOI"), std::string::npos) << notes[1];
  EXPECT_NE(notes[2].find("f-empty.jpg: empty file"), std::string::npos) << notes[2];
  for (const auto& n : notes)
    EXPECT_EQ(n.find('\n'), std::string::npos);

  // a, b, c, a, b, c: in a loop, byte for byte, with size and capture time.
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < 3; ++i) {
      Instant t = Instant::from_us(round * 1000 + static_cast<int64_t>(i));
      auto frame = s.next(t, CaptureSettings{});
      ASSERT_TRUE(frame.ok()) << frame.error().message;
      EXPECT_TRUE(
          std::equal(frame->jpeg().begin(), frame->jpeg().end(), jpegs[i].begin(), jpegs[i].end()));
      EXPECT_EQ(frame->width, 160);
      EXPECT_EQ(frame->height, 120);
      EXPECT_EQ(frame->quality, 0);
      EXPECT_EQ(frame->capture_time, t);
    }
  EXPECT_EQ(s.stats().frames, 6u);
}

TEST(DirectorySource, DropsAFileThatBreaksWhilePlaying) {
  auto jpegs = testing::small_jpegs(2);
  TempDir dir;
  dir.write("1.jpg", jpegs[0]);
  dir.write("2.jpg", jpegs[1]);
  auto source = DirectorySource::open(dir.path());
  ASSERT_TRUE(source.ok());
  auto& s = **source;
  ASSERT_TRUE(s.next(Instant(), CaptureSettings{}).ok());
  dir.write("2.jpg", as_bytes("garbage"));
  auto frame = s.next(Instant(), CaptureSettings{});
  ASSERT_TRUE(frame.ok());  // 1.jpg again
  EXPECT_EQ(frame->jpeg().size(), jpegs[0].size());
  EXPECT_EQ(s.files().size(), 1u);
  auto notes = drain_notes(s);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("2.jpg: no JPEG SOI"), std::string::npos) << notes[0];

  fs::remove(dir.path() + "/1.jpg");
  auto gone = s.next(Instant(), CaptureSettings{});
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().fatal);
  EXPECT_NE(gone.error().message.find("no usable JPEG"), std::string::npos);
}

TEST(DirectorySource, FailsWhenNothingIsUsable) {
  TempDir dir;
  dir.write("readme.txt", as_bytes("hello"));
  auto source = DirectorySource::open(dir.path());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.error().message, "dir " + dir.path() + ": no usable JPEG file among 1 entries");

  TempDir empty;
  EXPECT_FALSE(DirectorySource::open(empty.path()).ok());

  auto missing = DirectorySource::open("/nonexistent/cellrtc-frames");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("dir /nonexistent/cellrtc-frames: cannot list"),
            std::string::npos)
      << missing.error().message;
}

TEST(DirectorySource, SkipsFilesOverTheSizeLimit) {
  auto jpegs = testing::small_jpegs(1);
  TempDir dir;
  dir.write("big.jpg", jpegs[0]);
  auto source = DirectorySource::open(dir.path(), 100);
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message.find("no usable JPEG"), std::string::npos);
}

TEST(DirectorySource, DropsBytesAfterEoi) {
  auto jpegs = testing::small_jpegs(1);
  Bytes padded = jpegs[0];
  padded.insert(padded.end(), 100, 0);
  TempDir dir;
  dir.write("padded.jpg", padded);
  auto source = DirectorySource::open(dir.path());
  ASSERT_TRUE(source.ok());
  auto frame = (*source)->next(Instant(), CaptureSettings{});
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->jpeg().size(), jpegs[0].size());
}

}  // namespace
}  // namespace cellrtc::device
