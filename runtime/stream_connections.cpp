#include "runtime/stream_connections.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sockaddr.h"
#include "runtime/tcp_connect.h"

namespace cellrtc::runtime {

struct StreamConnections::Link {
  uint32_t id = 0;
  SocketAddress remote;
  int fd = -1;
  bool connected = false;
  bool closing = false;  // the endpoint asked for close: shut once the queue is written
  std::deque<Bytes> writes;
  size_t written = 0;  // of writes.front()
  size_t queued = 0;
};

StreamConnections::StreamConnections(EventLoop& loop, DatagramEndpoint& endpoint,
                                     StreamConnectionsConfig config,
                                     std::function<void()> after_input)
    : loop_(loop),
      endpoint_(endpoint),
      config_(config),
      after_input_(std::move(after_input)),
      buffer_(config.read_chunk) {}

StreamConnections::~StreamConnections() {
  for (TimerId t : timers_)
    loop_.cancel_timer(t);
  for (auto& link : links_) {
    if (link->fd < 0) continue;
    loop_.unwatch(link->fd);
    ::close(link->fd);
  }
}

size_t StreamConnections::open_connections() const {
  size_t n = 0;
  for (const auto& link : links_)
    n += link->fd >= 0;
  return n;
}

StreamConnections::Link* StreamConnections::find(uint32_t id) {
  for (auto& link : links_)
    if (link->id == id && link->fd >= 0) return link.get();
  return nullptr;
}

void StreamConnections::execute(StreamCommand command) {
  switch (command.kind) {
    case StreamCommand::Kind::connect:
      connect(command.stream, command.remote);
      return;
    case StreamCommand::Kind::write: {
      Link* link = find(command.stream);
      if (!link || link->closing) return;
      if (link->queued + command.data.size() > config_.max_queued_bytes) {
        ++counters_.failed;
        shut(*link, true);
        return;
      }
      link->queued += command.data.size();
      link->writes.push_back(std::move(command.data));
      if (link->connected) flush(*link);
      return;
    }
    case StreamCommand::Kind::close: {
      Link* link = find(command.stream);
      if (!link) return;
      link->closing = true;
      if (!link->connected || link->writes.empty()) shut(*link, false);
      return;
    }
  }
}

void StreamConnections::connect(uint32_t id, const SocketAddress& remote) {
  auto link = std::make_unique<Link>();
  link->id = id;
  link->remote = remote;
  Link* raw = link.get();
  links_.push_back(std::move(link));
  ++counters_.opened;
  auto refuse = [&](OsError e) {
    last_error_ = std::move(e);
    ++counters_.failed;
    // Reported from the loop, not from inside the endpoint's poll.
    timers_.push_back(loop_.add_timer(Instant{}, [this, id] {
      endpoint_.handle_stream_closed(loop_.now(), id);
      after_input_();
    }));
  };
  if (open_connections() >= config_.max_connections)
    return refuse(OsError::invalid_argument("too many stream connections"));
  auto started = start_tcp_connect(remote);
  if (!started) return refuse(started.error());
  int fd = *started;
  auto watched = loop_.watch(fd, Interest{true, true},
                             [this, raw](Readiness ready) { on_ready(*raw, ready); });
  if (!watched) {
    ::close(fd);
    return refuse(watched.error());
  }
  raw->fd = fd;
}

void StreamConnections::on_ready(Link& link, Readiness ready) {
  if (link.fd < 0) return;
  if (!link.connected && (ready.writable || ready.error)) {
    if (auto made = finish_tcp_connect(link.fd); !made) {
      last_error_ = made.error();
      ++counters_.failed;
      shut(link, true);
      return;
    }
    link.connected = true;
    ++counters_.connected;
    endpoint_.handle_stream_connected(loop_.now(), link.id);
    after_input_();
    if (link.fd < 0) return;
  }
  if (link.connected && (ready.readable || ready.error)) {
    for (size_t i = 0; i < config_.max_reads_per_wakeup && link.fd >= 0; ++i) {
      ssize_t n = ::recv(link.fd, buffer_.data(), buffer_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        if (n < 0) {
          last_error_ = OsError::from_errno("recv");
          ++counters_.failed;
        }
        shut(link, true);
        break;
      }
      counters_.bytes_received += static_cast<size_t>(n);
      endpoint_.handle_stream_data(loop_.now(), link.id,
                                   ByteView(buffer_.data(), static_cast<size_t>(n)));
      after_input_();
    }
  }
  if (link.fd >= 0 && link.connected) flush(link);
}

void StreamConnections::flush(Link& link) {
  auto sent = send_queued(link.fd, link.writes, link.written, link.queued);
  if (!sent) {
    last_error_ = sent.error();
    ++counters_.failed;
    shut(link, !link.closing);
    return;
  }
  counters_.bytes_sent += *sent;
  if (link.closing && link.writes.empty()) {
    shut(link, false);
    return;
  }
  // Writability only while something waits (level-triggered: it would spin).
  (void)loop_.modify(link.fd, Interest{true, !link.connected || !link.writes.empty()});
}

void StreamConnections::shut(Link& link, bool report) {
  if (link.fd < 0) return;
  loop_.unwatch(link.fd);
  ::close(link.fd);
  link.fd = -1;
  link.writes.clear();
  link.queued = 0;
  if (report && !link.closing) {
    endpoint_.handle_stream_closed(loop_.now(), link.id);
    after_input_();
  }
}

}  // namespace cellrtc::runtime
