// Non-blocking TCP connections, as ICE-TCP (EndpointDriver) and TURN/TLS streams
// (StreamConnections) open them: started here, watched for writability on the event loop, and
// finished with finish_tcp_connect once the loop reports it.
#pragma once

#include <cstddef>
#include <deque>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

// A non-blocking, close-on-exec socket connecting to `remote`, without Nagle (what these
// connections carry is small and latency-bound: checks, DTLS records, TURN messages). The
// connection is in progress when this returns the descriptor; the caller owns it.
OsResult<int> start_tcp_connect(const SocketAddress& remote);

// Once the loop reports the descriptor writable (or in error): whether the connection was made.
OsStatus finish_tcp_connect(int fd);

// Writes queued messages to a connected non-blocking socket until it would block. `written` is
// how much of the front message has gone already and `queued` the bytes of all queued messages;
// both are kept up to date, and messages leave `writes` once fully sent. Returns the bytes sent
// by this call, or the error of send().
OsResult<size_t> send_queued(int fd, std::deque<Bytes>& writes, size_t& written, size_t& queued);

}  // namespace cellrtc::runtime
