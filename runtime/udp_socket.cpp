#include "runtime/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sockaddr.h"

namespace cellrtc::runtime {
namespace {

OsStatus set_int_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return OsError::from_errno(what);
  return {};
}

OsResult<int> get_int_option(int fd, int level, int name, const char* what) {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, level, name, &value, &len) != 0) return OsError::from_errno(what);
  return value;
}

}  // namespace

OsResult<UdpSocket> UdpSocket::bind(const SocketAddress& local, const UdpSocketOptions& options) {
  int family = address_family(local.family());
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return OsError::from_errno("socket");
  // From here on the socket object owns fd, so every early return closes it.
  UdpSocket socket(fd, local);

  if (family == AF_INET6) {
    if (auto s = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "setsockopt(IPV6_V6ONLY)"); !s)
      return s.error();
  }
  if (options.reuse_address) {
    if (auto s = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)"); !s)
      return s.error();
  }
  if (options.receive_buffer_bytes) {
    if (auto s = socket.set_receive_buffer(*options.receive_buffer_bytes); !s) return s.error();
  }
  if (options.send_buffer_bytes) {
    if (auto s = socket.set_send_buffer(*options.send_buffer_bytes); !s) return s.error();
  }

  SockaddrStorage addr = to_sockaddr(local);
  if (::bind(fd, addr.get(), addr.length) != 0) return OsError::from_errno("bind");

  SockaddrStorage bound;
  bound.length = sizeof bound.storage;
  if (::getsockname(fd, bound.get(), &bound.length) != 0) return OsError::from_errno("getsockname");
  auto bound_address = from_sockaddr(bound.get(), bound.length);
  if (!bound_address) return OsError::invalid_argument("getsockname");
  socket.local_ = *bound_address;
  return socket;
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_), local_(other.local_) {
  other.fd_ = -1;
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    local_ = other.local_;
    other.fd_ = -1;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

OsStatus UdpSocket::send_to(const SocketAddress& to, ByteView data) {
  // The kernel would say EAFNOSUPPORT or EINVAL; saying it here names the real mistake.
  if (to.family() != family()) return OsError{"sendto: address family mismatch", EAFNOSUPPORT};
  SockaddrStorage addr = to_sockaddr(to);
  for (;;) {
    ssize_t sent = ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, addr.get(), addr.length);
    if (sent >= 0) return {};
    if (errno == EINTR) continue;
    return OsError::from_errno("sendto");
  }
}

OsResult<std::optional<ReceivedDatagram>> UdpSocket::receive(std::span<uint8_t> buffer) {
  SockaddrStorage from;
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_name = &from.storage;
  msg.msg_namelen = sizeof from.storage;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t got;
  for (;;) {
    got = ::recvmsg(fd_, &msg, 0);
    if (got >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<ReceivedDatagram>();
    return OsError::from_errno("recvmsg");
  }
  auto address = from_sockaddr(from.get(), msg.msg_namelen);
  if (!address) return OsError::invalid_argument("recvmsg: unknown source address family");
  ReceivedDatagram d;
  d.from = *address;
  d.size = static_cast<size_t>(got);  // without MSG_TRUNC in flags, at most the buffer
  d.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  return std::optional<ReceivedDatagram>(d);
}

OsStatus UdpSocket::set_receive_buffer(int bytes) {
  return set_int_option(fd_, SOL_SOCKET, SO_RCVBUF, bytes, "setsockopt(SO_RCVBUF)");
}

OsStatus UdpSocket::set_send_buffer(int bytes) {
  return set_int_option(fd_, SOL_SOCKET, SO_SNDBUF, bytes, "setsockopt(SO_SNDBUF)");
}

OsResult<int> UdpSocket::receive_buffer() const {
  return get_int_option(fd_, SOL_SOCKET, SO_RCVBUF, "getsockopt(SO_RCVBUF)");
}

OsResult<int> UdpSocket::send_buffer() const {
  return get_int_option(fd_, SOL_SOCKET, SO_SNDBUF, "getsockopt(SO_SNDBUF)");
}

}  // namespace cellrtc::runtime
