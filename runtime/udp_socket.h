// A non-blocking UDP socket bound to one local address. It moves bytes and reports errors; what
// to do about a failed send (UDP may drop anything) is the caller's decision.
#pragma once

#include <optional>
#include <span>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

struct UdpSocketOptions {
  // Kernel buffer sizes (SO_RCVBUF / SO_SNDBUF); unset keeps the system default. Linux doubles
  // the value for its bookkeeping and caps it at net.core.{r,w}mem_max.
  std::optional<int> receive_buffer_bytes;
  std::optional<int> send_buffer_bytes;
  // SO_REUSEADDR, for a server restarting onto its well-known port.
  bool reuse_address = false;
};

struct ReceivedDatagram {
  SocketAddress from;
  size_t size = 0;         // bytes written into the caller's buffer
  bool truncated = false;  // the datagram was longer than the buffer; the rest is lost
};

class UdpSocket {
 public:
  // Binds to `local`; port 0 picks an ephemeral port, visible in local_address(). An IPv6
  // socket is IPv6-only, so v4 and v6 each need their own socket and a v4 peer never shows up
  // as a v4-mapped v6 address.
  static OsResult<UdpSocket> bind(const SocketAddress& local, const UdpSocketOptions& options = {});

  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const { return fd_; }
  // The address the kernel bound, with the real port when 0 was asked for.
  const SocketAddress& local_address() const { return local_; }
  IpAddress::Family family() const { return local_.family(); }

  // One datagram, or an error; would_block() on the error means the send buffer is full.
  OsStatus send_to(const SocketAddress& to, ByteView data);
  // One datagram into `buffer`, or nullopt when nothing is waiting.
  OsResult<std::optional<ReceivedDatagram>> receive(std::span<uint8_t> buffer);

  OsStatus set_receive_buffer(int bytes);
  OsStatus set_send_buffer(int bytes);
  OsResult<int> receive_buffer() const;
  OsResult<int> send_buffer() const;

 private:
  UdpSocket(int fd, SocketAddress local) : fd_(fd), local_(local) {}
  int fd_ = -1;
  SocketAddress local_;
};

}  // namespace cellrtc::runtime
