#include "firmware/app/session_sockets.h"

#include <algorithm>

namespace cellrtc::firmware {

SessionSockets::~SessionSockets() {
  for (const Socket& s : open_)
    sockets_.close(s.bound.handle);
}

std::optional<std::string> SessionSockets::open_session(Instant now, peer::PeerConnection& pc) {
  if (addresses_.empty()) return std::string("no local address (the network is down)");
  std::string why_not;
  size_t opened = 0;
  for (const IpAddress& ip : addresses_) {
    auto bound = sockets_.open(SocketAddress(ip, 0));
    if (!bound) {
      why_not = "cannot bind a UDP socket on " + ip.to_string() + ": " + bound.error().reason;
      continue;
    }
    if (auto s = pc.add_host_socket(now, bound->local); !s) {
      sockets_.close(bound->handle);
      why_not = std::string("cannot add the host candidate: ") + s.error().reason;
      continue;
    }
    open_.push_back({*bound, &pc});
    ++opened;
  }
  if (opened == 0) return why_not;
  return std::nullopt;
}

void SessionSockets::close_session(Instant /*now*/, peer::PeerConnection& pc) {
  // What the closed connection still has to say (its DTLS close_notify) goes first.
  while (auto t = pc.poll_transmit())
    send(*t);
  std::erase_if(open_, [&](const Socket& s) {
    if (s.owner != &pc) return false;
    sockets_.close(s.bound.handle);
    return true;
  });
}

void SessionSockets::send(const Transmit& t) {
  if (t.protocol != TransportProtocol::udp) {
    ++stats_.unroutable_dropped;
    return;
  }
  auto it = std::find_if(open_.begin(), open_.end(),
                         [&](const Socket& s) { return s.bound.local == t.from; });
  if (it == open_.end()) {
    ++stats_.unroutable_dropped;
    return;
  }
  if (sockets_.send(it->bound.handle, t.to, t.data)) {
    ++stats_.datagrams_out;
  } else {
    ++stats_.send_errors;  // UDP: a lost datagram, which ICE and SCTP recover from
  }
}

void SessionSockets::flush(streamer::Publisher& publisher) {
  if (peer::PeerConnection* pc = publisher.peer())
    while (auto t = pc->poll_transmit())
      send(*t);
}

size_t SessionSockets::read(Instant now, streamer::Publisher& publisher) {
  size_t delivered = 0;
  // Indices, not iterators: nothing below opens or closes sockets, but stay safe if it did.
  for (size_t i = 0; i < open_.size(); ++i) {
    for (size_t n = 0; n < kReadBudget && i < open_.size(); ++n) {
      const Socket s = open_[i];
      auto got = sockets_.receive(s.bound.handle, buffer_);
      if (!got) break;
      if (got->size > buffer_.size()) {
        ++stats_.oversized_dropped;
        continue;
      }
      peer::PeerConnection* pc = publisher.peer();
      if (pc == nullptr || pc != s.owner) continue;  // a session already gone
      ++stats_.datagrams_in;
      ++delivered;
      pc->handle_datagram(now, s.bound.local, got->from, ByteView(buffer_.data(), got->size));
    }
  }
  if (delivered > 0) {
    publisher.handle_peer_activity(now);
    flush(publisher);
  }
  return delivered;
}

std::vector<int> SessionSockets::handles() const {
  std::vector<int> out;
  out.reserve(open_.size());
  for (const Socket& s : open_)
    out.push_back(s.bound.handle);
  return out;
}

}  // namespace cellrtc::firmware
