#include "runtime/tcp_connect.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sockaddr.h"

namespace cellrtc::runtime {

OsResult<int> start_tcp_connect(const SocketAddress& remote) {
  int fd = ::socket(address_family(remote.family()), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return OsError::from_errno("socket");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto to = to_sockaddr(remote);
  if (::connect(fd, to.get(), to.length) != 0 && errno != EINPROGRESS) {
    OsError e = OsError::from_errno("connect");
    ::close(fd);
    return e;
  }
  return fd;
}

OsStatus finish_tcp_connect(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return OsError::from_errno("connect");
  if (err != 0) {
    errno = err;
    return OsError::from_errno("connect");
  }
  return {};
}

OsResult<size_t> send_queued(int fd, std::deque<Bytes>& writes, size_t& written, size_t& queued) {
  size_t sent = 0;
  while (!writes.empty()) {
    const Bytes& front = writes.front();
    ssize_t n = ::send(fd, front.data() + written, front.size() - written, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return OsError::from_errno("send");
    sent += static_cast<size_t>(n);
    written += static_cast<size_t>(n);
    if (written < front.size()) break;
    queued -= front.size();
    written = 0;
    writes.pop_front();
  }
  return sent;
}

}  // namespace cellrtc::runtime
