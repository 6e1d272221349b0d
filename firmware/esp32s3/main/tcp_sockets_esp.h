// The publisher's TCP connections on lwIP (BSD sockets API of ESP-IDF v5.4): non-blocking
// connect, completion seen by the socket watcher's select() (writable) and read with
// getsockopt(SO_ERROR); writes and reads that never wait. ICE-TCP and TURN-over-TCP/TLS
// connections alike: SessionSockets frames and queues, the core does TURN and TLS.
#pragma once

#include "firmware/app/stream_sockets.h"

namespace cellrtc::firmware::esp {

class LwipStreamSockets final : public StreamSockets {
 public:
  Result<int> connect(const SocketAddress& remote) override;
  ConnectState poll_connect(int handle) override;
  Result<size_t> write(int handle, ByteView data) override;
  ReadResult read(int handle, std::span<uint8_t> buffer) override;
  void close(int handle) override;
};

// TURN server names through lwIP's resolver (DNS over UDP through the netif's servers); blocks
// its caller for at most the resolver's own timeout: called on the HTTP task only
// (lookup_turn_hosts); the loop reads what it found from its TurnHostCache.
Result<IpAddress, std::string> resolve_ipv4(const std::string& host);

}  // namespace cellrtc::firmware::esp
