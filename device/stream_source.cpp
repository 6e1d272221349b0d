#include "device/stream_source.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

namespace cellrtc::device {

struct StreamSource::Extracted {
  std::optional<CapturedFrame> frame;
  std::optional<SourceError> error;
};

SourceResult<std::unique_ptr<StreamSource>> StreamSource::open(int fd, std::string name,
                                                               bool owns_fd,
                                                               StreamSourceConfig config) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    if (owns_fd && fd >= 0) ::close(fd);
    return SourceError{Errc::invalid_argument, name + ": fcntl: " + errno_text(e)};
  }
  config.read_size = std::max<size_t>(config.read_size, 512);
  config.max_frame_size = std::max<size_t>(config.max_frame_size, 64);
  return std::unique_ptr<StreamSource>(
      new StreamSource(fd, std::move(name), owns_fd, flags, config));
}

StreamSource::StreamSource(int fd, std::string name, bool owns_fd, int saved_flags,
                           StreamSourceConfig config)
    : fd_(fd),
      name_(std::move(name)),
      owns_fd_(owns_fd),
      saved_flags_(saved_flags),
      config_(config) {}

StreamSource::~StreamSource() {
  if (owns_fd_) {
    ::close(fd_);
  } else {
    ::fcntl(fd_, F_SETFL, saved_flags_);  // stdin is shared with the shell: leave it as found
  }
}

ByteView StreamSource::buffered() const {
  return ByteView(buffer_).subspan(start_);
}

void StreamSource::consume(size_t n) {
  start_ += n;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ >= config_.read_size) {
    // What is left is less than a frame: move it to the front rather than grow forever.
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
}

size_t StreamSource::skip_to_soi(size_t from) {
  ByteView data = buffered();
  size_t i = from;
  while (i + 1 < data.size() && !(data[i] == 0xFF && data[i + 1] == 0xD8))
    ++i;
  // Without an SOI, keep a final 0xFF: it may be the first half of one.
  if (i + 1 >= data.size())
    i = (!data.empty() && data.back() == 0xFF) ? data.size() - 1 : data.size();
  consume(i);
  return i;
}

StreamSource::Extracted StreamSource::extract(Instant capture_time) {
  while (true) {
    ByteView data = buffered();
    if (data.size() < 2) return {};
    if (data[0] != 0xFF || data[1] != 0xD8) {
      size_t skipped = skip_to_soi(0);
      garbage_bytes_ += skipped;
      note(name_ + ": skipped " + std::to_string(skipped) + " bytes that are not JPEG");
      continue;
    }
    auto length = media::next_jpeg_length(data);
    if (!length) {
      ++stats_.skipped;
      note(name_ + ": dropping a broken frame: " + length.error().reason);
      skip_to_soi(2);
      continue;
    }
    if (!*length) {
      if (data.size() <= config_.max_frame_size) return {};
      ++stats_.skipped;
      skip_to_soi(2);
      return {std::nullopt,
              SourceError{Errc::limit_exceeded,
                          name_ + ": a frame exceeds " + std::to_string(config_.max_frame_size) +
                              " bytes without ending; dropped, looking for the next one",
                          false}};
    }
    size_t n = **length;
    if (n > config_.max_frame_size) {
      ++stats_.skipped;
      consume(n);
      return {std::nullopt,
              SourceError{Errc::limit_exceeded,
                          name_ + ": a " + std::to_string(n) + "-byte frame exceeds the " +
                              std::to_string(config_.max_frame_size) + "-byte limit; dropped",
                          false}};
    }
    auto info = media::inspect_jpeg(data.first(n));
    if (!info) {
      ++stats_.skipped;
      note(name_ + ": dropping a broken frame: " + info.error().reason);
      consume(n);
      continue;
    }
    CapturedFrame frame = frame_from_jpeg(data, *info, capture_time);
    consume(n);
    ++stats_.frames;
    stats_.bytes += info->size;
    return {std::move(frame), std::nullopt};
  }
}

SourceResult<CapturedFrame> StreamSource::next(Instant now, const CaptureSettings& settings) {
  int64_t started = monotonic_us();
  int64_t deadline = started + std::max<int64_t>(0, settings.wait.count());
  while (true) {
    Instant at = now + Duration(monotonic_us() - started);
    Extracted got = extract(at);
    if (got.frame) return std::move(*got.frame);
    if (got.error) return std::move(*got.error);
    if (eof_) {
      if (!buffered().empty()) {
        note(name_ + ": stream ended inside a frame; " + std::to_string(buffered().size()) +
             " bytes dropped");
        consume(buffered().size());
      }
      return SourceError{Errc::not_found, name_ + ": end of stream"};
    }
    size_t old = buffer_.size();
    buffer_.resize(old + config_.read_size);
    ssize_t n = ::read(fd_, buffer_.data() + old, config_.read_size);
    int e = errno;
    buffer_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) continue;
    if (n == 0) {
      eof_ = true;
      continue;
    }
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK)
      return SourceError{Errc::invalid_state, name_ + ": read: " + errno_text(e)};
    int64_t left_us = deadline - monotonic_us();
    if (left_us <= 0) return SourceError{Errc::timeout, name_ + ": no complete frame yet", false};
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>((left_us + 999) / 1000));
    if (rc < 0 && errno != EINTR)
      return SourceError{Errc::invalid_state, name_ + ": poll: " + errno_text(errno)};
  }
}

}  // namespace cellrtc::device
