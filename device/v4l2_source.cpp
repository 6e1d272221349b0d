#include "device/v4l2_source.h"

#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/media/jpeg_info.h"
#include "device/jpeg_files.h"

namespace cellrtc::device {
namespace {

int xioctl(int fd, unsigned long request, void* arg) {
  int rc;
  do {
    rc = ::ioctl(fd, request, arg);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

std::string card_text(const uint8_t* card, size_t size) {
  return std::string(reinterpret_cast<const char*>(card),
                     strnlen(reinterpret_cast<const char*>(card), size));
}

}  // namespace

std::string fourcc_text(uint32_t f) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>((f >> (8 * i)) & 0xFF);
    s += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  return s;
}

SourceResult<uint32_t> choose_jpeg_format(const std::string& device,
                                          const std::vector<V4l2Format>& offered) {
  for (uint32_t wanted : {uint32_t{V4L2_PIX_FMT_MJPEG}, uint32_t{V4L2_PIX_FMT_JPEG}})
    for (const auto& f : offered)
      if (f.fourcc == wanted) return wanted;
  std::string list;
  for (const auto& f : offered) {
    if (!list.empty()) list += ", ";
    list += fourcc_text(f.fourcc);
    if (!f.description.empty()) list += " (" + f.description + ")";
  }
  return SourceError{
      Errc::unsupported,
      "v4l2 " + device + ": does not offer MJPEG; " +
          (list.empty() ? std::string("it offers no capture formats") : "it offers " + list)};
}

SourceResult<bool> check_capture_capabilities(const std::string& device, const std::string& card,
                                              uint32_t caps) {
  std::string who = "v4l2 " + device + (card.empty() ? "" : " (" + card + ")");
  if (!(caps & V4L2_CAP_VIDEO_CAPTURE))
    return SourceError{Errc::unsupported, who + ": not a video capture device"};
  if (!(caps & V4L2_CAP_STREAMING))
    return SourceError{Errc::unsupported, who + ": does not support streaming I/O (mmap)"};
  return true;
}

NewestJpeg pick_newest_jpeg(std::span<const DequeuedFrame> frames) {
  NewestJpeg out;
  for (size_t i = frames.size(); i-- > 0;) {
    if (out.index) {
      ++out.superseded;
      continue;
    }
    auto info = media::inspect_jpeg(frames[i].bytes);
    if (!info) {
      out.broken.emplace_back(info.error().reason);
    } else if (frames[i].error_flag) {
      out.broken.emplace_back("the driver flagged a buffer error");
    } else {
      out.index = i;
      out.info = *info;
    }
  }
  return out;
}

V4l2Source::V4l2Source(V4l2Config config)
    : config_(std::move(config)), name_("v4l2 " + config_.device) {}

V4l2Source::~V4l2Source() {
  if (streaming_) {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(fd_, VIDIOC_STREAMOFF, &type);
  }
  for (auto& b : buffers_)
    if (b.data) ::munmap(b.data, b.length);
  if (fd_ >= 0) ::close(fd_);
}

SourceResult<bool> V4l2Source::fail(Errc code, const std::string& what, int err) const {
  return SourceError{code, name_ + ": " + what + ": " + errno_text(err)};
}

SourceResult<std::unique_ptr<V4l2Source>> V4l2Source::open(V4l2Config config) {
  std::unique_ptr<V4l2Source> source(new V4l2Source(std::move(config)));
  auto started = source->start();
  if (!started) return started.error();
  return source;
}

SourceResult<bool> V4l2Source::start() {
  const std::string& dev = config_.device;
  fd_ = ::open(dev.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0)
    return fail(errno == ENOENT ? Errc::not_found : Errc::invalid_argument, "cannot open", errno);

  v4l2_capability cap{};
  if (xioctl(fd_, VIDIOC_QUERYCAP, &cap) < 0)
    return SourceError{Errc::unsupported,
                       name_ + ": not a V4L2 device (VIDIOC_QUERYCAP: " + errno_text(errno) + ")"};
  std::string card = card_text(cap.card, sizeof cap.card);
  uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  auto capable = check_capture_capabilities(dev, card, caps);
  if (!capable) return capable.error();

  std::vector<V4l2Format> offered;
  for (uint32_t i = 0; i < 64; ++i) {
    v4l2_fmtdesc desc{};
    desc.index = i;
    desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd_, VIDIOC_ENUM_FMT, &desc) < 0) break;  // EINVAL ends the list
    offered.push_back({desc.pixelformat, card_text(desc.description, sizeof desc.description)});
  }
  auto format = choose_jpeg_format(dev, offered);
  if (!format) return format.error();

  v4l2_format fmt{};
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fmt.fmt.pix.width = config_.width;
  fmt.fmt.pix.height = config_.height;
  fmt.fmt.pix.pixelformat = *format;
  fmt.fmt.pix.field = V4L2_FIELD_ANY;
  if (xioctl(fd_, VIDIOC_S_FMT, &fmt) < 0) return fail(Errc::unsupported, "VIDIOC_S_FMT", errno);
  if (fmt.fmt.pix.pixelformat != *format)
    return SourceError{Errc::unsupported, name_ + ": the driver replaced " + fourcc_text(*format) +
                                              " with " + fourcc_text(fmt.fmt.pix.pixelformat)};
  width_ = static_cast<uint16_t>(std::min<uint32_t>(fmt.fmt.pix.width, 65535));
  height_ = static_cast<uint16_t>(std::min<uint32_t>(fmt.fmt.pix.height, 65535));
  if (width_ != config_.width || height_ != config_.height)
    note(name_ + ": asked for " + std::to_string(config_.width) + "x" +
         std::to_string(config_.height) + ", the camera gives " + std::to_string(width_) + "x" +
         std::to_string(height_));

  v4l2_requestbuffers req{};
  req.count = std::max<uint32_t>(2, config_.buffers);
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_MMAP;
  if (xioctl(fd_, VIDIOC_REQBUFS, &req) < 0)
    return fail(Errc::unsupported, "VIDIOC_REQBUFS", errno);
  if (req.count < 2)
    return SourceError{Errc::unsupported, name_ + ": the driver gave " + std::to_string(req.count) +
                                              " buffer(s), 2 needed"};
  buffers_.resize(req.count);
  for (uint32_t i = 0; i < req.count; ++i) {
    v4l2_buffer buf{};
    buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buf.memory = V4L2_MEMORY_MMAP;
    buf.index = i;
    if (xioctl(fd_, VIDIOC_QUERYBUF, &buf) < 0)
      return fail(Errc::invalid_state, "VIDIOC_QUERYBUF", errno);
    void* p = ::mmap(nullptr, buf.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, buf.m.offset);
    if (p == MAP_FAILED) return fail(Errc::invalid_state, "mmap", errno);
    buffers_[i] = {p, buf.length};
    if (xioctl(fd_, VIDIOC_QBUF, &buf) < 0) return fail(Errc::invalid_state, "VIDIOC_QBUF", errno);
  }
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (xioctl(fd_, VIDIOC_STREAMON, &type) < 0)
    return fail(Errc::invalid_state, "VIDIOC_STREAMON", errno);
  streaming_ = true;
  return true;
}

SourceResult<CapturedFrame> V4l2Source::next(Instant now, const CaptureSettings& settings) {
  int64_t started = monotonic_us();
  int64_t deadline = started + std::max<int64_t>(0, settings.wait.count());
  while (true) {
    int64_t left_us = deadline - monotonic_us();
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, (left_us + 999) / 1000)));
    if (rc < 0 && errno != EINTR)
      return SourceError{Errc::invalid_state, name_ + ": poll: " + errno_text(errno)};
    if (rc > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLIN))
      return SourceError{Errc::invalid_state, name_ + ": the device stopped (unplugged?)"};
    if (rc <= 0) {
      if (monotonic_us() >= deadline)
        return SourceError{Errc::timeout, name_ + ": no frame within the wait", false};
      continue;
    }

    // Drain: every filled buffer, oldest first.
    std::vector<v4l2_buffer> filled;
    while (true) {
      v4l2_buffer buf{};
      buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      buf.memory = V4L2_MEMORY_MMAP;
      if (xioctl(fd_, VIDIOC_DQBUF, &buf) < 0) {
        if (errno == EAGAIN) break;
        int e = errno;
        for (auto& b : filled)
          xioctl(fd_, VIDIOC_QBUF, &b);
        return SourceError{Errc::invalid_state, name_ + ": VIDIOC_DQBUF: " + errno_text(e)};
      }
      if (buf.index >= buffers_.size()) continue;
      filled.push_back(buf);
    }

    // Newest whole JPEG wins; its bytes are copied once, then every buffer goes back.
    std::vector<DequeuedFrame> views;
    for (const auto& buf : filled) {
      const Buffer& b = buffers_[buf.index];
      views.push_back(
          {ByteView(static_cast<const uint8_t*>(b.data), std::min<size_t>(buf.bytesused, b.length)),
           (buf.flags & V4L2_BUF_FLAG_ERROR) != 0});
    }
    NewestJpeg pick = pick_newest_jpeg(views);
    superseded_ += pick.superseded;
    stats_.skipped += pick.broken.size();
    for (const auto& why : pick.broken)
      note(name_ + ": skipped a broken frame: " + why);
    std::optional<CapturedFrame> chosen;
    if (pick.index) {
      const v4l2_buffer& buf = filled[*pick.index];
      Instant at = now + Duration(monotonic_us() - started);
      if ((buf.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
        // The driver's timestamp is on CLOCK_MONOTONIC: the frame is this much older than now.
        int64_t stamped = int64_t{buf.timestamp.tv_sec} * 1'000'000 + buf.timestamp.tv_usec;
        int64_t age = std::clamp<int64_t>(monotonic_us() - stamped, 0, 5'000'000);
        at = at - Duration(age);
      }
      chosen = frame_from_jpeg(views[*pick.index].bytes, pick.info, at);
    }
    for (auto& b : filled)
      if (xioctl(fd_, VIDIOC_QBUF, &b) < 0)
        return SourceError{Errc::invalid_state, name_ + ": VIDIOC_QBUF: " + errno_text(errno)};
    if (chosen) {
      ++stats_.frames;
      stats_.bytes += chosen->jpeg().size();
      return std::move(*chosen);
    }
    if (monotonic_us() >= deadline)
      return SourceError{Errc::timeout, name_ + ": no whole frame within the wait", false};
  }
}

}  // namespace cellrtc::device
