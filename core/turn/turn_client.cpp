#include "core/turn/turn_client.h"

#include <algorithm>

#include "core/stun/channel_data.h"

namespace cellrtc::turn {

const char* to_string(TurnTransport transport) {
  switch (transport) {
    case TurnTransport::udp:
      return "udp";
    case TurnTransport::tcp:
      return "tcp";
    case TurnTransport::tls:
      return "tls";
  }
  return "?";
}

TransportProtocol to_transport_protocol(TurnTransport transport) {
  switch (transport) {
    case TurnTransport::udp:
      return TransportProtocol::udp;
    case TurnTransport::tcp:
      return TransportProtocol::tcp;
    case TurnTransport::tls:
      return TransportProtocol::tls;
  }
  return TransportProtocol::udp;
}

const char* to_string(TurnState state) {
  switch (state) {
    case TurnState::idle:
      return "idle";
    case TurnState::allocating:
      return "allocating";
    case TurnState::allocated:
      return "allocated";
    case TurnState::closing:
      return "closing";
    case TurnState::failed:
      return "failed";
  }
  return "?";
}

const char* to_string(TurnErrorKind kind) {
  switch (kind) {
    case TurnErrorKind::unauthorized:
      return "unauthorized";
    case TurnErrorKind::stale_nonce_loop:
      return "stale-nonce-loop";
    case TurnErrorKind::allocation_mismatch:
      return "allocation-mismatch";
    case TurnErrorKind::quota_reached:
      return "quota-reached";
    case TurnErrorKind::server_error:
      return "server-error";
    case TurnErrorKind::timeout:
      return "timeout";
    case TurnErrorKind::allocation_expired:
      return "allocation-expired";
    case TurnErrorKind::permission_failed:
      return "permission-failed";
    case TurnErrorKind::channel_bind_failed:
      return "channel-bind-failed";
    case TurnErrorKind::protocol:
      return "protocol";
    case TurnErrorKind::stream:
      return "stream";
  }
  return "?";
}

namespace {

// RFC 8656 section 14.7 / RFC 8489: REQUESTED-TRANSPORT carries the IP protocol number of the
// relay's transport; this client relays UDP (section 3.1).
constexpr uint8_t kProtocolUdp = 17;
// Largest application datagram a Send indication or ChannelData carries (16-bit lengths).
constexpr size_t kMaxPeerData = 0xFFFF;

std::string with_server_reason(std::string ours, const stun::Message& m) {
  if (auto e = m.error_code(); e && !e->reason.empty()) ours += " (server: " + e->reason + ")";
  return ours;
}

}  // namespace

TurnClient::TurnClient(TurnClientConfig config, Random& rng)
    : config_(std::move(config)),
      rng_(rng),
      quota_backoff_(config_.quota_backoff),
      framer_(config_.framing) {}

// --- API

Status TurnClient::allocate(Instant now) {
  if (state_ != TurnState::idle && state_ != TurnState::failed)
    return Error{Errc::invalid_state, "a TURN allocation is already in progress or exists"};
  if (config_.credentials.username.empty())
    return Error{Errc::invalid_argument, "TURN needs a username (long-term credentials)"};
  if (config_.transport != TurnTransport::udp && framer_.failed())
    return Error{Errc::invalid_state, "the TURN stream is broken; open a new connection"};
  reset_allocation();
  allocation_credentials_ = config_.credentials;
  quota_backoff_.reset();
  quota_retries_ = 0;
  state_ = TurnState::allocating;
  send_allocate(now, 0);
  return {};
}

void TurnClient::set_credentials(TurnCredentials credentials) {
  config_.credentials = std::move(credentials);
}

void TurnClient::handle_input(Instant now, ByteView bytes) {
  if (config_.transport == TurnTransport::udp) {
    // RFC 8656 section 12 and RFC 7983 section 7: first byte 0x40..0x4F is ChannelData.
    if (!bytes.empty() && bytes[0] >= 0x40 && bytes[0] <= 0x4F) {
      handle_channel_data(bytes);
    } else {
      handle_message(now, bytes);
    }
    return;
  }
  if (framer_.failed()) {
    ++stats_.dropped_inputs;
    return;
  }
  if (auto s = framer_.push(bytes); !s) {
    if (state_ == TurnState::allocating || state_ == TurnState::allocated ||
        state_ == TurnState::closing) {
      fail(TurnErrorKind::stream, 0,
           std::string("the TURN stream carries bytes that are not TURN framing: ") +
               s.error().reason);
    }
    return;
  }
  while (auto frame = framer_.next()) {
    if (frame->kind == FrameKind::channel_data) {
      handle_channel_data(frame->bytes);
    } else {
      handle_message(now, frame->bytes);
    }
  }
}

void TurnClient::handle_connection_closed(Instant now) {
  (void)now;
  if (config_.transport == TurnTransport::udp) return;
  if (state_ == TurnState::closing) {
    reset_allocation();
    state_ = TurnState::idle;
    events_.push_back(event::Closed{});
    return;
  }
  if (state_ == TurnState::allocating || state_ == TurnState::allocated)
    fail(TurnErrorKind::stream, 0, "the connection to the TURN server closed");
}

void TurnClient::handle_timeout(Instant now) {
  // Transactions: retransmit or give up. Callbacks may add or remove transactions, so collect
  // the due ones first and look each up again.
  std::vector<stun::TransactionId> due;
  for (const auto& t : transactions_)
    if (t.next_send <= now) due.push_back(t.tid);
  for (const auto& tid : due) {
    auto it = std::find_if(transactions_.begin(), transactions_.end(),
                           [&](const Transaction& t) { return t.tid == tid; });
    if (it == transactions_.end()) continue;
    const bool stream = config_.transport != TurnTransport::udp;
    if (!stream && it->transmissions < config_.max_transmissions) {
      ++stats_.retransmissions;
      transmit(now, *it);
      continue;
    }
    Transaction t = std::move(*it);
    transactions_.erase(it);
    on_timeout(now, t);
  }

  if (state_ == TurnState::allocating && quota_retry_at_ && *quota_retry_at_ <= now) {
    quota_retry_at_.reset();
    send_allocate(now, 0);
  }
  if (state_ != TurnState::allocated) return;
  // RFC 8656 section 8: the allocation ends when its lifetime passes without a refresh.
  if (expires_at_ && *expires_at_ <= now) {
    fail(TurnErrorKind::allocation_expired, 0,
         "the TURN allocation expired before a refresh succeeded");
    return;
  }
  if (refresh_at_ && *refresh_at_ <= now && !in_flight(RequestKind::refresh)) {
    refresh_at_.reset();
    send_refresh(now, RequestKind::refresh, config_.requested_lifetime_s, 0);
  }
  for (auto& [ip, p] : permissions_) {
    if (p.confirmed && !p.in_flight && p.refresh_at <= now) send_permission(now, ip, 0);
  }
  for (auto& [peer, c] : channels_) {
    if (c.confirmed && !c.in_flight && c.refresh_at <= now)
      send_channel_bind(now, peer, c.number, 0);
  }
}

std::optional<Bytes> TurnClient::poll_transmit() {
  if (out_.empty()) return std::nullopt;
  Bytes b = std::move(out_.front());
  out_.pop_front();
  return b;
}

std::optional<TurnEvent> TurnClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  TurnEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Instant> TurnClient::next_timeout() const {
  std::optional<Instant> t;
  for (const auto& tr : transactions_)
    t = earliest(t, std::optional<Instant>(tr.next_send));
  if (state_ == TurnState::allocating) t = earliest(t, quota_retry_at_);
  if (state_ != TurnState::allocated) return t;
  t = earliest(t, expires_at_);
  if (!in_flight(RequestKind::refresh)) t = earliest(t, refresh_at_);
  for (const auto& [ip, p] : permissions_)
    if (p.confirmed && !p.in_flight) t = earliest(t, std::optional<Instant>(p.refresh_at));
  for (const auto& [peer, c] : channels_)
    if (c.confirmed && !c.in_flight) t = earliest(t, std::optional<Instant>(c.refresh_at));
  return t;
}

Status TurnClient::create_permission(Instant now, const IpAddress& peer) {
  if (state_ != TurnState::allocating && state_ != TurnState::allocated)
    return Error{Errc::invalid_state, "no TURN allocation to add a permission to"};
  if (permissions_.count(peer)) return {};
  if (permissions_.size() >= config_.max_permissions)
    return Error{Errc::limit_exceeded, "too many TURN permissions"};
  permissions_[peer] = Permission{};
  if (state_ == TurnState::allocated) send_permission(now, peer, 0);
  return {};
}

Status TurnClient::bind_channel(Instant now, const SocketAddress& peer) {
  if (state_ != TurnState::allocating && state_ != TurnState::allocated)
    return Error{Errc::invalid_state, "no TURN allocation to bind a channel on"};
  if (channels_.count(peer)) return {};
  // RFC 8656 section 12: channel numbers 0x4000..0x4FFF; a number is never rebound to another
  // peer during the allocation, so numbers are not reused.
  if (channels_.size() >= config_.max_channels || next_channel_ > stun::kMaxChannel)
    return Error{Errc::limit_exceeded, "no TURN channel numbers left"};
  Channel c;
  c.number = next_channel_++;
  channels_[peer] = c;
  if (state_ == TurnState::allocated) send_channel_bind(now, peer, c.number, 0);
  return {};
}

Status TurnClient::send_to(Instant now, const SocketAddress& peer, ByteView data) {
  if (state_ != TurnState::allocating && state_ != TurnState::allocated)
    return Error{Errc::invalid_state, "no TURN allocation to send through"};
  if (data.size() > kMaxPeerData)
    return Error{Errc::limit_exceeded, "data larger than one TURN message carries"};
  auto perm = permissions_.find(peer.ip());
  if (perm != permissions_.end() && perm->second.confirmed && state_ == TurnState::allocated) {
    send_now(peer, data);
  } else {
    if (perm == permissions_.end()) {
      if (auto s = create_permission(now, peer.ip()); !s) return s;
      perm = permissions_.find(peer.ip());
    }
    if (perm->second.pending.size() >= config_.max_pending_per_peer)
      return Error{Errc::limit_exceeded, "too much data waiting for a TURN permission"};
    perm->second.pending.emplace_back(peer, Bytes(data.begin(), data.end()));
  }
  if (config_.use_channels && !channels_.count(peer) && channels_.size() < config_.max_channels &&
      next_channel_ <= stun::kMaxChannel) {
    (void)bind_channel(now, peer);
  }
  return {};
}

void TurnClient::close(Instant now) {
  if (state_ == TurnState::allocated) {
    transactions_.clear();
    state_ = TurnState::closing;
    send_refresh(now, RequestKind::deallocate, 0, 0);
    return;
  }
  if (state_ == TurnState::allocating) {
    // Nothing confirmed yet: stop asking. Should the server have made the allocation anyway,
    // it expires there after its lifetime.
    reset_allocation();
    state_ = TurnState::idle;
    events_.push_back(event::Closed{});
  }
}

std::optional<SocketAddress> TurnClient::relayed_address() const {
  return relayed_;
}

std::optional<Instant> TurnClient::allocation_expires() const {
  return expires_at_;
}

bool TurnClient::has_permission(const IpAddress& peer) const {
  auto it = permissions_.find(peer);
  return it != permissions_.end() && it->second.confirmed;
}

std::optional<uint16_t> TurnClient::channel_for(const SocketAddress& peer) const {
  auto it = channels_.find(peer);
  if (it == channels_.end() || !it->second.confirmed) return std::nullopt;
  return it->second.number;
}

// --- requests

stun::MessageBuilder TurnClient::builder(stun::Method method,
                                         const stun::TransactionId& tid) const {
  return stun::MessageBuilder(method, stun::Class::request, tid);
}

Bytes TurnClient::seal(stun::MessageBuilder b, bool authenticated) const {
  // RFC 8489 section 9.2.3: USERNAME, REALM, NONCE, then MESSAGE-INTEGRITY keyed with
  // MD5(username ":" realm ":" password). FINGERPRINT last (section 14.7).
  if (!authenticated) return std::move(b).finish(true);
  b.add_username(allocation_credentials_.username);
  b.add_realm(realm_);
  b.add_nonce(nonce_);
  return std::move(b).finish_with_integrity(*key_, true);
}

void TurnClient::start_transaction(Instant now, Transaction t) {
  t.rto = config_.rto;
  transactions_.push_back(std::move(t));
  transmit(now, transactions_.back());
}

void TurnClient::transmit(Instant now, Transaction& t) {
  ++t.transmissions;
  ++stats_.requests_sent;
  out_.push_back(t.request);
  if (config_.transport != TurnTransport::udp) {
    // RFC 8489 section 6.2.2: reliable transports do not retransmit; Ti = 39.5 s.
    t.next_send = now + config_.stream_transaction_timeout;
    return;
  }
  // RFC 8489 section 6.2.1: RTO doubles per retransmission; after the Rc-th transmission the
  // client waits Rm times the initial RTO for a response.
  if (t.transmissions < config_.max_transmissions) {
    t.next_send = now + t.rto;
    t.rto *= 2;
  } else {
    t.next_send = now + config_.rto * config_.last_wait_rtos;
  }
}

void TurnClient::send_allocate(Instant now, uint32_t stale_nonce_retries) {
  Transaction t;
  t.kind = RequestKind::allocate;
  t.tid = stun::random_transaction_id(rng_);
  t.stale_nonce_retries = stale_nonce_retries;
  // A realm and nonce known from an earlier exchange with this server let the first request be
  // authenticated (RFC 8489 section 9.2.3.2); otherwise the 401 brings them.
  t.authenticated = !realm_.empty() && !nonce_.empty();
  if (t.authenticated) {
    key_ = stun::long_term_key(allocation_credentials_.username, realm_,
                               allocation_credentials_.password);
    t.key = *key_;
  }
  auto b = builder(stun::Method::allocate, t.tid);
  // RFC 8656 section 7.1: REQUESTED-TRANSPORT (UDP relay), LIFETIME as a wish, SOFTWARE.
  b.add_requested_transport(kProtocolUdp);
  b.add_lifetime(config_.requested_lifetime_s);
  if (!config_.software.empty()) b.add_software(config_.software);
  t.request = seal(std::move(b), t.authenticated);
  start_transaction(now, std::move(t));
}

void TurnClient::send_refresh(Instant now, RequestKind kind, uint32_t lifetime_s,
                              uint32_t stale_nonce_retries) {
  Transaction t;
  t.kind = kind;
  t.tid = stun::random_transaction_id(rng_);
  t.stale_nonce_retries = stale_nonce_retries;
  t.authenticated = key_.has_value();
  if (key_) t.key = *key_;
  auto b = builder(stun::Method::refresh, t.tid);
  // RFC 8656 section 7.1 / 8.1: LIFETIME 0 deletes the allocation.
  b.add_lifetime(lifetime_s);
  t.request = seal(std::move(b), t.authenticated);
  start_transaction(now, std::move(t));
}

void TurnClient::send_permission(Instant now, const IpAddress& peer, uint32_t stale_nonce_retries) {
  auto it = permissions_.find(peer);
  if (it == permissions_.end()) return;
  it->second.in_flight = true;
  Transaction t;
  t.kind = RequestKind::permission;
  t.tid = stun::random_transaction_id(rng_);
  t.stale_nonce_retries = stale_nonce_retries;
  t.authenticated = key_.has_value();
  if (key_) t.key = *key_;
  t.peer_ip = peer;
  auto b = builder(stun::Method::create_permission, t.tid);
  // RFC 8656 section 10.1: the port of XOR-PEER-ADDRESS is ignored by the server.
  b.add_xor_peer_address(SocketAddress(peer, 0));
  t.request = seal(std::move(b), t.authenticated);
  start_transaction(now, std::move(t));
}

void TurnClient::send_channel_bind(Instant now, const SocketAddress& peer, uint16_t channel,
                                   uint32_t stale_nonce_retries) {
  auto it = channels_.find(peer);
  if (it == channels_.end()) return;
  it->second.in_flight = true;
  Transaction t;
  t.kind = RequestKind::channel_bind;
  t.tid = stun::random_transaction_id(rng_);
  t.stale_nonce_retries = stale_nonce_retries;
  t.authenticated = key_.has_value();
  if (key_) t.key = *key_;
  t.peer = peer;
  t.channel = channel;
  auto b = builder(stun::Method::channel_bind, t.tid);
  // RFC 8656 section 12.1: CHANNEL-NUMBER and XOR-PEER-ADDRESS.
  b.add_channel_number(channel);
  b.add_xor_peer_address(peer);
  t.request = seal(std::move(b), t.authenticated);
  start_transaction(now, std::move(t));
}

void TurnClient::resend_with_new_nonce(Instant now, const Transaction& t, bool stale) {
  // Only 438s count toward the bound; the one 401 challenge does not.
  const uint32_t retries = t.stale_nonce_retries + (stale ? 1 : 0);
  switch (t.kind) {
    case RequestKind::allocate:
      send_allocate(now, retries);
      break;
    case RequestKind::refresh:
      send_refresh(now, RequestKind::refresh, config_.requested_lifetime_s, retries);
      break;
    case RequestKind::deallocate:
      send_refresh(now, RequestKind::deallocate, 0, retries);
      break;
    case RequestKind::permission:
      send_permission(now, t.peer_ip, retries);
      break;
    case RequestKind::channel_bind:
      send_channel_bind(now, t.peer, t.channel, retries);
      break;
  }
}

void TurnClient::send_now(const SocketAddress& peer, ByteView data) {
  auto c = channels_.find(peer);
  if (c != channels_.end() && c->second.confirmed) {
    // RFC 8656 section 12.5: over TCP/TLS ChannelData is padded to a multiple of 4 bytes.
    out_.push_back(
        stun::encode_channel_data(c->second.number, data, config_.transport != TurnTransport::udp));
    ++stats_.channel_data_sent;
    return;
  }
  // RFC 8656 section 11.1: a Send indication with XOR-PEER-ADDRESS and DATA; indications
  // cannot be authenticated.
  auto b = stun::MessageBuilder(stun::Method::send, stun::Class::indication,
                                stun::random_transaction_id(rng_));
  b.add_xor_peer_address(peer);
  b.add_data(data);
  out_.push_back(std::move(b).finish(true));
  ++stats_.send_indications;
}

// --- input

void TurnClient::handle_channel_data(ByteView bytes) {
  auto cd = stun::parse_channel_data(bytes);
  if (!cd) {
    ++stats_.dropped_inputs;
    return;
  }
  // A channel whose ChannelBind response has not arrived yet counts: the server sends
  // ChannelData only after binding, and its response may come later over UDP.
  for (const auto& [peer, c] : channels_) {
    if (c.number == cd->channel) {
      ++stats_.channel_data_received;
      events_.push_back(event::PeerData{peer, Bytes(cd->data.begin(), cd->data.end())});
      return;
    }
  }
  ++stats_.dropped_inputs;  // a channel we did not bind
}

void TurnClient::handle_message(Instant now, ByteView bytes) {
  auto m = stun::Message::parse(bytes);
  if (!m) {
    ++stats_.dropped_inputs;
    return;
  }
  if (m->cls() == stun::Class::indication && m->method() == stun::Method::data) {
    handle_data_indication(*m);
    return;
  }
  if (m->cls() == stun::Class::success_response || m->cls() == stun::Class::error_response) {
    handle_response(now, *m);
    return;
  }
  ++stats_.dropped_inputs;  // requests and other indications are not for a client
}

void TurnClient::handle_data_indication(const stun::Message& m) {
  // RFC 8656 section 11.4: XOR-PEER-ADDRESS and DATA must both be there.
  auto peers = m.xor_peer_addresses();
  auto data = m.data();
  if (state_ != TurnState::allocated || peers.empty() || !data) {
    ++stats_.dropped_inputs;
    return;
  }
  ++stats_.data_indications;
  events_.push_back(event::PeerData{peers.front(), Bytes(data->begin(), data->end())});
}

void TurnClient::handle_response(Instant now, const stun::Message& m) {
  auto it = std::find_if(transactions_.begin(), transactions_.end(),
                         [&](const Transaction& t) { return t.tid == m.transaction_id(); });
  if (it == transactions_.end()) {
    ++stats_.dropped_inputs;  // late, duplicate or forged
    return;
  }
  const bool success = m.cls() == stun::Class::success_response;
  const auto code = m.error_code();
  const bool challenge =
      !success && code &&
      (code->code == stun::error::kUnauthorized || code->code == stun::error::kStaleNonce);
  if (it->authenticated && !challenge) {
    // RFC 8489 section 9.2.5: a response to an authenticated request must carry a
    // MESSAGE-INTEGRITY made with the same key; one without, or with a wrong one, is ignored
    // (the transaction goes on). Error responses without one are taken, as coturn sends some
    // so; a forged one can do no more than a dropped response would.
    const bool has_mi = m.has_message_integrity();
    if ((success && !has_mi) || (has_mi && !m.check_integrity(it->key))) {
      ++stats_.dropped_inputs;
      return;
    }
  }
  if (m.method() != stun::Method::allocate && m.method() != stun::Method::refresh &&
      m.method() != stun::Method::create_permission && m.method() != stun::Method::channel_bind) {
    ++stats_.dropped_inputs;
    return;
  }
  ++stats_.responses;
  Transaction t = std::move(*it);
  transactions_.erase(it);
  if (success) {
    on_success(now, t, m);
  } else {
    on_error(now, t, m);
  }
}

void TurnClient::on_success(Instant now, const Transaction& t, const stun::Message& m) {
  switch (t.kind) {
    case RequestKind::allocate: {
      if (state_ != TurnState::allocating) return;
      auto relayed = m.xor_relayed_address();
      if (!relayed) {
        fail(TurnErrorKind::protocol, 0, "Allocate success without XOR-RELAYED-ADDRESS");
        return;
      }
      const uint32_t lifetime = m.lifetime().value_or(config_.requested_lifetime_s);
      state_ = TurnState::allocated;
      relayed_ = *relayed;
      quota_retry_at_.reset();
      schedule_refresh(now, lifetime);
      events_.push_back(
          event::Allocated{*relayed, m.xor_mapped_address().value_or(SocketAddress{}), lifetime});
      // Permissions and channels asked for while allocating.
      for (auto& [ip, p] : permissions_)
        if (!p.in_flight && !p.confirmed) send_permission(now, ip, 0);
      for (auto& [peer, c] : channels_)
        if (!c.in_flight && !c.confirmed) send_channel_bind(now, peer, c.number, 0);
      return;
    }
    case RequestKind::refresh: {
      if (state_ != TurnState::allocated) return;
      const uint32_t lifetime = m.lifetime().value_or(config_.requested_lifetime_s);
      if (lifetime == 0) {
        fail(TurnErrorKind::allocation_expired, 0, "the TURN server refreshed with lifetime 0");
        return;
      }
      ++stats_.refreshes;
      schedule_refresh(now, lifetime);
      return;
    }
    case RequestKind::deallocate:
      reset_allocation();
      state_ = TurnState::idle;
      events_.push_back(event::Closed{});
      return;
    case RequestKind::permission: {
      auto it = permissions_.find(t.peer_ip);
      if (it == permissions_.end()) return;
      it->second.confirmed = true;
      it->second.in_flight = false;
      it->second.refresh_at = now + config_.permission_refresh;
      flush_pending(now, t.peer_ip);
      return;
    }
    case RequestKind::channel_bind: {
      auto it = channels_.find(t.peer);
      if (it == channels_.end()) return;
      it->second.confirmed = true;
      it->second.in_flight = false;
      it->second.refresh_at = now + config_.channel_refresh;
      // RFC 8656 section 12.2: a ChannelBind also installs or refreshes the permission.
      auto& p = permissions_[t.peer.ip()];
      if (!p.confirmed || p.refresh_at < now + config_.permission_refresh) {
        p.confirmed = true;
        if (!p.in_flight) p.refresh_at = now + config_.permission_refresh;
      }
      flush_pending(now, t.peer.ip());
      return;
    }
  }
}

void TurnClient::on_error(Instant now, const Transaction& t, const stun::Message& m) {
  const auto ec = m.error_code();
  const uint16_t code = ec ? ec->code : 0;
  const bool allocation_request = t.kind == RequestKind::allocate || t.kind == RequestKind::refresh;

  if (t.kind == RequestKind::deallocate &&
      !(code == stun::error::kStaleNonce || code == stun::error::kUnauthorized)) {
    // Whatever the server says (437: already gone), the allocation is over for us.
    reset_allocation();
    state_ = TurnState::idle;
    events_.push_back(event::Closed{});
    return;
  }

  // RFC 8489 section 9.2.4 / 9.2.5: the challenge with REALM and NONCE.
  if (code == stun::error::kUnauthorized || code == stun::error::kStaleNonce) {
    auto realm = m.realm();
    auto nonce = m.nonce();
    const bool retry_allowed = code == stun::error::kUnauthorized
                                   ? !t.authenticated
                                   : t.stale_nonce_retries < config_.max_stale_nonce_retries;
    if (realm && nonce && !nonce->empty() && retry_allowed) {
      realm_.assign(*realm);
      nonce_.assign(*nonce);
      key_ = stun::long_term_key(allocation_credentials_.username, realm_,
                                 allocation_credentials_.password);
      if (t.kind == RequestKind::allocate && state_ != TurnState::allocating) return;
      resend_with_new_nonce(now, t, code == stun::error::kStaleNonce);
      return;
    }
    const TurnErrorKind kind = code == stun::error::kUnauthorized ? TurnErrorKind::unauthorized
                                                                  : TurnErrorKind::stale_nonce_loop;
    std::string reason = code == stun::error::kUnauthorized
                             ? "the TURN server refused the credentials (wrong or expired)"
                             : "the TURN server keeps answering stale nonce";
    if (t.kind == RequestKind::deallocate) {
      reset_allocation();
      state_ = TurnState::idle;
      events_.push_back(event::Closed{});
      return;
    }
    if (allocation_request) {
      fail(kind, code, with_server_reason(std::move(reason), m));
    } else if (t.kind == RequestKind::permission) {
      peer_error(TurnErrorKind::permission_failed, code, with_server_reason(std::move(reason), m),
                 t.peer_ip);
    } else {
      peer_error(TurnErrorKind::channel_bind_failed, code, with_server_reason(std::move(reason), m),
                 t.peer.ip());
      channels_.erase(t.peer);
    }
    return;
  }

  if (code == stun::error::kAllocationMismatch) {
    // RFC 8656 section 7.4: to Allocate, the 5-tuple already has an allocation (perhaps ours,
    // whose success response was lost); to a request on an allocation, it no longer exists.
    fail(TurnErrorKind::allocation_mismatch, code,
         with_server_reason(t.kind == RequestKind::allocate
                                ? "the TURN server has another allocation on this 5-tuple; "
                                  "allocate again from a new local port"
                                : "the TURN allocation no longer exists on the server",
                            m));
    return;
  }

  if (code == stun::error::kAllocationQuotaReached && t.kind == RequestKind::allocate) {
    // RFC 8656 section 7.4: the user has too many allocations; retry later.
    if (quota_retries_ < config_.max_quota_retries) {
      ++quota_retries_;
      quota_retry_at_ = now + quota_backoff_.next(&rng_);
      events_.push_back(
          event::TurnError{TurnErrorKind::quota_reached,
                           code,
                           with_server_reason("TURN allocation quota reached; retrying later", m),
                           false,
                           {}});
      return;
    }
    fail(TurnErrorKind::quota_reached, code,
         with_server_reason("TURN allocation quota reached; out of retries", m));
    return;
  }

  std::string reason = "the TURN server answered error " + std::to_string(code);
  switch (t.kind) {
    case RequestKind::allocate:
    case RequestKind::refresh:
    case RequestKind::deallocate:
      fail(TurnErrorKind::server_error, code, with_server_reason(std::move(reason), m));
      return;
    case RequestKind::permission:
      peer_error(TurnErrorKind::permission_failed, code, with_server_reason(std::move(reason), m),
                 t.peer_ip);
      return;
    case RequestKind::channel_bind:
      peer_error(TurnErrorKind::channel_bind_failed, code, with_server_reason(std::move(reason), m),
                 t.peer.ip());
      channels_.erase(t.peer);
      return;
  }
}

void TurnClient::on_timeout(Instant now, const Transaction& t) {
  switch (t.kind) {
    case RequestKind::allocate:
      if (state_ == TurnState::allocating)
        fail(TurnErrorKind::timeout, 0, "no answer from the TURN server to Allocate");
      return;
    case RequestKind::refresh:
      // The allocation lives until it expires: try again; expiry ends it (handle_timeout).
      if (state_ == TurnState::allocated) refresh_at_ = now;
      return;
    case RequestKind::deallocate:
      reset_allocation();
      state_ = TurnState::idle;
      events_.push_back(event::Closed{});
      return;
    case RequestKind::permission:
      peer_error(TurnErrorKind::permission_failed, 0,
                 "no answer from the TURN server to CreatePermission", t.peer_ip);
      return;
    case RequestKind::channel_bind:
      peer_error(TurnErrorKind::channel_bind_failed, 0,
                 "no answer from the TURN server to ChannelBind", t.peer.ip());
      channels_.erase(t.peer);
      return;
  }
}

// --- state

void TurnClient::fail(TurnErrorKind kind, uint16_t code, std::string reason) {
  reset_allocation();
  state_ = TurnState::failed;
  events_.push_back(event::TurnError{kind, code, std::move(reason), true, {}});
}

void TurnClient::peer_error(TurnErrorKind kind, uint16_t code, std::string reason,
                            const IpAddress& peer) {
  if (kind == TurnErrorKind::permission_failed) permissions_.erase(peer);
  events_.push_back(event::TurnError{kind, code, std::move(reason), false, peer});
}

void TurnClient::reset_allocation() {
  transactions_.clear();
  permissions_.clear();
  channels_.clear();
  next_channel_ = stun::kMinChannel;
  relayed_.reset();
  expires_at_.reset();
  refresh_at_.reset();
  quota_retry_at_.reset();
}

void TurnClient::flush_pending(Instant now, const IpAddress& peer) {
  (void)now;
  auto it = permissions_.find(peer);
  if (it == permissions_.end() || state_ != TurnState::allocated) return;
  auto pending = std::move(it->second.pending);
  it->second.pending.clear();
  for (auto& [to, data] : pending)
    send_now(to, data);
}

void TurnClient::schedule_refresh(Instant now, uint32_t lifetime_s) {
  const Duration lifetime = seconds(lifetime_s);
  expires_at_ = now + lifetime;
  // Refresh a margin before expiry, or at 3/4 of a short lifetime (RFC 8656 section 8 leaves
  // the time to the client; it must come before the lifetime ends).
  const Duration margin = std::min(config_.refresh_margin, lifetime / 4);
  refresh_at_ = now + lifetime - margin;
}

bool TurnClient::in_flight(RequestKind kind) const {
  return std::any_of(transactions_.begin(), transactions_.end(),
                     [&](const Transaction& t) { return t.kind == kind; });
}

}  // namespace cellrtc::turn
