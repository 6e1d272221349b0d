#include "tools/modem-sim/pty.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "modem/linux/serial_port.h"

namespace cellrtc::modemsim {

Pty::~Pty() {
  if (slave_ >= 0) ::close(slave_);
  if (master_ >= 0) ::close(master_);
}

Pty::Pty(Pty&& o) noexcept
    : master_(o.master_), slave_(o.slave_), slave_path_(std::move(o.slave_path_)) {
  o.master_ = o.slave_ = -1;
}

Pty& Pty::operator=(Pty&& o) noexcept {
  if (this != &o) {
    this->~Pty();
    master_ = o.master_;
    slave_ = o.slave_;
    slave_path_ = std::move(o.slave_path_);
    o.master_ = o.slave_ = -1;
  }
  return *this;
}

std::optional<Pty> Pty::open(bool open_slave, std::string* error) {
  Pty p;
  p.master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (p.master_ < 0 || ::grantpt(p.master_) != 0 || ::unlockpt(p.master_) != 0) {
    if (error) *error = "posix_openpt failed";
    return std::nullopt;
  }
  const char* name = ::ptsname(p.master_);
  if (!name) {
    if (error) *error = "ptsname failed";
    return std::nullopt;
  }
  p.slave_path_ = name;
  ::fcntl(p.master_, F_SETFL, ::fcntl(p.master_, F_GETFL) | O_NONBLOCK);
  ::fcntl(p.master_, F_SETFD, FD_CLOEXEC);
  // The line discipline belongs to the slave; make it raw before any byte passes, so nothing
  // is echoed, translated or buffered by line.
  const int slave = ::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (slave < 0) {
    if (error) *error = "cannot open the pty slave";
    return std::nullopt;
  }
  if (auto s = modem::posix::configure_raw(slave, 115200); !s.ok()) {
    ::close(slave);
    if (error) *error = s.error().reason;
    return std::nullopt;
  }
  if (open_slave) {
    p.slave_ = slave;
  } else {
    ::close(slave);
  }
  return p;
}

std::optional<Bytes> transfer(int write_fd, int read_fd, ByteView bytes, Duration limit) {
  Bytes got;
  size_t written = 0;
  const auto start = std::chrono::steady_clock::now();
  while (got.size() < bytes.size()) {
    if (std::chrono::steady_clock::now() - start > limit) return std::nullopt;
    if (written < bytes.size()) {
      const ssize_t n = ::write(write_fd, bytes.data() + written, bytes.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return std::nullopt;
    }
    pollfd p{read_fd, POLLIN, 0};
    if (::poll(&p, 1, 20) > 0 && (p.revents & POLLIN)) {
      uint8_t buf[4096];
      const ssize_t n = ::read(read_fd, buf, sizeof(buf));
      if (n > 0) got.insert(got.end(), buf, buf + n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return std::nullopt;
    }
  }
  if (got.size() != bytes.size()) return std::nullopt;
  return got;
}

}  // namespace cellrtc::modemsim
