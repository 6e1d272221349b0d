#include "runtime/os_random.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace cellrtc::runtime {
namespace {

bool fill_from_urandom(uint8_t* p, size_t n) {
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  while (n > 0) {
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      ::close(fd);
      return false;
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
  ::close(fd);
  return true;
}

}  // namespace

void OsRandom::fill(std::span<uint8_t> out) {
  uint8_t* p = out.data();
  size_t n = out.size();
  while (n > 0) {
    // getrandom returns at most 32 MiB per call and may be interrupted; loop for the rest.
    ssize_t got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSYS && fill_from_urandom(p, n)) return;
      std::abort();
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

}  // namespace cellrtc::runtime
