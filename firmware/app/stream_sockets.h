// The TCP connections of the publisher's sessions, as a small interface beside DatagramSockets:
// lwIP sockets on the device, POSIX sockets or a fake in tests. It only moves bytes: the
// session host (session_sockets.h) frames ICE-TCP (RFC 4571) and queues writes; the core frames
// TURN over TCP and does its TLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"

namespace cellrtc::firmware {

class StreamSockets {
 public:
  virtual ~StreamSockets() = default;
  // Starts a non-blocking TCP connection to `remote` (connect() in progress); its handle.
  virtual Result<int> connect(const SocketAddress& remote) = 0;
  enum class ConnectState : uint8_t { connecting, connected, failed };
  // Whether a connection in progress has completed (writable, and no error pending), without
  // waiting. Once connected or failed it stays so.
  virtual ConnectState poll_connect(int handle) = 0;
  // Writes what the stack takes now: the bytes taken (0 when its buffer is full), or an error
  // when the connection is broken.
  virtual Result<size_t> write(int handle, ByteView data) = 0;
  struct ReadResult {
    size_t size = 0;      // bytes put into the buffer
    bool closed = false;  // the far end closed or reset the connection (or it failed)
  };
  // What waits, into `buffer`; size 0 and not closed: nothing waits now.
  virtual ReadResult read(int handle, std::span<uint8_t> buffer) = 0;
  virtual void close(int handle) = 0;
};

}  // namespace cellrtc::firmware
