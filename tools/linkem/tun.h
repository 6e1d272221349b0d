// TUN devices in other network namespaces: the emulator enters a namespace, opens the device
// there and comes back; the file descriptor keeps working from any namespace.
#pragma once

#include <string>
#include <string_view>

#include "core/common/result.h"

namespace cellrtc::linkem {

// "NS:IFNAME": a namespace under /var/run/netns and an interface name inside it.
struct TunEndpoint {
  std::string netns;
  std::string ifname;
};

Result<TunEndpoint, std::string> parse_tun_endpoint(std::string_view text);

// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens the TUN device endpoint.ifname (IFF_TUN | IFF_NO_PI: bare IP packets) inside the
// namespace endpoint.netns, non-blocking. Attaches to a persistent device of that name (made
// with `ip tuntap add mode tun`) or creates one that lives as long as the descriptor. The
// calling thread is back in its own namespace when this returns, whatever happened.
Result<Fd, std::string> open_tun(const TunEndpoint& endpoint);

}  // namespace cellrtc::linkem
