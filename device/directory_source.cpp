#include "device/directory_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace cellrtc::device {
namespace {

struct FileRead {
  Bytes data;         // kFrameHeaderSize bytes of room for the header, then the file
  std::string error;  // empty when read
  ByteView file() const {
    return data.size() < media::kFrameHeaderSize ? ByteView()
                                                 : ByteView(data).subspan(media::kFrameHeaderSize);
  }
};

// Reads a whole regular file of at most `max` bytes, behind room for the frame header so the
// buffer becomes the frame's message without a copy.
FileRead read_file(const std::string& path, size_t max) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = "cannot open: " + errno_text(errno);
    return r;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    r.error = "not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > max) {
    r.error = std::to_string(st.st_size) + " bytes, over the " + std::to_string(max) +
              "-byte frame limit";
  } else {
    size_t size = static_cast<size_t>(st.st_size);
    r.data.resize(media::kFrameHeaderSize + size);
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::read(fd, r.data.data() + media::kFrameHeaderSize + got, size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        r.error = n < 0 ? "read: " + errno_text(errno) : "file shrank while read";
        break;
      }
      got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return r;
}

// Why a file cannot be played, or empty when it can.
std::string check_file(const std::string& path, size_t max, FileRead& read, media::JpegInfo& info) {
  read = read_file(path, max);
  if (!read.error.empty()) return read.error;
  if (read.file().empty()) return "empty file";
  auto inspected = media::inspect_jpeg(read.file());
  if (!inspected) return inspected.error().reason;
  info = *inspected;
  return {};
}

}  // namespace

DirectorySource::DirectorySource(std::string path, size_t max_file_size)
    : path_(std::move(path)), name_("dir " + path_), max_file_size_(max_file_size) {}

SourceResult<std::unique_ptr<DirectorySource>> DirectorySource::open(std::string path,
                                                                     size_t max_file_size) {
  std::unique_ptr<DirectorySource> source(new DirectorySource(path, max_file_size));
  std::error_code ec;
  std::filesystem::directory_iterator it(path, ec);
  if (ec) return SourceError{Errc::not_found, source->name_ + ": cannot list: " + ec.message()};
  std::vector<std::string> entries;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return SourceError{Errc::not_found, source->name_ + ": cannot list: " + ec.message()};
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;
    entries.push_back(it->path().string());
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& file : entries) {
    FileRead read;
    media::JpegInfo info;
    std::string why = check_file(file, max_file_size, read, info);
    if (!why.empty()) {
      ++source->stats_.skipped;
      source->note(source->name_ + ": skipping " + file + ": " + why);
      continue;
    }
    source->files_.push_back(file);
  }
  if (source->files_.empty())
    return SourceError{Errc::not_found, source->name_ + ": no usable JPEG file among " +
                                            std::to_string(entries.size()) + " entries"};
  return source;
}

SourceResult<CapturedFrame> DirectorySource::next(Instant now, const CaptureSettings&) {
  while (!files_.empty()) {
    if (next_index_ >= files_.size()) next_index_ = 0;
    const std::string& file = files_[next_index_];
    FileRead read;
    media::JpegInfo info;
    std::string why = check_file(file, max_file_size_, read, info);
    if (!why.empty()) {
      // Changed or removed since the source opened: drop it from the loop.
      ++stats_.skipped;
      note(name_ + ": skipping " + file + ": " + why);
      files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(next_index_));
      continue;
    }
    ++next_index_;
    CapturedFrame frame;
    frame.message = std::move(read.data);
    frame.message.resize(media::kFrameHeaderSize + info.size);  // anything after EOI dropped
    frame.width = info.width;
    frame.height = info.height;
    frame.capture_time = now;
    ++stats_.frames;
    stats_.bytes += info.size;
    return frame;
  }
  return SourceError{Errc::not_found, name_ + ": no usable JPEG file left"};
}

}  // namespace cellrtc::device
