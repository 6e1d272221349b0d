#include "udp_sockets_esp.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lwip/sockets.h"

namespace cellrtc::firmware::esp {
namespace {

sockaddr_in to_sockaddr(const SocketAddress& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port());
  std::memcpy(&sa.sin_addr.s_addr, a.ip().data(), 4);
  return sa;
}

SocketAddress from_sockaddr(const sockaddr_in& sa) {
  uint8_t b[4];
  std::memcpy(b, &sa.sin_addr.s_addr, 4);
  return SocketAddress(IpAddress::v4(b[0], b[1], b[2], b[3]), ntohs(sa.sin_port));
}

// How long one select() waits before it looks at a changed socket set.
constexpr int kSelectMs = 200;

}  // namespace

Result<DatagramSockets::Bound> LwipDatagramSockets::open(const SocketAddress& local) {
  if (local.family() != IpAddress::Family::v4)
    return Error{Errc::unsupported, "only IPv4 on the PPP link"};
  const int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (fd < 0) return Error{Errc::invalid_state, "socket() failed (CONFIG_LWIP_MAX_SOCKETS?)"};
  sockaddr_in sa = to_sockaddr(local);
  socklen_t len = sizeof(sa);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) != 0) {
    ::close(fd);
    return Error{Errc::invalid_state, "bind() failed"};
  }
  return Bound{fd, from_sockaddr(sa)};
}

Status LwipDatagramSockets::send(int handle, const SocketAddress& to, ByteView data) {
  if (to.family() != IpAddress::Family::v4) return Error{Errc::unsupported, "IPv6 destination"};
  sockaddr_in sa = to_sockaddr(to);
  if (sendto(handle, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0)
    return Error{Errc::invalid_state, "sendto() failed"};
  return {};
}

std::optional<DatagramSockets::Received> LwipDatagramSockets::receive(int handle,
                                                                      std::span<uint8_t> buffer) {
  sockaddr_in sa{};
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = sizeof(sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t n = recvmsg(handle, &msg, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;  // EWOULDBLOCK: nothing waits
  Received r;
  r.from = from_sockaddr(sa);
  // A datagram cut to the buffer: flagged MSG_TRUNC where lwIP sets it, and in any case one
  // that fills the buffer (the session's datagrams stay below it) counts as cut.
  const bool cut = (msg.msg_flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) >= buffer.size();
  r.size = cut ? buffer.size() + 1 : static_cast<size_t>(n);
  return r;
}

void LwipDatagramSockets::close(int handle) {
  ::close(handle);
}

bool SocketWatcher::start() {
  return lock_ && xTaskCreatePinnedToCore(&SocketWatcher::task, "sock-watch", 3072, this, 5, &task_,
                                          1) == pdPASS;
}

void SocketWatcher::set(WatchSet sockets) {
  xSemaphoreTake(lock_, portMAX_DELAY);
  sockets_ = std::move(sockets);
  xSemaphoreGive(lock_);
}

void SocketWatcher::rearm() {
  if (task_) xTaskNotifyGive(task_);
}

void SocketWatcher::task(void* arg) {
  auto* self = static_cast<SocketWatcher*>(arg);
  for (;;) {
    fd_set readable;
    fd_set writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    int max_fd = -1;
    xSemaphoreTake(self->lock_, portMAX_DELAY);
    for (int fd : self->sockets_.readable) {
      FD_SET(fd, &readable);
      max_fd = std::max(max_fd, fd);
    }
    // A connection completing (or failing) and room for queued bytes show as writable.
    for (int fd : self->sockets_.writable) {
      FD_SET(fd, &writable);
      max_fd = std::max(max_fd, fd);
    }
    xSemaphoreGive(self->lock_);
    if (max_fd < 0) {
      vTaskDelay(pdMS_TO_TICKS(kSelectMs));
      continue;
    }
    timeval tv{0, kSelectMs * 1000};
    // A socket closed by the loop meanwhile makes select() fail (EBADF): look again.
    if (select(max_fd + 1, &readable, &writable, nullptr, &tv) <= 0) continue;
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::sockets_readable;
    if (self->loop_.post(e)) ulTaskNotifyTake(pdTRUE, pdMS_TO_TICKS(1000));
  }
}

}  // namespace cellrtc::firmware::esp
