// Plain TCP connections a sans-IO endpoint asks for (common/transport.h StreamCommand): TURN
// over TCP and TLS. Moves bytes only: no framing (TURN frames its own stream, TLS records sit
// inside it), no protocol decisions. Non-blocking connect, level-triggered reads bounded per
// wakeup, a bounded write queue (a connection whose queue overflows is closed and reported,
// since a stream cannot drop bytes in its middle), graceful close after the queue drains.
//
//   StreamConnections streams(loop, endpoint, config, [&] { after_input(); });
//   streams.execute(command);          // for every endpoint.poll_stream_command()
//   // endpoint.handle_stream_connected/data/closed(now, id, ...) are called from the loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/common/transport.h"
#include "runtime/event_loop.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

struct StreamConnectionsConfig {
  size_t max_queued_bytes = 256 * 1024;
  size_t read_chunk = 16 * 1024;
  size_t max_reads_per_wakeup = 16;
  size_t max_connections = 16;  // open at once
};

struct StreamCounters {
  uint64_t opened = 0;
  uint64_t connected = 0;
  uint64_t failed = 0;  // connect refused, reset, read/write errors, queue overflow
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

class StreamConnections {
 public:
  // `after_input` runs after every call into the endpoint (the owner drains its output).
  StreamConnections(EventLoop& loop, DatagramEndpoint& endpoint, StreamConnectionsConfig config,
                    std::function<void()> after_input);
  ~StreamConnections();
  StreamConnections(const StreamConnections&) = delete;
  StreamConnections& operator=(const StreamConnections&) = delete;

  void execute(StreamCommand command);
  size_t open_connections() const;
  const StreamCounters& counters() const { return counters_; }
  const std::optional<OsError>& last_error() const { return last_error_; }

 private:
  struct Link;
  Link* find(uint32_t id);
  void connect(uint32_t id, const SocketAddress& remote);
  void on_ready(Link& link, Readiness ready);
  void flush(Link& link);
  // Closes the socket; `report` tells the endpoint (not when it asked for the close itself).
  void shut(Link& link, bool report);

  EventLoop& loop_;
  DatagramEndpoint& endpoint_;
  StreamConnectionsConfig config_;
  std::function<void()> after_input_;
  // Never removed while the object lives, so a Link& stays valid inside callbacks.
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<uint8_t> buffer_;
  std::vector<TimerId> timers_;  // pending failure reports, cancelled on destruction
  StreamCounters counters_;
  std::optional<OsError> last_error_;
};

}  // namespace cellrtc::runtime
