#include "core/peer/peer_connection.h"

#include <algorithm>

#include "core/common/text.h"
#include "core/stun/demux.h"

namespace cellrtc::peer {
namespace {

// "AB:CD:..." (RFC 8122 section 5) to bytes; empty on malformed input.
Bytes parse_fingerprint_hex(std::string_view text) {
  Bytes out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); i += 3) {
    if (i + 1 >= text.size()) return {};
    int hi = hex(text[i]), lo = hex(text[i + 1]);
    if (hi < 0 || lo < 0 || (i + 2 < text.size() && text[i + 2] != ':')) return {};
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

// An SDP line without its line ending and the spaces around it.
std::string_view trim(std::string_view s) {
  return text::trim_left(text::trim_right(s, " \r\n"), " ");
}

// How many pump rounds one input may take: each layer moves everything it has per round, so a
// handful suffices; the bound only guards against a layer that keeps producing.
constexpr int kMaxPumpRounds = 64;

}  // namespace

const char* to_string(PeerState state) {
  switch (state) {
    case PeerState::new_:
      return "new";
    case PeerState::connecting:
      return "connecting";
    case PeerState::connected:
      return "connected";
    case PeerState::disconnected:
      return "disconnected";
    case PeerState::failed:
      return "failed";
    case PeerState::closed:
      return "closed";
  }
  return "unknown";
}

PeerConnection::PeerConnection(PeerConfig config, Random& rng)
    : config_(std::move(config)),
      rng_(rng),
      ice_(config_.ice, rng),
      channels_(config_.channels),
      // RFC 8829 section 5.2.1: a session id below 2^63.
      session_id_(rng.next_u64() >> 1) {}

// ---------------------------------------------------------------------------------------------
// Local sockets and signaling

Status PeerConnection::add_host_socket(Instant now, const SocketAddress& bound) {
  Status s = ice_.add_host_socket(now, bound);
  pump(now);
  return s;
}

Status PeerConnection::add_local_candidate(Instant now, ice::Candidate candidate) {
  Status s = ice_.add_local_candidate(now, std::move(candidate));
  pump(now);
  return s;
}

void PeerConnection::end_of_local_sockets(Instant now) {
  ice_.end_of_local_sockets(now);
  pump(now);
}

sdp::LocalParameters PeerConnection::local_parameters() const {
  sdp::LocalParameters lp;
  lp.ice_ufrag = ice_.local_credentials().ufrag;
  lp.ice_pwd = ice_.local_credentials().pwd;
  lp.fingerprint.algorithm = "sha-256";
  if (config_.certificate)
    lp.fingerprint.value = parse_fingerprint_hex(config_.certificate->fingerprint_sha256());
  lp.answer_to_actpass =
      config_.answer_as_dtls_client ? sdp::SetupRole::active : sdp::SetupRole::passive;
  for (const auto& c : ice_.local_candidates())
    if (c.type != ice::CandidateType::peer_reflexive) lp.candidates.push_back(c);
  lp.end_of_candidates = gathering_complete_;
  lp.ice_lite = config_.ice.lite;
  lp.max_message_size = config_.sctp.max_receive_message_size;
  lp.sctp_port = config_.sctp.local_port;
  lp.session_id = session_id_;
  lp.session_version = session_version_;
  return lp;
}

Result<std::string> PeerConnection::create_offer(Instant now) {
  if (state_ == PeerState::closed) return Error{Errc::invalid_state, "connection closed"};
  if (signaling_ == Signaling::have_remote_offer)
    return Error{Errc::invalid_state, "a remote offer is waiting for our answer"};
  if (!config_.certificate) return Error{Errc::invalid_argument, "no DTLS certificate"};
  // RFC 8445 section 6.1.1: the offerer controls (a lite agent never does).
  ice_.set_role(ice::Role::controlling, config_.ice.nomination);
  auto offer = sdp::make_offer(local_parameters());
  if (!offer) return offer.error();
  ++session_version_;
  local_sdp_ = sdp::write_sdp(*offer);
  signaling_ = Signaling::have_local_offer;
  if (state_ == PeerState::new_) set_state(PeerState::connecting);
  pump(now);
  return *local_sdp_;
}

Status PeerConnection::set_remote_description(Instant now, std::string_view text) {
  if (state_ == PeerState::closed) return Error{Errc::invalid_state, "connection closed"};
  auto parsed = sdp::parse_sdp(text);
  if (!parsed) return parsed.error().error();
  bool is_offer = signaling_ != Signaling::have_local_offer;
  Status s = apply_remote(now, *parsed, is_offer);
  if (!s) return s;
  remote_ = std::move(*parsed);
  signaling_ = is_offer ? Signaling::have_remote_offer : Signaling::stable;
  timeline_.remote_description = now;
  if (state_ == PeerState::new_) set_state(PeerState::connecting);
  pump(now);
  return {};
}

Status PeerConnection::apply_remote(Instant now, const sdp::SessionDescription& remote,
                                    bool is_offer) {
  const sdp::MediaSection* data = remote.data_section();
  if (!data) return Error{Errc::invalid_argument, "no data channel (m=application) section"};
  if (!data->ice_ufrag || !data->ice_pwd)
    return Error{Errc::invalid_argument, "no a=ice-ufrag / a=ice-pwd"};
  const sdp::Fingerprint* fp = data->fingerprint("sha-256");
  if (!fp || fp->value.size() != 32)
    return Error{Errc::invalid_argument, "no a=fingerprint:sha-256"};

  // DTLS role (RFC 8842 section 5): the answerer picks; an absent setup counts as actpass.
  dtls::DtlsRole role;
  if (is_offer) {
    auto answer = sdp::answer_setup_role(data->setup, config_.answer_as_dtls_client
                                                          ? sdp::SetupRole::active
                                                          : sdp::SetupRole::passive);
    if (!answer) return Error{Errc::unsupported, "a=setup:holdconn"};
    role = *answer == sdp::SetupRole::active ? dtls::DtlsRole::client : dtls::DtlsRole::server;
  } else {
    sdp::SetupRole theirs = data->setup.value_or(sdp::SetupRole::active);
    if (theirs == sdp::SetupRole::actpass || theirs == sdp::SetupRole::holdconn)
      return Error{Errc::invalid_argument, "an answer must say a=setup:active or passive"};
    role = theirs == sdp::SetupRole::active ? dtls::DtlsRole::server : dtls::DtlsRole::client;
  }
  std::string fingerprint = sdp::format_fingerprint_value(fp->value);
  if (dtls_ && (role != dtls_role_ || fingerprint != remote_fingerprint_))
    return Error{Errc::unsupported, "changing the DTLS role or certificate needs a new connection"};

  // ICE role (RFC 8445 section 6.1.1): a full agent controls a lite peer; otherwise the offerer
  // controls. Toward a lite peer every check nominates (it only has the pairs we check).
  remote_ice_lite_ = remote.ice_lite;
  if (remote_ice_lite_)
    ice_.set_role(ice::Role::controlling, ice::Nomination::aggressive);
  else
    ice_.set_role(is_offer ? ice::Role::controlled : ice::Role::controlling,
                  config_.ice.nomination);

  ice_.set_remote_credentials(now, *data->ice_ufrag, *data->ice_pwd);
  for (const auto& c : data->candidates) {
    // Host-name (mDNS) candidates are not resolved here; the peer's checks still reach us and
    // teach its address as peer-reflexive (RFC 8445 section 7.3.1.3).
    (void)ice_.add_remote_candidate(now, c);
  }
  if (data->end_of_candidates) ice_.set_remote_end_of_candidates(now);

  dtls_role_ = role;
  remote_fingerprint_ = fingerprint;
  channels_.set_dtls_client(role == dtls::DtlsRole::client);
  if (data->max_message_size) config_.sctp.remote_max_message_size = *data->max_message_size;
  if (data->sctp_port) config_.sctp.remote_port = *data->sctp_port;
  if (!dtls_) {
    dtls::DtlsConfig dc = config_.dtls;
    dc.role = role;
    dc.certificate = config_.certificate;
    dc.remote_fingerprint = fingerprint;
    dtls_ = std::make_unique<dtls::DtlsTransport>(dc, rng_);
    // The server waits for a ClientHello; starting it now lets one that beats our own view of
    // ICE (the peer may select first) be answered at once.
    if (role == dtls::DtlsRole::server) start_dtls(now);
  }
  return {};
}

Result<std::string> PeerConnection::create_answer(Instant now) {
  if (signaling_ != Signaling::have_remote_offer || !remote_)
    return Error{Errc::invalid_state, "no remote offer to answer"};
  if (!config_.certificate) return Error{Errc::invalid_argument, "no DTLS certificate"};
  auto answer = sdp::make_answer(*remote_, local_parameters());
  if (!answer) return answer.error();
  ++session_version_;
  local_sdp_ = sdp::write_sdp(*answer);
  signaling_ = Signaling::stable;
  pump(now);
  return *local_sdp_;
}

Status PeerConnection::add_remote_candidate(Instant now, std::string_view line) {
  line = trim(line);
  if (line.substr(0, 2) == "a=") line.remove_prefix(2);
  Status s;
  if (line == "end-of-candidates") {
    ice_.set_remote_end_of_candidates(now);
  } else {
    auto c = ice::parse_candidate(line);
    if (!c) return c.error();
    s = ice_.add_remote_candidate(now, *c);
  }
  pump(now);
  return s;
}

std::optional<std::string> PeerConnection::local_description() const {
  return local_sdp_;
}

// ---------------------------------------------------------------------------------------------
// Data channels

Result<uint16_t> PeerConnection::create_data_channel(Instant now,
                                                     const datachannel::ChannelParameters& p) {
  if (state_ == PeerState::closed || state_ == PeerState::failed)
    return Error{Errc::invalid_state, "connection closed"};
  auto id = channels_.create(
      now, p, sctp_ && sctp_->state() == sctp::SctpState::established ? sctp_.get() : nullptr);
  if (id && !p.negotiated && !first_opened_channel_) first_opened_channel_ = *id;
  pump(now);
  return id;
}

Status PeerConnection::send(Instant now, uint16_t channel, ByteView data, bool binary) {
  Status s = channels_.send(now, channel, data, binary, sctp_.get());
  pump(now);
  return s;
}

Status PeerConnection::send(Instant now, uint16_t channel, SharedBytes data, bool binary) {
  Status s = channels_.send(now, channel, std::move(data), binary, sctp_.get());
  pump(now);
  return s;
}

Status PeerConnection::close_channel(Instant now, uint16_t channel) {
  Status s = channels_.close(now, channel, sctp_.get());
  pump(now);
  return s;
}

size_t PeerConnection::buffered_amount(uint16_t channel) const {
  const auto* c = channels_.find(channel);
  return sctp_ && c && c->stream ? sctp_->buffered_amount(*c->stream) : 0;
}

void PeerConnection::set_buffered_amount_low_threshold(uint16_t channel, size_t bytes) {
  const auto* c = channels_.find(channel);
  if (sctp_ && c && c->stream) sctp_->set_buffered_amount_low_threshold(*c->stream, bytes);
}

// ---------------------------------------------------------------------------------------------
// Network

void PeerConnection::handle_datagram(Instant now, const SocketAddress& local,
                                     const SocketAddress& from, ByteView data,
                                     TransportProtocol protocol) {
  if (relays_ && protocol == TransportProtocol::udp &&
      relays_->handle_datagram(now, local, from, data)) {
    pump(now);
    return;
  }
  if (state_ == PeerState::closed) return;
  receive(now, local, from, data, protocol);
  pump(now);
}

void PeerConnection::receive(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView data, TransportProtocol protocol) {
  if (state_ == PeerState::closed) return;
  if (!ice_.handle_packet(now, local, from, data, protocol)) {
    if (classify_packet(data) == PacketKind::dtls && dtls_) {
      // Only from the selected pair once there is one: the path ICE validated.
      const auto& sel = ice_.selected_pair();
      if (!sel || sel->remote.address == from) dtls_->handle_datagram(now, data);
    }
    // Anything else (RTP, unknown) has no place on a data-channel connection.
  }
}

void PeerConnection::handle_timeout(Instant now) {
  if (relays_) relays_->handle_timeout(now);
  if (state_ == PeerState::closed) {
    if (relays_) pump_relays(now);
    return;
  }
  ice_.handle_timeout(now);
  if (dtls_) dtls_->handle_timeout(now);
  if (sctp_) sctp_->handle_timeout(now);
  pump(now);
}

std::optional<Transmit> PeerConnection::poll_transmit() {
  if (!relays_ && socket_out_.empty()) return ice_.poll_transmit();
  if (relays_)
    while (auto t = ice_.poll_transmit())
      route_transmit(relay_now_, std::move(*t));
  if (!socket_out_.empty()) {
    Transmit t = std::move(socket_out_.front());
    socket_out_.pop_front();
    return t;
  }
  // The relays were handed over (take_relays): ICE's own, if any, after what was queued.
  if (!relays_) return ice_.poll_transmit();
  return relays_->poll_transmit();
}

// ---------------------------------------------------------------------------------------------
// TURN relays

Status PeerConnection::start_relays(Instant now, turn::RelayGathererConfig config) {
  if (relays_) return Error{Errc::invalid_state, "relays already started"};
  if (state_ == PeerState::closed) return Error{Errc::invalid_state, "connection closed"};
  relays_ = std::make_unique<turn::RelayGatherer>(std::move(config), rng_);
  Status s = relays_->start(now);
  pump(now);
  return s;
}

void PeerConnection::set_relay_credentials(const turn::TurnCredentials& credentials) {
  if (!relays_) return;
  for (size_t i = 0; i < relays_->server_count(); ++i)
    relays_->set_credentials(i, credentials);
}

std::unique_ptr<turn::RelayGatherer> PeerConnection::take_relays() {
  if (state_ != PeerState::closed || !relays_ || relays_->closed()) return nullptr;
  if (!relays_->closing()) relays_->close(relay_now_);  // bounded by its close_timeout
  // What ICE still had for the sockets leaves with the connection's own poll_transmit; the
  // relays' transmits are theirs.
  while (auto t = ice_.poll_transmit())
    route_transmit(relay_now_, std::move(*t));
  return std::move(relays_);
}

std::optional<turn::RelayEvent> PeerConnection::poll_relay_event() {
  if (relay_reports_.empty()) return std::nullopt;
  turn::RelayEvent e = std::move(relay_reports_.front());
  relay_reports_.pop_front();
  return e;
}

std::optional<StreamCommand> PeerConnection::poll_stream_command() {
  if (!relays_) return std::nullopt;
  while (auto t = ice_.poll_transmit())
    route_transmit(relay_now_, std::move(*t));
  return relays_->poll_stream_command();
}

void PeerConnection::handle_stream_connected(Instant now, uint32_t stream) {
  if (!relays_) return;
  relays_->handle_stream_connected(now, stream);
  pump(now);
}

void PeerConnection::handle_stream_data(Instant now, uint32_t stream, ByteView data) {
  if (!relays_) return;
  relays_->handle_stream_data(now, stream, data);
  pump(now);
}

void PeerConnection::handle_stream_closed(Instant now, uint32_t stream) {
  if (!relays_) return;
  relays_->handle_stream_closed(now, stream);
  pump(now);
}

std::optional<SocketRequest> PeerConnection::poll_socket_request() {
  if (!relays_) return std::nullopt;
  return relays_->poll_socket_request();
}

void PeerConnection::handle_socket_bound(Instant now, uint32_t id,
                                         const std::optional<SocketAddress>& bound) {
  if (!relays_) return;
  relays_->handle_socket_bound(now, id, bound);
  pump(now);
}

void PeerConnection::route_transmit(Instant now, Transmit t) {
  if (relays_->owns(t.from)) {
    // A relayed base (RFC 8445 section 5.1.1.2): the TURN client sends it to the peer.
    (void)relays_->send(now, t.from, t.to, t.data);  // loss, like a full socket buffer
    return;
  }
  socket_out_.push_back(std::move(t));
}

bool PeerConnection::pump_relays(Instant now) {
  relay_now_ = now;
  bool moved = false;
  while (auto t = ice_.poll_transmit()) {
    moved = true;
    route_transmit(now, std::move(*t));
  }
  while (auto e = relays_->poll_event()) {
    moved = true;
    if (auto* d = std::get_if<turn::event::RelayData>(&*e)) {
      receive(now, d->relayed, d->peer, d->data, TransportProtocol::udp);
      continue;
    }
    if (auto* c = std::get_if<turn::event::RelayedCandidate>(&*e)) {
      if (state_ != PeerState::closed && state_ != PeerState::failed)
        (void)ice_.add_local_candidate(now, c->candidate);
    }
    if (auto* f = std::get_if<turn::event::ServerFailed>(&*e); f && f->relayed) {
      // The allocation died (refresh refused or unanswered, 437, its TCP/TLS connection lost):
      // its candidate leaves ICE, and the path moves to another valid pair.
      (void)ice_.withdraw_local_candidate(now, *f->relayed);
    }
    if (std::get_if<turn::event::GatheringDone>(&*e)) maybe_end_of_candidates();
    // Bounded: a connection's servers report a handful of events in all.
    if (relay_reports_.size() < 64) relay_reports_.push_back(std::move(*e));
  }
  return moved;
}

void PeerConnection::maybe_end_of_candidates() {
  if (gathering_complete_ || !ice_gathering_complete_) return;
  if (relays_ && !relays_->gathering_done()) return;
  gathering_complete_ = true;
  events_.push_back(event::LocalCandidate{std::nullopt});
}

std::optional<PeerEvent> PeerConnection::poll_event() {
  if (events_.empty()) return std::nullopt;
  PeerEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Instant> PeerConnection::next_timeout() const {
  if (state_ == PeerState::closed) return relays_ ? relays_->next_timeout() : std::nullopt;
  std::optional<Instant> t = ice_.next_timeout();
  if (relays_) t = earliest(t, relays_->next_timeout());
  if (dtls_) t = earliest(t, dtls_->next_timeout());
  if (sctp_) t = earliest(t, sctp_->next_timeout());
  return t;
}

void PeerConnection::start_dtls(Instant now) {
  if (!dtls_ || dtls_->state() != dtls::DtlsState::new_) return;
  Status s = dtls_->start(now);
  if (!s) fail(std::string("DTLS: ") + s.error().reason);
}

void PeerConnection::pump(Instant now) {
  for (int round = 0; round < kMaxPumpRounds; ++round) {
    bool moved = false;
    while (auto e = ice_.poll_event()) {
      moved = true;
      on_ice_event(now, std::move(*e));
    }
    if (relays_ && pump_relays(now)) moved = true;
    if (dtls_) {
      while (auto d = dtls_->poll_transmit()) {
        moved = true;
        (void)ice_.send(std::move(*d));  // no selected pair yet: DTLS retransmits later
      }
      while (auto e = dtls_->poll_event()) {
        moved = true;
        if (std::get_if<dtls::event::Connected>(&*e)) {
          timeline_.dtls_connected = now;
          round_trips_.dtls = dtls_->stats().flights_sent;
          sctp::SctpConfig sc = config_.sctp;
          // One SCTP packet per DTLS record, so it must fit what a record carries in the MTU.
          sc.mtu = std::min(sc.mtu, dtls_->max_payload().value_or(sc.mtu));
          sctp_ = std::make_unique<sctp::SctpAssociation>(sc, rng_);
          // RFC 8841 section 10: both sides initiate; SCTP resolves the collision.
          sctp_->connect(now);
        } else if (auto* d = std::get_if<dtls::event::Data>(&*e)) {
          if (sctp_) sctp_->handle_packet(now, d->data);
        } else if (std::get_if<dtls::event::Closed>(&*e)) {
          channels_.detach();
          set_state(PeerState::closed);
        } else if (auto* f = std::get_if<dtls::event::Failed>(&*e)) {
          fail(std::string("DTLS: ") + f->reason);
        }
      }
    }
    if (sctp_ && dtls_) {
      while (auto p = sctp_->poll_transmit()) {
        moved = true;
        if (!setup_counted()) count_setup_packet(*p);
        (void)dtls_->send(now, *p);  // SCTP retransmits what is lost
      }
      while (auto e = sctp_->poll_event()) {
        moved = true;
        if (std::get_if<sctp::event::Connected>(&*e)) {
          timeline_.sctp_connected = now;
          channels_.attach(now, *sctp_);
          set_state(PeerState::connected);
        } else if (std::get_if<sctp::event::Closed>(&*e)) {
          channels_.detach();
          set_state(PeerState::closed);
        } else if (auto* a = std::get_if<sctp::event::Aborted>(&*e)) {
          channels_.detach();
          fail("SCTP aborted: " + a->reason);
        } else {
          channels_.handle(now, *e, *sctp_);
        }
      }
    }
    while (auto e = channels_.poll_event()) {
      moved = true;
      if (std::get_if<datachannel::event::ChannelOpen>(&*e) && !timeline_.first_channel_open)
        timeline_.first_channel_open = now;
      if (first_opened_channel_ && !dcep_exchanged_)
        if (const auto* c = channels_.find(*first_opened_channel_); c && c->acked)
          dcep_exchanged_ = true;
      std::visit([this](auto&& v) { events_.emplace_back(std::move(v)); }, std::move(*e));
    }
    if (!moved) return;
  }
}

void PeerConnection::on_ice_event(Instant now, ice::IceEvent e) {
  if (auto* c = std::get_if<ice::event::LocalCandidate>(&e)) {
    events_.push_back(event::LocalCandidate{std::move(c->candidate)});
  } else if (std::get_if<ice::event::GatheringComplete>(&e)) {
    ice_gathering_complete_ = true;
    maybe_end_of_candidates();
  } else if (std::get_if<ice::event::SelectedPairChanged>(&e)) {
    if (!timeline_.ice_connected) {
      timeline_.ice_connected = now;
      const ice::IceStats& ice = ice_.stats();
      round_trips_.ice = ice.checks_sent + ice.retransmissions;
      if (round_trips_.ice == 0) round_trips_.ice = ice.requests_received;
    } else if (sctp_) {
      // A pair selected again (after an ICE restart, or a better one): SCTP need not wait
      // for a retransmission timer backed off while the old path was silent.
      sctp_->handle_path_restored(now);
    }
    start_dtls(now);
  } else if (auto* s = std::get_if<ice::event::StateChanged>(&e)) {
    if (s->state == ice::IceState::disconnected && state_ == PeerState::connected) {
      set_state(PeerState::disconnected);
    } else if (s->state == ice::IceState::connected && state_ == PeerState::disconnected) {
      set_state(PeerState::connected);
      // Consent regained (RFC 7675): the path answers again.
      if (sctp_) sctp_->handle_path_restored(now);
    } else if (s->state == ice::IceState::failed) {
      fail("ICE failed");
    }
  } else if (std::get_if<ice::event::ConsentLost>(&e)) {
    fail("ICE consent lost (RFC 7675)");
  }
}

void PeerConnection::fail(std::string reason) {
  if (state_ == PeerState::failed || state_ == PeerState::closed) return;
  events_.push_back(event::Failed{std::move(reason)});
  set_state(PeerState::failed);
}

void PeerConnection::set_state(PeerState s) {
  if (state_ == s) return;
  state_ = s;
  events_.push_back(event::StateChanged{s});
}

void PeerConnection::close(Instant now) {
  if (state_ == PeerState::closed) {
    // Closed by the peer (its close_notify or ABORT): the allocations are still to release.
    if (relays_ && !relays_->closing()) {
      pump_relays(now);
      relays_->close(now);
    }
    return;
  }
  if (sctp_) sctp_->abort(now, "closed");
  pump(now);
  if (dtls_) dtls_->close(now);
  pump(now);
  channels_.detach();
  // RFC 8656 section 7.2: the allocations are released (their Refresh with LIFETIME 0 goes
  // out after the close_notify routed above).
  if (relays_) {
    pump_relays(now);
    relays_->close(now);
  }
  ice_.close();
  set_state(PeerState::closed);
}

void PeerConnection::restart_ice(Instant now) {
  ice_.restart(now);
  gathering_complete_ = false;
  ice_gathering_complete_ = false;
  pump(now);
}

void PeerConnection::count_setup_packet(ByteView sctp_packet) {
  SetupPacketContent content = classify_setup_packet(sctp_packet);
  if (content.association_setup && !timeline_.sctp_connected) ++round_trips_.sctp;
  if (content.dcep) ++round_trips_.channel;
}

// Our first in-band channel's OPEN waits for the peer's ACK (RFC 8832 section 6); without one,
// the first channel to open (the peer's OPEN, or a negotiated channel) ends the setup.
bool PeerConnection::setup_counted() const {
  return first_opened_channel_ ? dcep_exchanged_ : timeline_.first_channel_open.has_value();
}

PeerStats PeerConnection::stats() const {
  PeerStats s;
  s.timeline = timeline_;
  s.round_trips = round_trips_;
  s.ice = ice_.stats();
  if (dtls_) s.dtls = dtls_->stats();
  if (sctp_) s.sctp = sctp_->stats();
  return s;
}

}  // namespace cellrtc::peer
