#include "tcp_sockets_esp.h"

#include <cerrno>
#include <cstring>

#include "lwip/netdb.h"
#include "lwip/sockets.h"

namespace cellrtc::firmware::esp {

Result<int> LwipStreamSockets::connect(const SocketAddress& remote) {
  if (remote.family() != IpAddress::Family::v4)
    return Error{Errc::unsupported, "only IPv4 on the PPP link"};
  const int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (fd < 0) return Error{Errc::invalid_state, "socket() failed (CONFIG_LWIP_MAX_SOCKETS?)"};
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) != 0) {
    ::close(fd);
    return Error{Errc::invalid_state, "fcntl(O_NONBLOCK) failed"};
  }
  // Small messages (checks, DTLS records) go at once rather than wait for Nagle.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(remote.port());
  std::memcpy(&sa.sin_addr.s_addr, remote.ip().data(), 4);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return Error{Errc::invalid_state, "connect() failed"};
  }
  return fd;
}

StreamSockets::ConnectState LwipStreamSockets::poll_connect(int handle) {
  fd_set writable;
  FD_ZERO(&writable);
  FD_SET(handle, &writable);
  timeval zero{0, 0};
  if (select(handle + 1, nullptr, &writable, nullptr, &zero) <= 0) return ConnectState::connecting;
  int error = 0;
  socklen_t len = sizeof(error);
  if (getsockopt(handle, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0)
    return ConnectState::failed;
  return ConnectState::connected;
}

Result<size_t> LwipStreamSockets::write(int handle, ByteView data) {
  const ssize_t n = send(handle, data.data(), data.size(), MSG_DONTWAIT);
  if (n >= 0) return static_cast<size_t>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
  return Error{Errc::invalid_state, "send() failed"};
}

StreamSockets::ReadResult LwipStreamSockets::read(int handle, std::span<uint8_t> buffer) {
  const ssize_t n = recv(handle, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n > 0) return {static_cast<size_t>(n), false};
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {0, false};
  return {0, true};  // 0: the far end closed; an error: reset or failed
}

void LwipStreamSockets::close(int handle) {
  ::close(handle);
}

Result<IpAddress, std::string> resolve_ipv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr)
    return "cannot resolve " + host;
  uint8_t b[4];
  std::memcpy(b, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr, 4);
  freeaddrinfo(found);
  return IpAddress::v4(b[0], b[1], b[2], b[3]);
}

}  // namespace cellrtc::firmware::esp
