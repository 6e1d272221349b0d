#include "modem/linux/serial_port.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace cellrtc::modem::posix {
namespace {

speed_t speed_of(uint32_t baud) {
  switch (baud) {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    case 3000000:
      return B3000000;
    default:
      return 0;
  }
}

int poll_ms(Duration d) {
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return ms < 0 ? 0 : static_cast<int>(ms > 600000 ? 600000 : ms);
}

}  // namespace

Status configure_raw(int fd, uint32_t baud) {
  termios tio{};
  if (tcgetattr(fd, &tio) != 0) return Error{Errc::invalid_argument, "not a terminal"};
  cfmakeraw(&tio);
  tio.c_cflag |= CLOCAL | CREAD;
  tio.c_cflag &= ~static_cast<tcflag_t>(CRTSCTS | CSTOPB | PARENB);
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  if (baud != 0) {
    const speed_t s = speed_of(baud);
    if (s == 0) return Error{Errc::unsupported, "baud rate without a termios constant"};
    cfsetispeed(&tio, s);
    cfsetospeed(&tio, s);
  }
  if (tcsetattr(fd, TCSANOW, &tio) != 0) return Error{Errc::invalid_state, "tcsetattr failed"};
  tcflush(fd, TCIOFLUSH);
  return {};
}

SerialPort::~SerialPort() {
  close();
}

SerialPort& SerialPort::operator=(SerialPort&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void SerialPort::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<SerialPort> SerialPort::open(const std::string& path, uint32_t baud) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Error{Errc::not_found, "cannot open the serial port"};
  SerialPort port(fd);
  if (ioctl(fd, TIOCEXCL) != 0)
    return Error{Errc::invalid_state, "cannot take the port exclusively"};
  if (auto s = configure_raw(fd, baud); !s.ok()) return s.error();
  return port;
}

Status SerialPort::write_all(ByteView bytes, Duration timeout) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return Error{Errc::invalid_state, "write to the serial port failed"};
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, poll_ms(timeout)) <= 0) return Error{Errc::timeout, "serial port stalled"};
  }
  return {};
}

Result<size_t> SerialPort::read_some(std::span<uint8_t> out, Duration timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, poll_ms(timeout));
  if (r < 0 && errno != EINTR) return Error{Errc::invalid_state, "poll on the serial port failed"};
  if (r <= 0) return size_t{0};
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
    if (!(p.revents & POLLIN)) return Error{Errc::invalid_state, "serial port hung up"};
  const ssize_t n = ::read(fd_, out.data(), out.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return size_t{0};
    return Error{Errc::invalid_state, "read from the serial port failed"};
  }
  return static_cast<size_t>(n);
}

}  // namespace cellrtc::modem::posix
