// A pseudo-terminal pair for the simulated modem: the simulator holds the master side, the
// code under test opens the slave (/dev/pts/N) like a real /dev/ttyUSBx, in raw mode.
#pragma once

#include <optional>
#include <string>

#include "core/common/bytes.h"
#include "core/common/time.h"

namespace cellrtc::modemsim {

class Pty {
 public:
  Pty() = default;
  ~Pty();
  Pty(Pty&& o) noexcept;
  Pty& operator=(Pty&& o) noexcept;
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;

  // posix_openpt, grantpt, unlockpt; the slave opened too (raw mode) unless `open_slave` is
  // false (the executable leaves it to whoever connects). Both non-blocking.
  static std::optional<Pty> open(bool open_slave, std::string* error);

  int master() const { return master_; }
  int slave() const { return slave_; }
  const std::string& slave_path() const { return slave_path_; }

 private:
  int master_ = -1;
  int slave_ = -1;
  std::string slave_path_;
};

// Moves `bytes` from one end to the other and returns what arrived, waiting (in real time,
// at most `limit`) until as many bytes came out as went in: each transfer is complete before
// a test advances its virtual clock. nullopt when the pty lost bytes or stalled.
std::optional<Bytes> transfer(int write_fd, int read_fd, ByteView bytes,
                              Duration limit = seconds(2));

}  // namespace cellrtc::modemsim
