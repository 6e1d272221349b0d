// Non-blocking TCP connections, as ICE-TCP (EndpointDriver) and TURN/TLS streams
// (StreamConnections) open them: started here, watched for writability on the event loop, and
// finished with finish_tcp_connect once the loop reports it.
#pragma once

#include "core/common/socket_address.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

// A non-blocking, close-on-exec socket connecting to `remote`, without Nagle (what these
// connections carry is small and latency-bound: checks, DTLS records, TURN messages). The
// connection is in progress when this returns the descriptor; the caller owns it.
OsResult<int> start_tcp_connect(const SocketAddress& remote);

// Once the loop reports the descriptor writable (or in error): whether the connection was made.
OsStatus finish_tcp_connect(int fd);

}  // namespace cellrtc::runtime
