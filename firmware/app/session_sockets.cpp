#include "firmware/app/session_sockets.h"

#include <algorithm>
#include <cstring>

namespace cellrtc::firmware {

namespace {

std::string millis(Duration d) {
  return std::to_string(d.count() / 1000) + " ms";
}

// Rounds of feeding the PeerConnection what its own output caused (a failed connection
// reported back), within one flush.
constexpr int kFlushRounds = 4;

}  // namespace

SessionSockets::SessionSockets(DatagramSockets& sockets) : sockets_(sockets) {
  config_.transport = streamer::IceTransport::udp;
}

SessionSockets::SessionSockets(DatagramSockets& datagrams, StreamSockets& streams,
                               SessionSocketsConfig config)
    : sockets_(datagrams), streams_(&streams), config_(std::move(config)) {}

SessionSockets::~SessionSockets() {
  for (const Socket& s : open_)
    sockets_.close(s.bound.handle);
  for (const auto& c : connections_)
    if (!c->dead) streams_->close(c->handle);
}

std::optional<std::string> SessionSockets::open_session(Instant now, peer::PeerConnection& pc) {
  if (addresses_.empty()) return std::string("no local address (the network is down)");
  tcp_ = {};
  turn_udp_.reset();
  std::string why_not;
  size_t opened = 0;
  // transport tcp: no UDP socket at all, so not one datagram leaves (modems that drop their
  // PPP link under UDP traffic); that includes TURN over UDP.
  if (config_.transport != streamer::IceTransport::tcp) {
    for (const IpAddress& ip : addresses_) {
      auto bound = sockets_.open(SocketAddress(ip, 0));
      if (!bound) {
        why_not = "cannot bind a UDP socket on " + ip.to_string() + ": " + bound.error().reason;
        continue;
      }
      // Relay only: the socket carries TURN over UDP, and is no candidate of its own.
      if (auto s = config_.relay_only ? Status{} : pc.add_host_socket(now, bound->local); !s) {
        sockets_.close(bound->handle);
        why_not = std::string("cannot add the host candidate: ") + s.error().reason;
        continue;
      }
      open_.push_back({*bound, &pc});
      if (!turn_udp_) turn_udp_ = bound->local;
      ++opened;
      changed();
    }
  }
  if (config_.relay_only) return std::nullopt;  // candidates come with the answer's relays
  if (config_.transport != streamer::IceTransport::udp) {
    if (!streams_) {
      why_not = "no TCP sockets for ICE-TCP";
    } else if (size_t added = streamer::add_active_tcp_candidates(now, pc, addresses_)) {
      opened += added;
    } else {
      why_not = "no address for an ICE-TCP candidate";
    }
  }
  if (opened == 0) return why_not;
  return std::nullopt;
}

void SessionSockets::session_answered(Instant now, peer::PeerConnection& pc,
                                      const whip::WhipSession& session, bool restarted) {
  // After an ICE restart a connection the server closed meanwhile is opened again; one still
  // open goes on carrying the checks.
  if (restarted) tcp_.forget();
  connect_tcp(pc);
  if (!restarted) start_relays(now, pc, session);
}

void SessionSockets::connect_tcp(peer::PeerConnection& pc) {
  if (!streams_) return;
  for (const auto& pair : tcp_.take_new(pc)) {
    bool open = std::any_of(connections_.begin(), connections_.end(), [&](const auto& c) {
      return c->ice_tcp && !c->dead && c->owner == &pc && c->local == pair.local &&
             c->remote == pair.remote;
    });
    if (open) continue;
    auto handle = streams_->connect(pair.remote);
    if (!handle) {
      ++stats_.stream_failures;
      log("warning: cannot connect to " + pair.remote.to_string() +
          " (ICE-TCP): " + handle.error().reason);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->handle = *handle;
    c->owner = &pc;
    c->ice_tcp = true;
    c->local = pair.local;
    c->remote = pair.remote;
    ice::Rfc4571FramerConfig framing;
    framing.max_frame = config_.max_tcp_frame;
    c->framer = std::make_unique<ice::Rfc4571Framer>(framing);
    connections_.push_back(std::move(c));
    ++stats_.tcp_connections;
    changed();
  }
}

void SessionSockets::start_relays(Instant now, peer::PeerConnection& pc,
                                  const whip::WhipSession& session) {
  auto plan =
      streamer::plan_relays(session.ice_servers, relay_plan_config(), turn_udp_, config_.resolve);
  for (const auto& note : plan.notes)
    log("relay: skipped " + note);
  if (plan.gatherer.servers.empty()) {
    // Without a TURN server the session goes on with its own candidates.
    if (!session.ice_servers.empty() || !config_.relay.turn_urls.empty())
      log("relay: no relays: no usable TURN server");
    return;
  }
  std::string names;
  for (const auto& s : plan.gatherer.servers)
    names += (names.empty() ? "" : ", ") + s.uri.to_string() + " (" + s.address.to_string() + ")";
  log("relay: allocating on " + names);
  if (auto s = pc.start_relays(now, std::move(plan.gatherer)); !s)
    log(std::string("relay: cannot start: ") + s.error().reason);
}

streamer::RelayPlanConfig SessionSockets::relay_plan_config() const {
  streamer::RelayPlanConfig c = config_.relay;
  if (config_.unix_time) c.now_unix_s = config_.unix_time();
  return c;
}

void SessionSockets::log_relay_events(peer::PeerConnection& pc) {
  while (auto e = pc.poll_relay_event()) {
    if (const auto* got = std::get_if<turn::event::RelayedCandidate>(&*e)) {
      log("relay: allocated " + got->candidate.address.to_string() + " on " + got->uri + " in " +
          millis(got->took));
    } else if (const auto* failed = std::get_if<turn::event::ServerFailed>(&*e)) {
      log("relay: " + failed->uri + " failed: " + failed->reason);
    } else if (std::get_if<turn::event::GatheringDone>(&*e)) {
      log("relay: every TURN server answered or was given up");
    }
  }
}

void SessionSockets::close_session(Instant now, peer::PeerConnection& pc) {
  log_relay_events(pc);
  // What the closed connection still has to say (its DTLS close_notify, TURN deallocations
  // already asked for) goes first, as far as the sockets take it now.
  while (auto command = pc.poll_stream_command())
    if (command->kind == StreamCommand::Kind::write) execute(now, pc, std::move(*command));
  while (auto t = pc.poll_transmit())
    send(*t);
  for (auto& c : connections_)
    if (c->owner == &pc) (void)write_queued(now, *c, nullptr);
  // RFC 8656 section 7.2: the relays' deallocations are retransmitted like any request until
  // their close_timeout; their sockets and TURN connections stay for them (the agent does
  // the same), the rest goes now.
  if (auto relays = pc.take_relays()) {
    turn::RelayGatherer* g = relays.get();
    closing_.push_back(std::move(relays));
    ++stats_.relays_kept_closing;
    for (auto& c : connections_) {
      if (c->owner != &pc || c->dead) continue;
      if (c->ice_tcp) {
        streams_->close(c->handle);
        c->dead = true;
      } else {
        c->owner = g;
      }
    }
    for (auto& sock : open_)
      if (sock.owner == &pc) sock.owner = g;
    remove_dead();
    changed();
    drive_closing(now);
    return;
  }
  release(&pc);
}

void SessionSockets::release(const void* owner) {
  for (auto& c : connections_) {
    if (c->owner != owner || c->dead) continue;
    streams_->close(c->handle);
    c->dead = true;
  }
  remove_dead();
  std::erase_if(open_, [&](const Socket& s) {
    if (s.owner != owner) return false;
    sockets_.close(s.bound.handle);
    return true;
  });
  changed();
}

turn::RelayGatherer* SessionSockets::closing_of(const void* owner) const {
  for (const auto& g : closing_)
    if (g.get() == owner) return g.get();
  return nullptr;
}

void SessionSockets::drive_closing(Instant now) {
  for (size_t i = 0; i < closing_.size(); ++i) {
    turn::RelayGatherer& g = *closing_[i];
    for (int round = 0; round < kFlushRounds; ++round) {
      bool fed = false;
      while (auto command = g.poll_stream_command())
        fed |= execute(now, g, std::move(*command));
      while (auto t = g.poll_transmit())
        send(*t);
      for (size_t k = 0; k < connections_.size(); ++k)
        if (connections_[k]->owner == &g) fed |= write_queued(now, *connections_[k], nullptr);
      if (!fed) break;
    }
    while (g.poll_event()) {
    }
  }
  remove_dead();
  for (size_t i = 0; i < closing_.size();) {
    if (!closing_[i]->closed()) {
      ++i;
      continue;
    }
    release(closing_[i].get());
    closing_.erase(closing_.begin() + static_cast<ptrdiff_t>(i));
  }
}

std::optional<Instant> SessionSockets::next_timeout() const {
  std::optional<Instant> next;
  for (const auto& g : closing_)
    next = earliest(next, g->next_timeout());
  return next;
}

void SessionSockets::handle_timeout(Instant now) {
  for (const auto& g : closing_)
    if (auto t = g->next_timeout(); t && *t <= now) g->handle_timeout(now);
  drive_closing(now);
}

void SessionSockets::send(const Transmit& t) {
  if (t.protocol == TransportProtocol::tcp) return send_tcp(t);
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

// RFC 6544 section 3 (RFC 4571): each message goes out with its 16-bit length, on the
// connection from the active candidate to the passive one the pair names; queued while it
// connects.
void SessionSockets::send_tcp(const Transmit& t) {
  auto it = std::find_if(connections_.begin(), connections_.end(), [&](const auto& c) {
    return c->ice_tcp && !c->dead && c->local == t.from && c->remote == t.to;
  });
  if (it == connections_.end()) {
    ++stats_.unroutable_dropped;
    return;
  }
  auto framed = ice::frame_rfc4571(t.data);
  if (!framed || !enqueue(**it, *framed)) {
    ++stats_.tcp_messages_dropped;  // as on a congested path: ICE, DTLS and SCTP recover
    return;
  }
  ++stats_.tcp_messages_out;
}

template <class Target>
bool SessionSockets::execute(Instant now, Target& pc, StreamCommand command) {
  auto find = [&]() -> Connection* {
    for (auto& c : connections_)
      if (!c->ice_tcp && !c->dead && c->owner == &pc && c->stream == command.stream) return c.get();
    return nullptr;
  };
  switch (command.kind) {
    case StreamCommand::Kind::connect: {
      auto handle = streams_ ? streams_->connect(command.remote)
                             : Result<int>(Error{Errc::unsupported, "no TCP sockets"});
      if (!handle) {
        ++stats_.stream_failures;
        log("warning: cannot connect to " + command.remote.to_string() +
            " (TURN): " + handle.error().reason);
        pc.handle_stream_closed(now, command.stream);
        return true;
      }
      auto c = std::make_unique<Connection>();
      c->handle = *handle;
      c->owner = &pc;
      c->stream = command.stream;
      c->remote = command.remote;
      connections_.push_back(std::move(c));
      ++stats_.turn_streams;
      changed();
      return false;
    }
    case StreamCommand::Kind::write: {
      Connection* c = find();
      if (!c || c->closing) return false;
      if (enqueue(*c, command.data)) return false;
      // A stream cannot lose bytes in its middle: the connection ends, TURN notices.
      fail(now, *c, nullptr, false);
      pc.handle_stream_closed(now, command.stream);
      return true;
    }
    case StreamCommand::Kind::close: {
      Connection* c = find();
      if (!c) return false;
      c->closing = true;
      if (c->queue.size() == c->queue_head || !c->connected) {
        streams_->close(c->handle);
        c->dead = true;
        changed();
      }
      return false;
    }
  }
  return false;
}

// RFC 8656 section 7.4: TURN over UDP answered 437 (allocation mismatch), so that server
// allocates again from a new local port: a socket on the same address, no candidate of its own
// (its relayed candidate is what ICE sees).
void SessionSockets::bind_requested(Instant now, peer::PeerConnection& pc,
                                    const SocketRequest& request) {
  if (config_.transport == streamer::IceTransport::tcp) {
    pc.handle_socket_bound(now, request.id, std::nullopt);
    return;
  }
  auto bound = sockets_.open(SocketAddress(request.like.ip(), 0));
  if (!bound) {
    log("warning: cannot bind a UDP socket for TURN on " + request.like.ip().to_string() + ": " +
        bound.error().reason);
    pc.handle_socket_bound(now, request.id, std::nullopt);
    return;
  }
  open_.push_back({*bound, &pc});
  changed();
  pc.handle_socket_bound(now, request.id, bound->local);
}

bool SessionSockets::enqueue(Connection& c, ByteView bytes) {
  const size_t pending = c.queue.size() - c.queue_head;
  if (pending + bytes.size() > config_.max_stream_queue) return false;
  if (c.queue_head > 0 && (pending == 0 || c.queue_head > c.queue.size() / 2)) {
    c.queue.erase(c.queue.begin(), c.queue.begin() + static_cast<ptrdiff_t>(c.queue_head));
    c.queue_head = 0;
  }
  c.queue.insert(c.queue.end(), bytes.begin(), bytes.end());
  if (pending == 0) changed();  // the connection wants to be watched for writing
  return true;
}

bool SessionSockets::write_queued(Instant now, Connection& c, peer::PeerConnection* pc) {
  if (c.dead || !c.connected) return false;
  bool wrote = false;
  while (c.queue_head < c.queue.size()) {
    auto taken = streams_->write(c.handle, ByteView(c.queue).subspan(c.queue_head));
    if (!taken) {
      fail(now, c, pc, true);
      return !c.ice_tcp;
    }
    if (*taken == 0) break;
    c.queue_head += *taken;
    wrote = true;
  }
  if (wrote && c.queue_head == c.queue.size()) {
    c.queue.clear();
    c.queue_head = 0;
    changed();
  }
  if (c.closing && c.queue.empty()) {
    streams_->close(c.handle);
    c.dead = true;
    changed();
  }
  return false;
}

void SessionSockets::fail(Instant now, Connection& c, peer::PeerConnection* pc, bool report) {
  if (c.dead) return;
  c.dead = true;
  streams_->close(c.handle);
  ++stats_.stream_failures;
  changed();
  // An ICE-TCP connection that fails stays closed; the consent checks notice (and an ICE
  // restart opens it again). A TURN stream's end is the TurnClient's to handle.
  if (c.ice_tcp || !report) return;
  if (pc && c.owner == pc) {
    pc->handle_stream_closed(now, c.stream);
  } else if (turn::RelayGatherer* g = closing_of(c.owner)) {
    g->handle_stream_closed(now, c.stream);
  }
}

void SessionSockets::remove_dead() {
  std::erase_if(connections_, [](const auto& c) { return c->dead; });
}

void SessionSockets::flush(Instant now, streamer::Publisher& publisher) {
  peer::PeerConnection* pc = publisher.peer();
  for (int round = 0; pc && round < kFlushRounds; ++round) {
    bool fed = false;
    while (auto command = pc->poll_stream_command())
      fed |= execute(now, *pc, std::move(*command));
    while (auto request = pc->poll_socket_request()) {
      bind_requested(now, *pc, *request);
      fed = true;
    }
    while (auto t = pc->poll_transmit())
      send(*t);
    if (tcp_.has_news(*pc)) connect_tcp(*pc);
    for (size_t i = 0; i < connections_.size(); ++i)
      fed |= write_queued(now, *connections_[i], pc);
    log_relay_events(*pc);
    remove_dead();
    if (!fed) return;
    publisher.handle_peer_activity(now);  // never replaces the session
  }
  for (size_t i = 0; i < connections_.size(); ++i)
    (void)write_queued(now, *connections_[i], pc);
  remove_dead();
}

size_t SessionSockets::read_connection(Instant now, Connection& c, peer::PeerConnection* pc) {
  size_t inputs = 0;
  const bool ours = pc != nullptr && c.owner == pc;
  turn::RelayGatherer* closing = ours ? nullptr : closing_of(c.owner);
  for (size_t n = 0; n < kReadBudget && !c.dead; ++n) {
    auto got = streams_->read(c.handle, buffer_);
    if (got.size > 0 && closing) {
      closing->handle_stream_data(now, c.stream, ByteView(buffer_.data(), got.size));
      ++inputs;
    } else if (got.size > 0 && ours) {
      const ByteView data(buffer_.data(), std::min(got.size, buffer_.size()));
      if (!c.ice_tcp) {
        pc->handle_stream_data(now, c.stream, data);
        ++inputs;
      } else if (!c.framer->push(data)) {
        // RFC 4571 has no way to find the next frame after one we will not hold.
        log("warning: ICE-TCP connection to " + c.remote.to_string() +
            " sent a frame over the limit; closed");
        fail(now, c, pc, false);
        ++inputs;
        break;
      } else {
        while (auto message = c.framer->next()) {
          pc->handle_datagram(now, c.local, c.remote, *message, TransportProtocol::tcp);
          ++stats_.tcp_messages_in;
          ++inputs;
        }
      }
    }
    if (got.closed) {
      fail(now, c, pc, true);
      ++inputs;
      break;
    }
    if (got.size == 0) break;
  }
  return inputs;
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
      if (turn::RelayGatherer* g = closing_of(s.owner)) {
        g->handle_datagram(now, s.bound.local, got->from, ByteView(buffer_.data(), got->size));
        ++delivered;
        continue;
      }
      peer::PeerConnection* pc = publisher.peer();
      if (pc == nullptr || pc != s.owner) continue;  // a session already gone
      ++stats_.datagrams_in;
      ++delivered;
      pc->handle_datagram(now, s.bound.local, got->from, ByteView(buffer_.data(), got->size));
    }
  }
  peer::PeerConnection* pc = publisher.peer();
  // Connections are only marked dead here (removed below), so indices stay valid.
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = *connections_[i];
    if (c.dead) continue;
    if (!c.connected) {
      auto state = streams_->poll_connect(c.handle);
      if (state == StreamSockets::ConnectState::connecting) continue;
      ++delivered;
      if (state == StreamSockets::ConnectState::failed) {
        log("warning: cannot connect to " + c.remote.to_string() +
            (c.ice_tcp ? " (ICE-TCP)" : " (TURN)"));
        fail(now, c, pc, true);
        continue;
      }
      c.connected = true;
      changed();
      if (!c.ice_tcp && pc && c.owner == pc) {
        pc->handle_stream_connected(now, c.stream);
      } else if (turn::RelayGatherer* g = closing_of(c.owner)) {
        g->handle_stream_connected(now, c.stream);
      }
    }
    delivered += read_connection(now, c, pc);
  }
  remove_dead();
  if (delivered > 0) {
    publisher.handle_peer_activity(now);
    flush(now, publisher);
    drive_closing(now);
  }
  return delivered;
}

std::vector<int> SessionSockets::handles() const {
  std::vector<int> out;
  out.reserve(open_.size() + connections_.size());
  for (const Socket& s : open_)
    out.push_back(s.bound.handle);
  for (const auto& c : connections_)
    out.push_back(c->handle);
  return out;
}

WatchSet SessionSockets::watch_set() const {
  WatchSet w;
  w.readable = handles();
  for (const auto& c : connections_)
    if (!c->connected || c->queue_head < c->queue.size()) w.writable.push_back(c->handle);
  return w;
}

void SessionSockets::log(std::string line) {
  if (log_.size() == kMaxLogLines) log_.pop_front();
  log_.push_back(std::move(line));
}

std::optional<std::string> SessionSockets::poll_log() {
  if (log_.empty()) return std::nullopt;
  std::string line = std::move(log_.front());
  log_.pop_front();
  return line;
}

}  // namespace cellrtc::firmware
