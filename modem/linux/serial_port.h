// A modem's AT port on Linux: /dev/ttyUSBx (USB serial, option driver), /dev/ttyACMx (CDC-ACM)
// or a UART, opened in raw mode (termios: no echo, no line editing, no CR/LF translation,
// 8N1, no flow control) at a given rate. USB ports ignore the rate; a UART needs the modem's
// (AT+IPR) rate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"

namespace cellrtc::modem::posix {

// Puts an open terminal into raw mode at `baud` (0 keeps the current rate).
Status configure_raw(int fd, uint32_t baud);

class SerialPort {
 public:
  SerialPort() = default;
  ~SerialPort();
  SerialPort(SerialPort&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  SerialPort& operator=(SerialPort&& o) noexcept;
  SerialPort(const SerialPort&) = delete;
  SerialPort& operator=(const SerialPort&) = delete;

  // Opens non-blocking, exclusive (TIOCEXCL: ModemManager or a second agent cannot open it
  // while we hold it), raw.
  static Result<SerialPort> open(const std::string& path, uint32_t baud);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  // Writes all of `bytes`, waiting up to `timeout` for the driver to take them.
  Status write_all(ByteView bytes, Duration timeout);
  // Waits up to `timeout` for bytes; returns how many were read (0 on timeout).
  Result<size_t> read_some(std::span<uint8_t> out, Duration timeout);
  void close();

 private:
  explicit SerialPort(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace cellrtc::modem::posix
