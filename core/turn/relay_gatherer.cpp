#include "core/turn/relay_gatherer.h"

#include <utility>

#include "core/ice/relayed_candidate.h"

namespace cellrtc::turn {

const char* to_string(RelayServerState state) {
  switch (state) {
    case RelayServerState::connecting:
      return "connecting";
    case RelayServerState::allocating:
      return "allocating";
    case RelayServerState::allocated:
      return "allocated";
    case RelayServerState::failed:
      return "failed";
    case RelayServerState::closing:
      return "closing";
    case RelayServerState::closed:
      return "closed";
  }
  return "?";
}

struct RelayGatherer::Server {
  size_t index = 0;
  RelayServer config;
  RelayServerState state = RelayServerState::connecting;
  std::unique_ptr<TurnClient> client;
  std::unique_ptr<tls::TlsClient> tls;
  std::optional<uint32_t> stream;  // TCP/TLS: the connection to the server, while open
  // UDP after a 437: the server's own local port (else the configured udp_local), and the
  // runtime's answer awaited for the next one.
  std::optional<SocketAddress> own_udp_local;
  std::optional<uint32_t> socket_request;
  std::optional<SocketAddress> relayed;
  Instant deadline;               // allocation_timeout from start()
  uint32_t mismatch_retries = 0;  // new connections after a 437 to Allocate
  uint32_t reallocations = 0;     // allocations made again after one died
};

namespace {

std::string describe(const event::TurnError& e) {
  std::string out = to_string(e.kind);
  if (e.stun_code) out += " (" + std::to_string(e.stun_code) + ")";
  if (!e.reason.empty()) out += ": " + e.reason;
  if (e.kind == TurnErrorKind::unauthorized) out += " - the credentials are wrong or have expired";
  return out;
}

}  // namespace

RelayGatherer::RelayGatherer(RelayGathererConfig config, Random& rng)
    : config_(std::move(config)), rng_(rng) {}

RelayGatherer::~RelayGatherer() = default;

Status RelayGatherer::start(Instant now) {
  if (started_) return Error{Errc::invalid_state, "relay gathering already started"};
  if (config_.servers.size() > config_.max_servers)
    return Error{Errc::limit_exceeded, "more TURN servers than max_servers"};
  started_ = now;
  for (size_t i = 0; i < config_.servers.size(); ++i) {
    auto s = std::make_unique<Server>();
    s->index = i;
    s->config = config_.servers[i];
    s->deadline = now + config_.allocation_timeout;
    servers_.push_back(std::move(s));
  }
  for (auto& s : servers_)
    open(now, *s);
  pump(now);
  check_done();
  return {};
}

void RelayGatherer::open(Instant now, Server& s) {
  const IceServerUri& uri = s.config.uri;
  if (!uri.is_turn()) return fail(s, "not a TURN URI");
  if (uri.transport == TurnTransport::udp && !config_.udp_local)
    return fail(s, "no UDP socket for TURN over UDP");
  if (uri.transport == TurnTransport::tls) {
    if (config_.ca_pem.empty()) return fail(s, "turns: needs a CA file to verify the server");
    tls::TlsClientConfig tc;
    tc.ca_pem = config_.ca_pem;
    tc.server_name = s.config.tls_server_name.empty() ? uri.host : s.config.tls_server_name;
    tc.now_unix_s = config_.now_unix_s;
    if (IpAddress::parse(tc.server_name))
      return fail(s, "turns: on an IP address needs a server name to check the certificate");
    s.tls = std::make_unique<tls::TlsClient>(std::move(tc), rng_);
  }
  TurnClientConfig tc = config_.turn;
  tc.transport = uri.transport;
  tc.credentials = s.config.credentials;
  s.client = std::make_unique<TurnClient>(std::move(tc), rng_);
  if (uri.transport == TurnTransport::udp) {
    s.state = RelayServerState::allocating;
    if (Status a = s.client->allocate(now); !a) return fail(s, a.error().reason);
    return;
  }
  s.stream = next_stream_++;
  commands_.push_back(StreamCommand{StreamCommand::Kind::connect, *s.stream, s.config.address, {}});
}

RelayGatherer::Server* RelayGatherer::find_stream(uint32_t stream) {
  for (auto& s : servers_)
    if (s->stream == stream) return s.get();
  return nullptr;
}

SocketAddress RelayGatherer::udp_local(const Server& s) const {
  return s.own_udp_local ? *s.own_udp_local : config_.udp_local.value_or(SocketAddress());
}

bool RelayGatherer::handle_datagram(Instant now, const SocketAddress& local,
                                    const SocketAddress& from, ByteView data) {
  if (!config_.udp_local) return false;
  for (auto& s : servers_) {
    if (!s->client || s->client->transport() != TurnTransport::udp || s->config.address != from ||
        udp_local(*s) != local)
      continue;
    if (s->state == RelayServerState::failed || s->state == RelayServerState::closed)
      return true;  // late answers of a server given up
    s->client->handle_input(now, data);
    pump(now);
    return true;
  }
  return false;
}

void RelayGatherer::handle_stream_connected(Instant now, uint32_t stream) {
  Server* s = find_stream(stream);
  if (!s || s->state != RelayServerState::connecting) return;
  s->state = RelayServerState::allocating;
  if (s->tls) {
    // RFC 8656 section 3.1: TURN over TLS over TCP; the Allocate waits for the handshake.
    if (Status t = s->tls->start(now); !t) return fail(*s, std::string("TLS: ") + t.error().reason);
  } else if (Status a = s->client->allocate(now); !a) {
    return fail(*s, a.error().reason);
  }
  pump(now);
}

void RelayGatherer::handle_stream_data(Instant now, uint32_t stream, ByteView data) {
  Server* s = find_stream(stream);
  if (!s || !s->client) return;
  if (s->tls)
    s->tls->handle_input(now, data);
  else
    s->client->handle_input(now, data);
  pump(now);
}

void RelayGatherer::handle_stream_closed(Instant now, uint32_t stream) {
  Server* s = find_stream(stream);
  if (!s) return;
  s->stream.reset();  // the runtime has closed it already
  if (s->state == RelayServerState::connecting) {
    fail(*s, "cannot connect to " + s->config.address.to_string());
  } else if (s->client) {
    s->client->handle_connection_closed(now);
  }
  pump(now);
}

void RelayGatherer::handle_timeout(Instant now) {
  for (auto& s : servers_) {
    if (s->client) s->client->handle_timeout(now);
    if ((s->state == RelayServerState::connecting || s->state == RelayServerState::allocating) &&
        now >= s->deadline) {
      const char* phase = s->state == RelayServerState::connecting ? "connecting" : "allocating";
      fail(*s, std::string("no allocation within ") +
                   std::to_string(config_.allocation_timeout.count() / 1000) + " ms (" + phase +
                   ")");
    }
  }
  if (close_deadline_ && now >= *close_deadline_) {
    close_deadline_.reset();
    for (auto& s : servers_) {
      if (s->state != RelayServerState::closing) continue;
      s->state = RelayServerState::closed;
      close_stream(*s);
    }
  }
  pump(now);
}

void RelayGatherer::pump(Instant now) {
  for (auto& s : servers_)
    pump_server(now, *s);
  check_done();
}

void RelayGatherer::pump_server(Instant now, Server& s) {
  if (!s.client) return;
  // Rounds: TLS events feed the client, whose output feeds TLS. Bounded.
  for (int round = 0; round < 8; ++round) {
    bool moved = false;
    if (s.tls) {
      while (auto e = s.tls->poll_event()) {
        moved = true;
        if (std::get_if<tls::event::Connected>(&*e)) {
          if (s.state == RelayServerState::allocating && s.client->state() == TurnState::idle)
            if (Status a = s.client->allocate(now); !a) fail(s, a.error().reason);
        } else if (auto* d = std::get_if<tls::event::Data>(&*e)) {
          s.client->handle_input(now, d->data);
        } else if (std::get_if<tls::event::Closed>(&*e)) {
          s.client->handle_connection_closed(now);
        } else if (auto* f = std::get_if<tls::event::Failed>(&*e)) {
          std::string reason = std::string("TLS: ") + f->reason;
          if (f->verify_flags) reason += " (certificate not trusted for this name)";
          if (s.state == RelayServerState::closing) {
            s.state = RelayServerState::closed;
            close_stream(s);
          } else if (s.state == RelayServerState::allocated) {
            return lose(now, s, std::move(reason));
          } else {
            fail(s, std::move(reason));
          }
        }
      }
    }
    while (auto out = s.client->poll_transmit()) {
      moved = true;
      if (s.client->transport() == TurnTransport::udp) {
        transmits_.push_back(Transmit{udp_local(s), s.config.address, std::move(*out)});
      } else if (s.tls) {
        if (s.tls->state() == tls::TlsState::handshaking ||
            s.tls->state() == tls::TlsState::connected)
          (void)s.tls->write(*out);
      } else {
        write_stream(s, std::move(*out));
      }
    }
    if (s.tls) {
      while (auto b = s.tls->poll_transmit()) {
        moved = true;
        write_stream(s, std::move(*b));
      }
    }
    while (auto e = s.client->poll_event()) {
      moved = true;
      if (auto* a = std::get_if<turn::event::Allocated>(&*e)) {
        if (s.state != RelayServerState::allocating) continue;
        s.state = RelayServerState::allocated;
        s.relayed = a->relayed;
        const uint16_t index =
            static_cast<uint16_t>(std::min<size_t>(s.index, ice::kMaxRelayServerIndex));
        events_.push_back(event::RelayedCandidate{
            s.index, s.config.uri.to_string(),
            ice::make_relayed_candidate(a->relayed, a->mapped,
                                        to_transport_protocol(s.client->transport()), index),
            a->mapped, now - *started_});
      } else if (auto* d = std::get_if<turn::event::PeerData>(&*e)) {
        if (s.relayed) events_.push_back(event::RelayData{*s.relayed, d->peer, std::move(d->data)});
      } else if (auto* err = std::get_if<turn::event::TurnError>(&*e)) {
        if (s.state == RelayServerState::allocating &&
            err->kind == TurnErrorKind::allocation_mismatch) {
          // RFC 8656 section 7.4: the 5-tuple already has an allocation (ours from a connection
          // or a port the server has not noticed is gone, or another's behind the same NAT
          // mapping). The client allocates again from a different 5-tuple, a bounded number of
          // times: over TCP/TLS on a new connection, over UDP from a new local port.
          if (s.mismatch_retries < config_.max_mismatch_retries) {
            ++s.mismatch_retries;
            if (s.client->transport() == TurnTransport::udp) return request_new_port(s);
            reconnect(now, s);
            return pump_server(now, s);
          }
          fail(s, describe(*err));
          continue;
        }
        if (s.state == RelayServerState::allocating && err->kind == TurnErrorKind::quota_reached) {
          // 486 (RFC 8656 section 7.4): the user has too many allocations on this server. A
          // retry after the client's backoff would hold up the end of gathering for seconds
          // with little chance; this server's candidate is given up, the others go on.
          fail(s,
               "quota-reached (486): the user's allocation quota on this server is reached; "
               "giving up on this server");
          continue;
        }
        // Non-fatal: a permission or channel refused while the allocation lives on; ICE's
        // checks on that pair fail by themselves.
        if (err->fatal && s.state == RelayServerState::allocated)
          return lose(now, s, describe(*err));
        if (err->fatal && s.state != RelayServerState::closing) fail(s, describe(*err));
        if (err->fatal && s.state == RelayServerState::closing) {
          s.state = RelayServerState::closed;
          close_stream(s);
        }
      } else if (std::get_if<turn::event::Closed>(&*e)) {
        s.state = RelayServerState::closed;
        if (s.tls) s.tls->close(now);
        while (s.tls && s.stream) {
          auto b = s.tls->poll_transmit();
          if (!b) break;
          write_stream(s, std::move(*b));
        }
        close_stream(s);
      }
    }
    if (!moved) return;
  }
}

void RelayGatherer::lose(Instant now, Server& s, std::string reason) {
  // The allocation existed and is gone (refresh refused or unanswered, 437 on a refresh, the
  // connection to the server lost): its candidate is reported dead, then the server is asked
  // for a new allocation, on a new connection for TCP/TLS, with the newest credentials
  // (set_credentials), a bounded number of times. Its relayed address is a new candidate.
  fail(s, std::move(reason));
  if (closing_ || s.reallocations >= config_.max_reallocations) return;
  ++s.reallocations;
  s.deadline = now + config_.allocation_timeout;
  reconnect(now, s);
  pump_server(now, s);
}

void RelayGatherer::set_credentials(size_t server, TurnCredentials credentials) {
  if (server >= servers_.size()) return;
  Server& s = *servers_[server];
  s.config.credentials = credentials;
  if (s.client) s.client->set_credentials(std::move(credentials));
}

void RelayGatherer::reconnect(Instant now, Server& s) {
  // The old connection, its TLS session and its TurnClient go; the allocation deadline stays.
  close_stream(s);
  s.client.reset();
  s.tls.reset();
  s.state = RelayServerState::connecting;
  open(now, s);
}

void RelayGatherer::request_new_port(Server& s) {
  // The TurnClient of the refused 5-tuple goes (its transactions with it); the server waits
  // for the runtime's socket, its allocation deadline unchanged.
  s.client.reset();
  s.state = RelayServerState::connecting;
  s.socket_request = next_socket_request_++;
  socket_requests_.push_back(SocketRequest{*s.socket_request, *config_.udp_local});
}

void RelayGatherer::handle_socket_bound(Instant now, uint32_t id,
                                        const std::optional<SocketAddress>& bound) {
  for (auto& s : servers_) {
    if (s->socket_request != id) continue;
    s->socket_request.reset();
    if (s->state != RelayServerState::connecting) return;  // closed or timed out meanwhile
    if (!bound) {
      fail(*s, "allocation-mismatch (437) and no new local port to allocate from");
    } else {
      s->own_udp_local = *bound;
      open(now, *s);
    }
    pump(now);
    return;
  }
}

std::optional<SocketRequest> RelayGatherer::poll_socket_request() {
  if (socket_requests_.empty()) return std::nullopt;
  SocketRequest r = socket_requests_.front();
  socket_requests_.pop_front();
  return r;
}

void RelayGatherer::write_stream(Server& s, Bytes bytes) {
  if (!s.stream || bytes.empty()) return;
  commands_.push_back(StreamCommand{StreamCommand::Kind::write, *s.stream, {}, std::move(bytes)});
}

void RelayGatherer::close_stream(Server& s) {
  if (!s.stream) return;
  commands_.push_back(StreamCommand{StreamCommand::Kind::close, *s.stream, {}, {}});
  s.stream.reset();
}

void RelayGatherer::fail(Server& s, std::string reason) {
  if (s.state == RelayServerState::failed || s.state == RelayServerState::closed) return;
  std::optional<SocketAddress> lost;
  if (s.state == RelayServerState::allocated) lost = s.relayed;
  s.state = RelayServerState::failed;
  s.relayed.reset();
  close_stream(s);
  events_.push_back(
      event::ServerFailed{s.index, s.config.uri.to_string(), std::move(reason), lost});
}

void RelayGatherer::check_done() {
  if (gathering_done_ || !started_) return;
  for (const auto& s : servers_)
    if (s->state == RelayServerState::connecting || s->state == RelayServerState::allocating)
      return;
  gathering_done_ = true;
  events_.push_back(event::GatheringDone{});
}

std::optional<Transmit> RelayGatherer::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Transmit t = std::move(transmits_.front());
  transmits_.pop_front();
  return t;
}

std::optional<StreamCommand> RelayGatherer::poll_stream_command() {
  if (commands_.empty()) return std::nullopt;
  StreamCommand c = std::move(commands_.front());
  commands_.pop_front();
  return c;
}

std::optional<RelayEvent> RelayGatherer::poll_event() {
  if (events_.empty()) return std::nullopt;
  RelayEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Instant> RelayGatherer::next_timeout() const {
  std::optional<Instant> at;
  auto take = [&at](std::optional<Instant> t) {
    if (t && (!at || *t < *at)) at = t;
  };
  for (const auto& s : servers_) {
    if (s->state == RelayServerState::failed || s->state == RelayServerState::closed) continue;
    if (s->client) take(s->client->next_timeout());
    if (s->state == RelayServerState::connecting || s->state == RelayServerState::allocating)
      take(s->deadline);
  }
  take(close_deadline_);
  return at;
}

bool RelayGatherer::owns(const SocketAddress& relayed) const {
  for (const auto& s : servers_)
    if (s->state == RelayServerState::allocated && s->relayed == relayed) return true;
  return false;
}

Status RelayGatherer::send(Instant now, const SocketAddress& relayed, const SocketAddress& peer,
                           ByteView data) {
  for (auto& s : servers_) {
    if (s->state != RelayServerState::allocated || s->relayed != relayed) continue;
    Status sent = s->client->send_to(now, peer, data);
    pump_server(now, *s);
    check_done();
    return sent;
  }
  return Error{Errc::not_found, "no allocation with that relayed address"};
}

void RelayGatherer::close(Instant now) {
  bool waiting = false;
  closing_ = true;
  for (auto& s : servers_) {
    if (s->state == RelayServerState::allocated) {
      s->state = RelayServerState::closing;
      s->client->close(now);
      waiting = true;
    } else if (s->state == RelayServerState::connecting ||
               s->state == RelayServerState::allocating) {
      s->state = RelayServerState::closed;
      if (s->tls) s->tls->close(now);
      close_stream(*s);
    }
  }
  if (waiting) close_deadline_ = now + config_.close_timeout;
  pump(now);
}

bool RelayGatherer::closed() const {
  for (const auto& s : servers_)
    if (s->state != RelayServerState::failed && s->state != RelayServerState::closed) return false;
  return true;
}

RelayServerState RelayGatherer::server_state(size_t index) const {
  return index < servers_.size() ? servers_[index]->state : RelayServerState::closed;
}

}  // namespace cellrtc::turn
