#include "tools/linkem/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cellrtc::linkem {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool valid_name(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || s == "." || s == "..") return false;
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<TunEndpoint, std::string> parse_tun_endpoint(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return std::string("'") + std::string(text) + "': expected NS:IFNAME";
  }
  TunEndpoint e{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  // Namespace names become a path under /var/run/netns: no '/' and no dot-only names.
  if (!valid_name(e.netns, 255)) {
    return std::string("'") + std::string(text) +
           "': the namespace name must be 1-255 of [A-Za-z0-9._-]";
  }
  if (!valid_name(e.ifname, IFNAMSIZ - 1)) {
    return std::string("'") + std::string(text) + "': the interface name must be 1-" +
           std::to_string(IFNAMSIZ - 1) + " of [A-Za-z0-9._-]";
  }
  return e;
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Fd, std::string> open_tun(const TunEndpoint& endpoint) {
  Fd home(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (home.get() < 0) return errno_text("open /proc/self/ns/net");
  std::string ns_path = "/var/run/netns/" + endpoint.netns;
  Fd target(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0) return errno_text("open " + ns_path);
  if (::setns(target.get(), CLONE_NEWNET) != 0) return errno_text("setns " + ns_path);

  std::string failure;
  Fd tun(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (tun.get() < 0) {
    failure = errno_text("open /dev/net/tun in " + endpoint.netns);
  } else {
    ifreq req{};
    req.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(req.ifr_name, endpoint.ifname.data(), endpoint.ifname.size());
    if (::ioctl(tun.get(), TUNSETIFF, &req) != 0) {
      failure = errno_text("TUNSETIFF " + endpoint.netns + ":" + endpoint.ifname +
                           " (a device of that name that is not a TUN without packet info?)");
    }
  }
  // Back home before anything else, whether the device opened or not.
  if (::setns(home.get(), CLONE_NEWNET) != 0) {
    return errno_text("setns back to the original namespace");
  }
  if (!failure.empty()) return failure;
  return tun;
}

}  // namespace cellrtc::linkem
