#include "core/sctp/sctp_association.h"

#include <algorithm>

#include "core/common/crypto.h"

namespace cellrtc::sctp {
namespace {

constexpr uint64_t kTsnBase = uint64_t{1} << 32;  // unwrapped TSNs start here
constexpr uint8_t kCookieVersion = 1;
constexpr size_t kCookieFieldsSize = 1 + 4 * 5 + 2 * 2 + 1 + 8;
constexpr size_t kCookieSize = kCookieFieldsSize + 20;
constexpr size_t kMaxDuplicatesReported = 16;
constexpr size_t kMaxStreamsPerReset = 256;
constexpr size_t kMaxDeliverySamples = 64;
// CongestionControl::delivery_rate (see its comment in the header).
constexpr Duration kMinRttWindow = seconds(10);
constexpr Duration kProbeRttTime = milliseconds(200);
constexpr size_t kProbeRttPackets = 4;
constexpr int kFullRateRounds = 3;

bool serial_less16(uint16_t a, uint16_t b) {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b)) < 0;
}

uint64_t unwrap(uint64_t reference, uint32_t value) {
  int32_t delta = static_cast<int32_t>(value - static_cast<uint32_t>(reference));
  return reference + static_cast<int64_t>(delta);
}

}  // namespace

const char* to_string(SctpState state) {
  switch (state) {
    case SctpState::closed:
      return "closed";
    case SctpState::cookie_wait:
      return "cookie-wait";
    case SctpState::cookie_echoed:
      return "cookie-echoed";
    case SctpState::established:
      return "established";
    case SctpState::shutdown_pending:
      return "shutdown-pending";
    case SctpState::shutdown_sent:
      return "shutdown-sent";
    case SctpState::shutdown_received:
      return "shutdown-received";
    case SctpState::shutdown_ack_sent:
      return "shutdown-ack-sent";
  }
  return "?";
}

SctpAssociation::SctpAssociation(SctpConfig config, Random& rng) : config_(config), rng_(rng) {
  // Packets must hold a DATA chunk with some payload and a SACK with a few gap blocks.
  config_.mtu = std::clamp<size_t>(config_.mtu, 256, kMaxPacketSize);
  if (config_.num_streams == 0) config_.num_streams = 1;
  rng_.fill(secret_);
  rto_ = config_.rto_initial;
}

// ---------------------------------------------------------------- setup (RFC 9260 section 5)

InitChunk SctpAssociation::make_init() const {
  InitChunk init;
  init.initiate_tag = local_tag_;
  init.a_rwnd = static_cast<uint32_t>(std::min<size_t>(config_.receive_window, UINT32_MAX));
  init.outbound_streams = config_.num_streams;
  init.inbound_streams = config_.num_streams;
  init.initial_tsn = local_initial_tsn_;
  // RFC 8831 section 6: data channels need partial reliability and stream reset; browsers
  // look for both in the Supported Extensions parameter (RFC 5061 section 4.2.7).
  init.forward_tsn_supported = true;
  init.supported_extensions = {static_cast<uint8_t>(ChunkType::reconfig),
                               static_cast<uint8_t>(ChunkType::forward_tsn)};
  return init;
}

void SctpAssociation::connect(Instant now) {
  if (state_ != SctpState::closed) return;
  do {
    local_tag_ = rng_.next_u32();
  } while (local_tag_ == 0);
  local_initial_tsn_ = rng_.next_u32();
  state_ = SctpState::cookie_wait;
  PacketBuilder b(config_.local_port, config_.remote_port, 0, config_.mtu);
  b.add_init(make_init(), ChunkType::init);
  send_packet(b);
  t1_rto_ = config_.rto_initial;
  t1_ = now + t1_rto_;
  init_retransmissions_ = 0;
}

// The cookie (RFC 9260 section 5.1.3) holds everything needed to build the association from
// a COOKIE ECHO alone, a timestamp for staleness, and an HMAC-SHA1 under a secret drawn from
// the injected Random at construction.
Bytes SctpAssociation::encode_cookie(const Cookie& c) const {
  Bytes out;
  ByteWriter w(out);
  w.u8(kCookieVersion);
  w.u32(c.local_tag);
  w.u32(c.local_initial_tsn);
  w.u32(c.peer_tag);
  w.u32(c.peer_initial_tsn);
  w.u32(c.peer_rwnd);
  w.u16(c.peer_outbound_streams);
  w.u16(c.peer_inbound_streams);
  w.u8(static_cast<uint8_t>((c.peer_forward_tsn ? 1 : 0) | (c.peer_reconfig ? 2 : 0)));
  w.u64(static_cast<uint64_t>(c.timestamp_us));
  Sha1Digest mac = hmac_sha1(secret_, out);
  w.bytes(mac);
  return out;
}

std::optional<SctpAssociation::Cookie> SctpAssociation::decode_cookie(ByteView bytes) const {
  if (bytes.size() != kCookieSize || bytes[0] != kCookieVersion) return std::nullopt;
  Sha1Digest mac = hmac_sha1(secret_, bytes.first(kCookieFieldsSize));
  if (!constant_time_equal(mac, bytes.subspan(kCookieFieldsSize))) return std::nullopt;
  ByteReader r(bytes.subspan(1));
  Cookie c;
  c.local_tag = r.u32();
  c.local_initial_tsn = r.u32();
  c.peer_tag = r.u32();
  c.peer_initial_tsn = r.u32();
  c.peer_rwnd = r.u32();
  c.peer_outbound_streams = r.u16();
  c.peer_inbound_streams = r.u16();
  uint8_t flags = r.u8();
  c.peer_forward_tsn = flags & 1;
  c.peer_reconfig = flags & 2;
  c.timestamp_us = static_cast<int64_t>(r.u64());
  return c;
}

// What an INIT or INIT ACK tells about the peer, with our own tag and TSN: the state the
// cookie carries (responder) or that COOKIE ACK will establish (initiator).
SctpAssociation::Cookie SctpAssociation::cookie_from(const InitChunk& init, uint32_t local_tag,
                                                     uint32_t local_initial_tsn) {
  Cookie c;
  c.local_tag = local_tag;
  c.local_initial_tsn = local_initial_tsn;
  c.peer_tag = init.initiate_tag;
  c.peer_initial_tsn = init.initial_tsn;
  c.peer_rwnd = init.a_rwnd;
  c.peer_outbound_streams = init.outbound_streams;
  c.peer_inbound_streams = init.inbound_streams;
  c.peer_forward_tsn = init.forward_tsn_supported || init.supports(ChunkType::forward_tsn);
  c.peer_reconfig = init.supports(ChunkType::reconfig);
  return c;
}

void SctpAssociation::handle_init(Instant now, const CommonHeader& header, const InitChunk& init) {
  (void)header;
  uint32_t tag = local_tag_;
  uint32_t tsn = local_initial_tsn_;
  switch (state_) {
    case SctpState::closed:
      // Stateless until the COOKIE ECHO: fresh values travel in the cookie only.
      do {
        tag = rng_.next_u32();
      } while (tag == 0);
      tsn = rng_.next_u32();
      break;
    case SctpState::cookie_wait:
    case SctpState::cookie_echoed:
      // RFC 9260 section 5.2.1: the INIT ACK repeats our own INIT's tag and TSN, so both
      // handshakes of a collision lead to the same association.
      break;
    default:
      // RFC 9260 section 5.2.2 (restart) is not supported: the INIT is ignored.
      return;
  }
  Cookie c = cookie_from(init, tag, tsn);
  c.timestamp_us = now.us();
  Bytes cookie = encode_cookie(c);
  InitChunk ack = make_init();
  ack.initiate_tag = tag;
  ack.initial_tsn = tsn;
  ack.state_cookie = ByteView(cookie);
  PacketBuilder b(config_.local_port, config_.remote_port, init.initiate_tag, config_.mtu);
  b.add_init(ack, ChunkType::init_ack);
  send_packet(b);
}

void SctpAssociation::handle_init_ack(Instant now, const InitChunk& init) {
  if (state_ != SctpState::cookie_wait) return;  // RFC 9260 section 5.2.3: discard
  pending_ = cookie_from(init, local_tag_, local_initial_tsn_);
  peer_tag_ = init.initiate_tag;
  cookie_to_echo_ = Bytes(init.state_cookie->begin(), init.state_cookie->end());
  state_ = SctpState::cookie_echoed;
  PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
  b.add(CookieEchoChunk{*cookie_to_echo_});
  send_packet(b);
  t1_rto_ = config_.rto_initial;
  t1_ = now + t1_rto_;
  init_retransmissions_ = 0;
}

void SctpAssociation::handle_cookie_echo(Instant now, const CommonHeader& header, ByteView bytes) {
  std::optional<Cookie> cookie = decode_cookie(bytes);
  if (!cookie) return;  // RFC 9260 section 5.1.5 step 2: silently discarded
  // RFC 9260 section 5.1.5 step 3: the tag in the header must be the one we chose.
  if (header.verification_tag != cookie->local_tag) return;
  Duration age = Duration(now.us() - cookie->timestamp_us);
  if (age > config_.cookie_lifetime || age < Duration(0)) {
    // RFC 9260 section 5.1.5 step 3 and 3.3.10.3: Stale Cookie error with the staleness.
    Bytes staleness;
    ByteWriter(staleness).u32(static_cast<uint32_t>(std::min<int64_t>(age.count(), UINT32_MAX)));
    PacketBuilder b(config_.local_port, config_.remote_port, cookie->peer_tag, config_.mtu);
    b.add(ErrorChunk{{ErrorCause{static_cast<uint16_t>(CauseCode::stale_cookie), staleness}}});
    send_packet(b);
    return;
  }
  switch (state_) {
    case SctpState::closed:
    case SctpState::cookie_wait:
    case SctpState::cookie_echoed:
      establish(now, *cookie);
      break;
    default:
      // RFC 9260 section 5.2.4 case D: our COOKIE ACK was lost; other cases are restarts,
      // which are not supported.
      if (cookie->local_tag != local_tag_ || cookie->peer_tag != peer_tag_) return;
      break;
  }
  PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
  b.add(CookieAckChunk{});
  send_packet(b);
}

void SctpAssociation::establish(Instant now, const Cookie& c) {
  local_tag_ = c.local_tag;
  peer_tag_ = c.peer_tag;
  local_initial_tsn_ = c.local_initial_tsn;
  next_tsn_ = kTsnBase + c.local_initial_tsn;
  cum_ack_ = next_tsn_ - 1;
  advanced_peer_ack_ = cum_ack_;
  peer_cum_tsn_ = kTsnBase + c.peer_initial_tsn - 1;
  outbound_streams_ = std::min(config_.num_streams, c.peer_inbound_streams);
  inbound_streams_ = std::min(config_.num_streams, c.peer_outbound_streams);
  peer_forward_tsn_ = c.peer_forward_tsn;
  peer_reconfig_ = c.peer_reconfig;
  peer_rwnd_ = c.peer_rwnd;
  // RFC 9260 section 7.2.1: initial cwnd min(4 MTU, max(2 MTU, 4380)); ssthresh may start
  // arbitrarily high, here the peer's window.
  cwnd_ = std::min(4 * config_.mtu, std::max<size_t>(2 * config_.mtu, 4380));
  ssthresh_ = std::max<size_t>(c.peer_rwnd, 4 * config_.mtu);
  rto_ = config_.rto_initial;
  // RFC 6525 section 5.1.1: request sequence numbers start at the initial TSN.
  next_request_sequence_ = c.local_initial_tsn;
  peer_next_request_sequence_ = c.peer_initial_tsn;
  t1_.reset();
  cookie_to_echo_.reset();
  last_advertised_rwnd_ = advertised_rwnd();
  state_ = SctpState::established;
  heartbeat_at_ = now + config_.heartbeat_interval;
  events_.push_back(event::Connected{});
}

// ---------------------------------------------------------------- input

void SctpAssociation::handle_packet(Instant now, ByteView bytes) {
  auto parsed = parse_packet(bytes);
  if (!parsed) return;
  const Packet& packet = *parsed;
  if (packet.header.destination_port != config_.local_port) return;
  ++counters_.packets_received;
  const CommonHeader& h = packet.header;
  uint8_t first = packet.chunks.front().type;

  // RFC 9260 section 8.5 / 8.5.1: verification tag rules.
  if (first == static_cast<uint8_t>(ChunkType::init)) {
    // INIT is alone in its packet with a zero tag (RFC 9260 section 6.10, 8.5.1 A).
    if (h.verification_tag != 0 || packet.chunks.size() != 1) return;
    auto init = InitChunk::parse(packet.chunks.front());
    if (init) handle_init(now, h, *init);
    return;
  }
  bool cookie_echo_first = first == static_cast<uint8_t>(ChunkType::cookie_echo);
  if (!cookie_echo_first) {
    const RawChunk& c = packet.chunks.front();
    bool t_bit_chunk = c.type == static_cast<uint8_t>(ChunkType::abort) ||
                       c.type == static_cast<uint8_t>(ChunkType::shutdown_complete);
    uint32_t expected = (t_bit_chunk && (c.flags & 1)) ? peer_tag_ : local_tag_;
    if (state_ == SctpState::closed || h.verification_tag != expected) return;
  }

  const bool was_backed_off = backed_off_;
  bool had_data = false;
  bool gap_or_dup = false;
  for (size_t i = 0; i < packet.chunks.size(); ++i) {
    const RawChunk& raw = packet.chunks[i];
    if (state_ == SctpState::closed && i > 0) break;  // an ABORT ended it mid-packet
    switch (static_cast<ChunkType>(raw.type)) {
      case ChunkType::data: {
        auto d = DataChunk::parse(raw);
        if (!d) {
          // RFC 9260 section 6.2: an empty DATA chunk aborts with "No User Data".
          fail(now, "DATA chunk without user data");
          return;
        }
        had_data = true;
        handle_data(now, *d, gap_or_dup);
        break;
      }
      case ChunkType::init_ack: {
        if (packet.chunks.size() != 1) return;
        auto init = InitChunk::parse(raw);
        if (init) handle_init_ack(now, *init);
        break;
      }
      case ChunkType::sack: {
        auto s = SackChunk::parse(raw);
        if (s) handle_sack(now, *s);
        break;
      }
      case ChunkType::heartbeat: {
        auto hb = HeartbeatChunk::parse(raw);
        // RFC 9260 section 8.3: echo the info unchanged.
        if (hb) heartbeat_ack_info_ = Bytes(hb->info.begin(), hb->info.end());
        break;
      }
      case ChunkType::heartbeat_ack: {
        auto hb = HeartbeatChunk::parse(raw);
        if (!hb || hb->info.size() != 16 || !heartbeat_sent_) break;
        ByteReader r(hb->info);
        uint64_t nonce = r.u64();
        int64_t sent_us = static_cast<int64_t>(r.u64());
        if (nonce != heartbeat_nonce_) break;
        heartbeat_sent_.reset();
        error_count_ = 0;
        if (sent_us <= now.us()) on_rto_sample(now, Duration(now.us() - sent_us));
        break;
      }
      case ChunkType::abort: {
        auto a = AbortChunk::parse(raw);
        std::string reason = "peer aborted";
        if (a) {
          for (const ErrorCause& c : a->causes) {
            if (c.code == static_cast<uint16_t>(CauseCode::user_initiated_abort) &&
                !c.info.empty()) {
              reason = std::string(as_chars(c.info));
            } else if (reason == "peer aborted") {
              reason = "peer aborted with cause " + std::to_string(c.code);
            }
          }
        }
        close_with(event::Aborted{std::move(reason)});
        return;
      }
      case ChunkType::shutdown: {
        auto s = ShutdownChunk::parse(raw);
        if (!s) break;
        if (state_ == SctpState::established || state_ == SctpState::shutdown_pending ||
            state_ == SctpState::shutdown_sent) {
          // RFC 9260 section 9.2: the SHUTDOWN's cumulative ack counts as a SACK's.
          SackChunk sack;
          sack.cumulative_tsn_ack = s->cumulative_tsn_ack;
          sack.a_rwnd = static_cast<uint32_t>(peer_rwnd_ + flight_size_);
          handle_sack(now, sack);
          if (state_ == SctpState::shutdown_sent) {
            // Both sides shut down at once: answer with SHUTDOWN ACK (section 9.2).
            state_ = SctpState::shutdown_received;
            t2_.reset();
          } else {
            state_ = SctpState::shutdown_received;
          }
        }
        break;
      }
      case ChunkType::shutdown_ack: {
        if (state_ == SctpState::shutdown_sent || state_ == SctpState::shutdown_ack_sent) {
          PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
          b.add(ShutdownCompleteChunk{});
          send_packet(b);
          close_with(event::Closed{});
          return;
        }
        break;
      }
      case ChunkType::shutdown_complete: {
        if (state_ == SctpState::shutdown_ack_sent) {
          close_with(event::Closed{});
          return;
        }
        break;
      }
      case ChunkType::error: {
        auto e = ErrorChunk::parse(raw);
        if (!e || state_ != SctpState::cookie_echoed) break;
        for (const ErrorCause& c : e->causes) {
          if (c.code == static_cast<uint16_t>(CauseCode::stale_cookie)) {
            // RFC 9260 section 5.2.6: start over with a new INIT.
            state_ = SctpState::closed;
            connect(now);
            return;
          }
        }
        break;
      }
      case ChunkType::cookie_echo: {
        auto ce = CookieEchoChunk::parse(raw);
        if (ce) handle_cookie_echo(now, h, ce->cookie);
        if (state_ == SctpState::closed) return;
        break;
      }
      case ChunkType::cookie_ack: {
        if (state_ == SctpState::cookie_echoed) establish(now, pending_);
        break;
      }
      case ChunkType::forward_tsn: {
        auto f = ForwardTsnChunk::parse(raw);
        if (f) handle_forward_tsn(now, *f);
        break;
      }
      case ChunkType::reconfig: {
        auto rc = ReconfigChunk::parse(raw);
        if (rc) handle_reconfig(now, *rc);
        break;
      }
      default:
        // RFC 9260 section 3.2: the two high bits of an unknown type say whether to skip it
        // (1x) or stop processing the packet (0x). Reporting (x1) is not done.
        if ((raw.type & 0x80) == 0) i = packet.chunks.size();
        break;
    }
  }

  if (had_data) {
    maybe_perform_peer_reset(now);
    ++packets_unacked_;
    // RFC 9260 section 6.7: a gap or a duplicate is acknowledged at once; otherwise every
    // second packet (section 6.2), or when shutting down (section 9.2).
    if (gap_or_dup || !received_above_cum_.empty() || packets_unacked_ >= 2 ||
        state_ == SctpState::shutdown_sent) {
      sack_now_ = true;
    } else if (!delayed_ack_) {
      delayed_ack_ = now + config_.delayed_ack;
    }
  }
  // A packet from the peer (its tag checked above) while T3 is backed off: the path works
  // again, at least from the peer to us. The RTO returns to the computed one (RFC 6298
  // section 5's collapse, without waiting for an RTT sample that Karn's rule denies to
  // retransmitted chunks) and the outstanding data goes now. The error count is cleared only
  // by evidence of our direction too (a HEARTBEAT ACK, RFC 9260 section 8.3, or a SACK that
  // acknowledges new data): with packets lost one way only, T3's expiries still end the
  // association after Association.Max.Retrans. After the packet's chunks, so that what it
  // acknowledged is not sent again.
  // A closed receive window is no outage: the peer answers, T3 paces the window probes with
  // its backoff (RFC 9260 section 6.1), and only the HEARTBEAT probes stop.
  if (was_backed_off && backed_off_ && peer_window_closed_) {
    backed_off_ = false;
    backoff_probe_at_.reset();
  }
  if (was_backed_off && backed_off_) resume_after_outage(now, true, false);
  flush(now);
}

// ---------------------------------------------------------------- receiving data

uint32_t SctpAssociation::advertised_rwnd() const {
  size_t held = held_bytes();
  return static_cast<uint32_t>(std::min<size_t>(
      config_.receive_window > held ? config_.receive_window - held : 0, UINT32_MAX));
}

void SctpAssociation::handle_data(Instant now, const DataChunk& d, bool& gap_or_dup) {
  (void)now;
  if (state_ == SctpState::closed || state_ == SctpState::cookie_wait ||
      state_ == SctpState::cookie_echoed)
    return;
  uint64_t tsn = unwrap(peer_cum_tsn_, d.tsn);
  if (tsn <= peer_cum_tsn_ || received_above_cum_.count(tsn)) {
    // RFC 9260 section 6.2: duplicates are reported in the next SACK.
    ++counters_.duplicate_chunks;
    if (duplicates_.size() < kMaxDuplicatesReported) duplicates_.push_back(d.tsn);
    gap_or_dup = true;
    return;
  }
  bool fills_gap = tsn == peer_cum_tsn_ + 1;
  size_t size = d.payload.size();
  // Gap block offsets are 16 bits; beyond that, or beyond our bounds, the chunk is dropped
  // without being acknowledged and the sender retransmits it later (RFC 9260 section 6.2).
  bool room = held_bytes() + size <= config_.receive_window ||
              (fills_gap && undelivered_bytes_ <= config_.receive_window);
  if (tsn - peer_cum_tsn_ > 0xFFFF || !room ||
      (!fills_gap && received_above_cum_.size() >= config_.max_out_of_order_chunks)) {
    ++counters_.dropped_chunks;
    return;
  }
  received_above_cum_.insert(tsn);
  if (!fills_gap) gap_or_dup = true;
  if (d.stream >= inbound_streams_) {
    // RFC 9260 section 6.5: acknowledged, reported as an invalid stream, discarded.
    advance_cumulative();
    return;
  }
  RecvChunk c;
  c.stream = d.stream;
  c.ssn = d.ssn;
  c.ppid = d.ppid;
  c.unordered = d.unordered;
  c.beginning = d.beginning;
  c.ending = d.ending;
  c.payload.assign(d.payload.begin(), d.payload.end());
  reassembly_bytes_ += size;
  reassembly_.emplace(tsn, std::move(c));
  advance_cumulative();
  try_reassemble(tsn);
}

void SctpAssociation::advance_cumulative() {
  while (!received_above_cum_.empty() && *received_above_cum_.begin() <= peer_cum_tsn_ + 1) {
    peer_cum_tsn_ = std::max(peer_cum_tsn_, *received_above_cum_.begin());
    received_above_cum_.erase(received_above_cum_.begin());
  }
}

// Fragments of one message carry consecutive TSNs (RFC 9260 section 6.9), so a message is
// complete when a run from a B chunk to an E chunk of one stream (and SSN, when ordered) is.
void SctpAssociation::try_reassemble(uint64_t tsn) {
  auto it = reassembly_.find(tsn);
  if (it == reassembly_.end()) return;
  const RecvChunk& at = it->second;
  auto same_message = [&](const RecvChunk& o) {
    return o.stream == at.stream && o.unordered == at.unordered &&
           (at.unordered || o.ssn == at.ssn);
  };
  size_t bytes = at.payload.size();
  bool complete = true;
  auto first = it;
  while (!first->second.beginning) {
    if (first == reassembly_.begin()) {
      complete = false;
      break;
    }
    auto prev = std::prev(first);
    if (prev->first != first->first - 1 || !same_message(prev->second) || prev->second.ending) {
      complete = false;
      break;
    }
    first = prev;
    bytes += first->second.payload.size();
  }
  auto last = it;
  while (!last->second.ending) {
    auto next = std::next(last);
    if (next == reassembly_.end() || next->first != last->first + 1 ||
        !same_message(next->second) || next->second.beginning) {
      complete = false;
      break;
    }
    last = next;
    bytes += last->second.payload.size();
  }
  // RFC 8841 section 6.1: our max-message-size bounds reassembly.
  if (bytes > config_.max_receive_message_size) {
    fail(Instant{}, "received message larger than max-message-size");
    return;
  }
  if (!complete) return;
  Bytes message;
  message.reserve(bytes);
  uint16_t stream = first->second.stream;
  uint16_t ssn = first->second.ssn;
  uint32_t ppid = first->second.ppid;
  bool unordered = first->second.unordered;
  auto end = std::next(last);
  for (auto i = first; i != end; ++i)
    message.insert(message.end(), i->second.payload.begin(), i->second.payload.end());
  reassembly_.erase(first, end);
  reassembly_bytes_ -= bytes;
  if (unordered) {
    queue_message(stream, ppid, std::move(message), true);
    return;
  }
  InStream& in = in_streams_[stream];
  if (serial_less16(ssn, in.next_ssn)) return;  // skipped by a FORWARD TSN already
  ready_bytes_ += bytes;
  in.ready.push_back(ReadyMessage{ssn, ppid, std::move(message)});
  deliver_ordered(stream);
}

void SctpAssociation::deliver_ordered(uint16_t stream) {
  auto s = in_streams_.find(stream);
  if (s == in_streams_.end()) return;
  InStream& in = s->second;
  for (bool found = true; found;) {
    found = false;
    for (size_t i = 0; i < in.ready.size(); ++i) {
      if (in.ready[i].ssn != in.next_ssn) continue;
      ReadyMessage m = std::move(in.ready[i]);
      in.ready.erase(in.ready.begin() + static_cast<ptrdiff_t>(i));
      ready_bytes_ -= m.data.size();
      queue_message(stream, m.ppid, std::move(m.data), false);
      ++in.next_ssn;
      found = true;
      break;
    }
  }
}

void SctpAssociation::queue_message(uint16_t stream, uint32_t ppid, Bytes data, bool unordered) {
  undelivered_bytes_ += data.size();
  ++counters_.messages_received;
  events_.push_back(event::Message{stream, ppid, std::move(data), unordered});
}

void SctpAssociation::handle_forward_tsn(Instant now, const ForwardTsnChunk& f) {
  if (state_ != SctpState::established && state_ != SctpState::shutdown_pending &&
      state_ != SctpState::shutdown_sent)
    return;
  sack_now_ = true;  // RFC 3758 section 3.6
  uint64_t new_cum = unwrap(peer_cum_tsn_, f.new_cumulative_tsn);
  if (new_cum > peer_cum_tsn_) {
    // RFC 3758 section 3.6: everything up to the new cumulative TSN is given up.
    for (auto it = reassembly_.begin(); it != reassembly_.end() && it->first <= new_cum;) {
      reassembly_bytes_ -= it->second.payload.size();
      it = reassembly_.erase(it);
    }
    received_above_cum_.erase(received_above_cum_.begin(),
                              received_above_cum_.upper_bound(new_cum));
    peer_cum_tsn_ = new_cum;
    advance_cumulative();
  }
  for (const ForwardTsnChunk::Skipped& s : f.skipped) {
    if (s.stream >= inbound_streams_) continue;
    InStream& in = in_streams_[s.stream];
    if (serial_less16(s.ssn, in.next_ssn)) continue;
    in.next_ssn = static_cast<uint16_t>(s.ssn + 1);
    for (size_t i = 0; i < in.ready.size();) {
      if (serial_less16(in.ready[i].ssn, in.next_ssn)) {
        ready_bytes_ -= in.ready[i].data.size();
        in.ready.erase(in.ready.begin() + static_cast<ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    deliver_ordered(s.stream);
  }
  // Messages whose fragments now start right after the new cumulative TSN may be complete.
  if (!reassembly_.empty()) try_reassemble(reassembly_.begin()->first);
  maybe_perform_peer_reset(now);
}

SackChunk SctpAssociation::make_sack() {
  SackChunk s;
  s.cumulative_tsn_ack = static_cast<uint32_t>(peer_cum_tsn_);
  s.a_rwnd = advertised_rwnd();
  s.duplicate_tsns = std::move(duplicates_);
  duplicates_.clear();
  size_t room = config_.mtu - kCommonHeaderSize - 16 - 4 * s.duplicate_tsns.size();
  size_t max_blocks = room / 4;
  for (auto it = received_above_cum_.begin();
       it != received_above_cum_.end() && s.gap_blocks.size() < max_blocks;) {
    uint64_t start = *it;
    uint64_t end = start;
    for (++it; it != received_above_cum_.end() && *it == end + 1; ++it)
      end = *it;
    s.gap_blocks.push_back(
        {static_cast<uint16_t>(start - peer_cum_tsn_), static_cast<uint16_t>(end - peer_cum_tsn_)});
  }
  last_advertised_rwnd_ = s.a_rwnd;
  packets_unacked_ = 0;
  delayed_ack_.reset();
  sack_now_ = false;
  return s;
}

// ---------------------------------------------------------------- sending data

bool SctpAssociation::can_send_data() const {
  return state_ == SctpState::established || state_ == SctpState::shutdown_pending ||
         state_ == SctpState::shutdown_received;
}

Status SctpAssociation::check_send(uint16_t stream, size_t size) {
  if (state_ != SctpState::established && state_ != SctpState::cookie_wait &&
      state_ != SctpState::cookie_echoed)
    return Error{Errc::invalid_state, "association not open for sending"};
  if (size == 0) return Error{Errc::invalid_argument, "SCTP messages cannot be empty"};
  uint16_t streams = state_ == SctpState::established ? outbound_streams_ : config_.num_streams;
  if (stream >= streams) return Error{Errc::invalid_argument, "stream id out of range"};
  if (config_.remote_max_message_size != 0 && size > config_.remote_max_message_size)
    return Error{Errc::invalid_argument, "message larger than the peer's max-message-size"};
  if (size > config_.send_buffer_limit || size > config_.stream_send_buffer_limit)
    return Error{Errc::invalid_argument, "message larger than the send buffer"};
  OutStream& s = out_stream(stream);
  if (s.resetting) return Error{Errc::invalid_state, "stream is being reset"};
  if (total_buffered_ + size > config_.send_buffer_limit ||
      s.buffered + size > config_.stream_send_buffer_limit)
    return Error{Errc::limit_exceeded, "send buffer full"};
  return {};
}

Status SctpAssociation::send(Instant now, uint16_t stream, uint32_t ppid, ByteView message,
                             const SendOptions& options) {
  // Checked before the copy, so a refused message costs no allocation.
  if (Status st = check_send(stream, message.size()); !st) return st;
  return send(now, stream, ppid, make_shared_bytes(message), options);
}

Status SctpAssociation::send(Instant now, uint16_t stream, uint32_t ppid, SharedBytes message,
                             const SendOptions& options) {
  size_t size = message ? message->size() : 0;
  if (Status st = check_send(stream, size); !st) return st;
  OutStream& s = out_stream(stream);
  OutMessage m;
  m.id = next_message_id_++;
  m.ppid = ppid;
  m.data = std::move(message);
  m.unordered = options.unordered;
  m.max_retransmits = options.max_retransmits;
  if (options.max_lifetime) m.expires = now + *options.max_lifetime;
  s.queue.push_back(std::move(m));
  s.buffered += size;
  total_buffered_ += size;
  ++counters_.messages_sent;
  flush(now);
  return {};
}

size_t SctpAssociation::buffered_amount(uint16_t stream) const {
  auto it = out_streams_.find(stream);
  return it == out_streams_.end() ? 0 : it->second.buffered;
}

void SctpAssociation::set_buffered_amount_low_threshold(uint16_t stream, size_t bytes) {
  out_stream(stream).low_threshold = bytes;
}

void SctpAssociation::release_stream_bytes(uint16_t stream, size_t bytes) {
  OutStream& s = out_stream(stream);
  size_t before = s.buffered;
  s.buffered -= std::min(bytes, s.buffered);
  total_buffered_ -= std::min(bytes, total_buffered_);
  if (before > s.low_threshold && s.buffered <= s.low_threshold)
    events_.push_back(event::BufferedAmountLow{stream});
}

void SctpAssociation::release_acked(SentChunk& c, uint64_t& bytes) {
  if (c.in_flight) {
    flight_size_ -= c.size;
    c.in_flight = false;
  }
  if (!c.acked && !c.abandoned) bytes += c.size;
  c.acked = true;
  c.retransmit = false;
  c.fast_retransmit = false;
  if (!c.released) {
    c.released = true;
    c.message_data.reset();
    release_stream_bytes(c.stream, c.size);
  }
}

// Cuts the next chunk from the stream queues, round-robin among streams with data so one
// busy stream cannot starve the others. `max_payload` is what the packet and the peer's
// window leave room for.
bool SctpAssociation::take_fragment(Instant now, size_t max_payload, SentChunk& out) {
  (void)now;
  if (out_streams_.empty()) return false;
  // A chunk is padded to 4 bytes inside the packet (RFC 9260 section 3.2), so the payload that
  // fits is the room rounded down to 4: with an MTU that is not a multiple of 4 (DTLS leaves
  // 1163 bytes under a 1200-byte datagram) a full-size chunk would otherwise overflow the
  // packet by its padding and be refused by the layer below.
  max_payload =
      std::min(max_payload, config_.mtu - kCommonHeaderSize - kDataChunkHeaderSize) & ~size_t{3};
  auto start = out_streams_.lower_bound(rr_next_stream_);
  if (start == out_streams_.end()) start = out_streams_.begin();
  auto it = start;
  do {
    OutStream& s = it->second;
    if (!s.queue.empty()) {
      OutMessage& m = s.queue.front();
      size_t remaining = m.data->size() - m.offset;
      size_t n = remaining;
      if (n > max_payload) {
        // Not worth a tiny first piece; and keep non-final fragments 4-byte aligned.
        if (max_payload < 128) return false;
        n = max_payload & ~size_t{3};
      }
      if (m.offset == 0) {
        if (!m.unordered) m.ssn = s.next_ssn++;
      }
      out = SentChunk{};
      out.tsn = next_tsn_++;
      out.message = m.id;
      out.stream = it->first;
      out.ssn = m.unordered ? 0 : m.ssn;
      out.ppid = m.ppid;
      out.unordered = m.unordered;
      out.beginning = m.offset == 0;
      out.ending = n == remaining;
      // The chunk points into the message's buffer: no copy (the last chunk takes the
      // queue's reference over).
      out.offset = m.offset;
      out.size = n;
      out.message_data = out.ending ? std::move(m.data) : m.data;
      out.max_retransmits = m.max_retransmits;
      out.expires = m.expires;
      m.offset += n;
      // RFC 9260 section 6.9: a message's fragments take consecutive TSNs, so the next
      // chunk continues this message whatever else was queued meanwhile.
      rr_next_stream_ = it->first;
      if (out.ending) {
        s.queue.pop_front();
        // Move on to the next stream once a message is done.
        auto next = std::next(it);
        rr_next_stream_ = next == out_streams_.end() ? 0 : next->first;
      }
      return true;
    }
    ++it;
    if (it == out_streams_.end()) it = out_streams_.begin();
  } while (it != start);
  return false;
}

void SctpAssociation::abandon_message(Instant now, uint16_t stream, uint64_t message) {
  (void)now;
  for (size_t oi = 0; oi < outstanding_.size(); ++oi) {
    SentChunk& c = outstanding_[oi];
    if (c.message != message || c.abandoned) continue;
    if (c.in_flight) {
      flight_size_ -= c.size;
      c.in_flight = false;
    }
    c.abandoned = true;
    c.retransmit = false;
    c.fast_retransmit = false;
    if (!c.released) {
      c.released = true;
      c.message_data.reset();
      release_stream_bytes(c.stream, c.size);
    }
  }
  OutStream& s = out_stream(stream);
  for (auto it = s.queue.begin(); it != s.queue.end(); ++it) {
    if (it->id != message) continue;
    size_t unsent = it->data->size() - it->offset;
    if (it->offset > 0) {
      // Partially sent: the receiver holds its first fragments and, when ordered, waits for
      // its SSN. A placeholder end fragment takes the next TSN, abandoned at once, so the
      // FORWARD TSN covers the message and names its SSN (RFC 3758 section 3.5 C4).
      SentChunk end;
      end.tsn = next_tsn_++;
      end.message = message;
      end.stream = stream;
      end.ssn = it->unordered ? 0 : it->ssn;
      end.unordered = it->unordered;
      end.ending = true;
      end.abandoned = true;
      end.released = true;
      outstanding_.push_back(std::move(end));
    }
    s.queue.erase(it);
    release_stream_bytes(stream, unsent);
    break;
  }
  ++counters_.abandoned_messages;
  pending_forward_tsn_ = true;
}

// RFC 3758 section 3.5 A1: expired messages are abandoned, whether queued or in flight.
void SctpAssociation::check_lifetimes(Instant now) {
  for (auto& [id, s] : out_streams_) {
    for (size_t i = 0; i < s.queue.size();) {
      OutMessage& m = s.queue[i];
      if (!m.expires || *m.expires > now) {
        ++i;
        continue;
      }
      if (m.offset == 0) {
        // Never sent: it simply disappears, no TSN to skip.
        size_t size = m.data->size();
        s.queue.erase(s.queue.begin() + static_cast<ptrdiff_t>(i));
        ++counters_.abandoned_messages;
        release_stream_bytes(id, size);
      } else if (peer_forward_tsn_) {
        abandon_message(now, id, m.id);
      } else {
        ++i;
      }
    }
  }
}

bool SctpAssociation::expired(const SentChunk& c, Instant now) const {
  return peer_forward_tsn_ && ((c.max_retransmits && c.transmissions > *c.max_retransmits) ||
                               (c.expires && *c.expires <= now));
}

void SctpAssociation::mark_for_retransmit(Instant now, SentChunk& c, bool fast) {
  if (c.acked || c.abandoned) return;
  // RFC 3758 section 3.5 A2/A3: a chunk over its retransmission limit or lifetime is
  // abandoned, with the rest of its message, instead of retransmitted.
  if (expired(c, now)) {
    abandon_message(now, c.stream, c.message);
    return;
  }
  if (c.in_flight) {
    flight_size_ -= c.size;
    c.in_flight = false;
  }
  c.retransmit = true;
  if (fast) {
    c.fast_retransmit = true;
    c.fast_retransmitted = true;
  }
}

void SctpAssociation::advance_peer_ack_point() {
  // RFC 3758 section 3.5 C1.
  advanced_peer_ack_ = std::max(advanced_peer_ack_, cum_ack_);
  for (size_t i = advanced_peer_ack_ - cum_ack_; i < outstanding_.size(); ++i) {
    if (!outstanding_[i].abandoned) break;
    advanced_peer_ack_ = outstanding_[i].tsn;
  }
}

void SctpAssociation::on_rto_sample(Instant now, Duration r) {
  latest_rtt_ = r;
  // The path's base RTT; CongestionControl::delivery_rate re-measures it after kMinRttWindow
  // (on_delivery_sample), and a round with a lower RTT refreshes it at once.
  if (!min_rtt_ || r <= *min_rtt_) {
    min_rtt_ = r;
    min_rtt_at_ = now;
  }
  if (!round_min_rtt_ || r < *round_min_rtt_) round_min_rtt_ = r;
  if (probe_rtt_ && probe_rtt_until_ && (!probe_min_rtt_ || r < *probe_min_rtt_))
    probe_min_rtt_ = r;
  // RFC 6298 section 2 (RFC 9260 section 6.3.1), alpha 1/8, beta 1/4, K 4.
  if (!srtt_) {
    srtt_ = r;
    rttvar_ = r / 2;
  } else {
    Duration diff = *srtt_ > r ? *srtt_ - r : r - *srtt_;
    rttvar_ = (rttvar_ * 3 + diff) / 4;
    srtt_ = (*srtt_ * 7 + r) / 8;
  }
  // RFC 6298 section 2.3: RTO = SRTT + max(G, K * RTTVAR). G, the granularity term, is
  // taken as rto_granularity (as Linux does with 200 ms): on a steady path RTTVAR shrinks to
  // nothing and an RTO just above SRTT fires before a fast retransmission can be acked.
  rto_ = computed_rto();
}

Duration SctpAssociation::computed_rto() const {
  if (!srtt_) return config_.rto_initial;
  return std::clamp(*srtt_ + std::max(config_.rto_granularity, 4 * rttvar_), config_.rto_min,
                    config_.rto_max);
}

void SctpAssociation::handle_path_restored(Instant now) {
  // A T3 expiry (or an unanswered HEARTBEAT) since the peer last acknowledged anything: the
  // outage left the association waiting on its timer.
  resume_after_outage(now, error_count_ > 0 || backed_off_, true);
  error_count_ = 0;
}

bool SctpAssociation::data_outstanding() const {
  for (const SentChunk& c : outstanding_)
    if (c.in_flight || c.retransmit) return true;
  return false;
}

Duration SctpAssociation::backoff_probe_period() const {
  return std::max(config_.backoff_probe_interval, computed_rto());
}

void SctpAssociation::resume_after_outage(Instant now, bool stalled, bool measure_if_idle) {
  if (state_ != SctpState::established && state_ != SctpState::shutdown_pending &&
      state_ != SctpState::shutdown_received)
    return;
  backed_off_ = false;
  backoff_probe_at_.reset();
  // RFC 6298 section 5: the backoff guards a path that does not answer; once it answers again
  // the RTO collapses to the computed one. (The error counter is left to the caller: ICE's
  // answered check is evidence of both directions, as a HEARTBEAT ACK is in RFC 9260 section
  // 8.3, a packet that merely arrived is evidence of one.)
  rto_ = computed_rto();
  heartbeat_sent_.reset();
  if (!data_outstanding()) {
    if (measure_if_idle && state_ == SctpState::established) send_heartbeat(now);
    flush(now);
    return;
  }
  if (!stalled) {
    // No timer expired yet: T3 runs on, and its next start uses the fresh RTO.
    flush(now);
    return;
  }
  // As if T3 expired now (RFC 9260 section 6.3.3 E3: retransmit from the earliest outstanding
  // chunk), without E2's doubling and the error count. The congestion window is not T3's one
  // MTU: the path carried nothing for the outage and, after an ICE restart, may be another
  // path; RFC 9260 section 7.2.1 sets cwnd after a sufficiently long idle period to the
  // initial window, min(4 MTU, max(2 MTU, 4380)), which is what a new association would send
  // into an unknown path. ssthresh stays as the expiries left it, so growth above that is
  // congestion avoidance.
  cwnd_ = std::min(4 * config_.mtu, std::max<size_t>(2 * config_.mtu, 4380));
  partial_bytes_acked_ = 0;
  fast_recovery_exit_.reset();
  for (SentChunk& c : outstanding_)
    if (c.in_flight || c.retransmit) mark_for_retransmit(now, c, false);
  if (peer_forward_tsn_) check_lifetimes(now);
  advance_peer_ack_point();
  if (advanced_peer_ack_ > cum_ack_) pending_forward_tsn_ = true;
  t3_.reset();
  flush(now);  // the first retransmission starts T3 with the fresh RTO
}

void SctpAssociation::handle_sack(Instant now, const SackChunk& sack) {
  if (!can_send_data() && state_ != SctpState::shutdown_sent) return;
  uint64_t cum = unwrap(cum_ack_, sack.cumulative_tsn_ack);
  // RFC 9260 section 6.2.1 D: an older cumulative ack is out of order; a cumulative ack
  // for a TSN never sent is a protocol violation, ignored here.
  if (cum < cum_ack_ || cum >= next_tsn_) return;
  size_t flight_before = flight_size_;
  uint64_t newly_acked = 0;
  uint64_t highest_newly_acked = 0;
  std::optional<Duration> rtt;
  bool cum_advanced = cum > cum_ack_;
  std::optional<Instant> latest_acked_sent;
  std::optional<DeliveryState> newest;  // of the chunk sent last among those newly acked
  auto ack = [&](SentChunk& c) {
    if (c.acked || c.abandoned) return;
    if (!latest_acked_sent || c.sent_at > *latest_acked_sent) latest_acked_sent = c.sent_at;
    delivered_ += c.size;
    if (!newest || c.delivery.delivered > newest->delivered ||
        (c.delivery.delivered == newest->delivered && c.sent_at > newest->sent_at))
      newest = c.delivery;
    // Karn's rule (RFC 6298 section 3): only chunks sent once give RTT samples.
    if (c.transmissions == 1) rtt = now - c.sent_at;
    highest_newly_acked = std::max(highest_newly_acked, c.tsn);
    release_acked(c, newly_acked);
  };
  while (!outstanding_.empty() && outstanding_.front().tsn <= cum) {
    SentChunk& c = outstanding_.front();
    ack(c);
    if (!c.released) release_acked(c, newly_acked);
    if (c.in_flight) flight_size_ -= c.size;
    outstanding_.pop_front();
  }
  cum_ack_ = cum;
  for (const GapAckBlock& g : sack.gap_blocks) {
    for (uint64_t t = cum + g.start; t <= cum + g.end; ++t) {
      size_t index = t - cum - 1;
      if (index >= outstanding_.size()) break;
      ack(outstanding_[index]);
    }
  }
  // RFC 9260 section 7.2.4 with HTNA: TSNs still missing below the highest newly acked one
  // get a miss indication; three of them mark a chunk for fast retransmission.
  bool enter_fast_recovery = false;
  for (size_t oi = 0; oi < outstanding_.size(); ++oi) {
    SentChunk& c = outstanding_[oi];
    if (c.tsn >= highest_newly_acked) break;
    if (c.acked || c.abandoned || !c.in_flight) continue;
    // A chunk is fast retransmitted once (RFC 9260 section 7.2.4), unless chunks sent after
    // its retransmission are acknowledged while it is not: then the retransmission was lost
    // too, and waiting for T3 would cost a timeout and a collapse to one MTU.
    if (c.fast_retransmitted && !(latest_acked_sent && *latest_acked_sent > c.sent_at)) continue;
    if (++c.miss_indications >= 3) {
      c.miss_indications = 0;
      mark_for_retransmit(now, c, true);
      ++counters_.fast_retransmits;
      enter_fast_recovery = true;
    }
  }
  if (fast_recovery_exit_ && cum >= *fast_recovery_exit_) fast_recovery_exit_.reset();
  if (rtt) on_rto_sample(now, *rtt);
  if (newest) on_delivery_sample(now, *newest);
  if (enter_fast_recovery && !fast_recovery_exit_) {
    on_loss_event();
    partial_bytes_acked_ = 0;
    fast_recovery_exit_ = next_tsn_ - 1;
  }
  grow_cwnd(newly_acked, flight_before, cum_advanced);
  if (flight_size_ == 0) partial_bytes_acked_ = 0;
  // RFC 9260 section 6.2.1: the peer's window less what is still in flight.
  peer_rwnd_ = sack.a_rwnd > flight_size_ ? sack.a_rwnd - flight_size_ : 0;
  // The earliest chunk still to be acknowledged does not fit the peer's window: what T3 sends
  // are window probes (RFC 9260 section 6.1 A), not evidence of a broken path.
  peer_window_closed_ = false;
  for (const SentChunk& c : outstanding_) {
    if (c.acked || c.abandoned) continue;
    peer_window_closed_ = sack.a_rwnd < c.size;
    break;
  }
  if (cum_advanced) {
    error_count_ = 0;
    heartbeat_sent_.reset();
    // RFC 9260 section 6.3.2 R3: restart T3 for what remains outstanding.
    t3_.reset();
    if (flight_size_ > 0) t3_ = now + rto_;
  }
  if (newly_acked > 0) {
    counters_.bytes_acked += newly_acked;
    delivery_samples_.emplace_back(now, counters_.bytes_acked);
    while (delivery_samples_.size() > kMaxDeliverySamples ||
           (delivery_samples_.size() > 2 && now - delivery_samples_[1].first >= seconds(1)))
      delivery_samples_.pop_front();
  }
  advance_peer_ack_point();
  // RFC 3758 section 3.5 C2/C3: keep telling the peer to skip until it has.
  if (advanced_peer_ack_ > cum_ack_) pending_forward_tsn_ = true;
  if (flight_size_ == 0 && advanced_peer_ack_ == cum_ack_ && outstanding_.empty()) t3_.reset();
}

// RFC 9260 section 7.2.3 and 7.2.4 step 2, or the delivery-rate model's answer.
void SctpAssociation::on_loss_event() {
  if (config_.congestion_control == CongestionControl::rfc9260) {
    ssthresh_ = std::max(cwnd_ / 2, 4 * config_.mtu);
    cwnd_ = ssthresh_;
    return;
  }
  // Above one bandwidth-delay product the excess waits in a queue, which is where a
  // congestion loss comes from: drain it and keep the path full. At or below it there was no
  // queue of ours to overflow; the window stays.
  size_t floor = std::max(bdp_estimate(), 4 * config_.mtu);
  if (cwnd_ > floor) {
    cwnd_ = floor;
    filled_pipe_ = true;
  }
  ssthresh_ = cwnd_;
}

size_t SctpAssociation::bdp_estimate() const {
  if (bottleneck_rate_ == 0 || !min_rtt_) return 0;
  return static_cast<size_t>(bottleneck_rate_ * static_cast<uint64_t>(min_rtt_->count()) /
                             1'000'000);
}

// 1.5 bandwidth-delay products and two packets for delayed acks. BBR's cwnd_gain is 2 with a
// pacer setting the rate; without one the window is what is in flight, and the excess over
// one product is a queue: 1.5 keeps it to half a base RTT at the same throughput in the
// simulations.
size_t SctpAssociation::cwnd_target() const {
  return std::max(bdp_estimate() * 3 / 2 + 2 * config_.mtu, 4 * config_.mtu);
}

void SctpAssociation::grow_cwnd(uint64_t newly_acked, size_t flight_before, bool cum_advanced) {
  if (newly_acked == 0) return;
  // Only a window in use grows (RFC 9260 section 7.2.1): an application sending less than
  // cwnd allows has not shown the path takes more.
  bool full = flight_before + config_.mtu >= cwnd_;
  if (config_.congestion_control == CongestionControl::rfc9260) {
    // RFC 9260 sections 7.2.1 and 7.2.2: grow on a cumulative advance outside recovery.
    if (!cum_advanced || fast_recovery_exit_) return;
    if (cwnd_ <= ssthresh_) {
      if (full) cwnd_ += std::min<size_t>(newly_acked, config_.mtu);
    } else {
      partial_bytes_acked_ += newly_acked;
      if (partial_bytes_acked_ >= cwnd_ && full) {
        partial_bytes_acked_ -= cwnd_;
        cwnd_ += config_.mtu;
      }
    }
    return;
  }
  if (probe_rtt_) return;
  if (!filled_pipe_) {
    // Startup: slow start's doubling per round trip, whatever the loss.
    if (full) cwnd_ += static_cast<size_t>(newly_acked);
    return;
  }
  // Toward the target by what was delivered (after a cut or a timeout this doubles per round
  // trip); down to it at once when the model shrank.
  size_t target = cwnd_target();
  if (cwnd_ > target) {
    cwnd_ = target;
  } else if (full) {
    cwnd_ = std::min(cwnd_ + static_cast<size_t>(newly_acked), target);
  }
  ssthresh_ = target;
}

// draft-cheng-iccrg-delivery-rate-estimation section 3.3 for the rate sample; BBR's round
// counting, windowed maximum, full-pipe test and ProbeRTT on top.
void SctpAssociation::on_delivery_sample(Instant now, const DeliveryState& newest) {
  delivered_time_ = now;
  first_sent_time_ = newest.sent_at;
  if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
  bool round_start = false;
  if (newest.delivered >= next_round_delivered_) {
    next_round_delivered_ = delivered_;
    ++round_;
    round_start = true;
  }
  if (round_start) {
    // RFC 9406 section 4.2 (HyStart++): a whole round whose smallest RTT is above the base by
    // an eighth of it (4 to 16 ms) means a queue is building: the pipe is full.
    if (!filled_pipe_ && round_min_rtt_ && min_rtt_) {
      Duration eta = std::clamp<Duration>(*min_rtt_ / 8, milliseconds(4), milliseconds(16));
      if (*round_min_rtt_ >= *min_rtt_ + eta) filled_pipe_ = true;
    }
    round_min_rtt_.reset();
    round_max_rate_[round_ % round_max_rate_.size()] = 0;
  }
  Duration send_elapsed = newest.sent_at - newest.first_sent_time;
  Duration ack_elapsed = now - newest.delivered_time;
  Duration interval = std::max(send_elapsed, ack_elapsed);
  // An interval shorter than the base RTT would count acks compressed in a burst.
  if (interval.count() > 0 && (!min_rtt_ || interval >= *min_rtt_)) {
    uint64_t rate =
        (delivered_ - newest.delivered) * 1'000'000 / static_cast<uint64_t>(interval.count());
    // A sample of an application that did not fill the window only says the path carries
    // at least that much.
    if (!newest.app_limited || rate >= bottleneck_rate_) {
      uint64_t& slot = round_max_rate_[round_ % round_max_rate_.size()];
      slot = std::max(slot, rate);
    }
  }
  bottleneck_rate_ = *std::max_element(round_max_rate_.begin(), round_max_rate_.end());
  if (config_.congestion_control != CongestionControl::delivery_rate) return;
  // BBR's full-pipe test: three rounds without 25 % more delivery rate.
  if (round_start && !filled_pipe_ && !newest.app_limited) {
    if (bottleneck_rate_ >= full_rate_ + full_rate_ / 4) {
      full_rate_ = bottleneck_rate_;
      full_rate_rounds_ = 0;
    } else if (++full_rate_rounds_ >= kFullRateRounds) {
      filled_pipe_ = true;
    }
  }
  // ProbeRTT: a base RTT not seen again for kMinRttWindow may hide under our own queue;
  // drain to half a bandwidth-delay product (BBRv2's ProbeRTT window, which keeps half the
  // rate where BBRv1's 4 packets stop a long path) for a round trip, at least
  // kProbeRttTime, and measure it again.
  size_t probe_cwnd = std::max(bdp_estimate() / 2, kProbeRttPackets * config_.mtu);
  if (!probe_rtt_ && filled_pipe_ && min_rtt_ && now - min_rtt_at_ > kMinRttWindow) {
    probe_rtt_ = true;
    probe_rtt_until_.reset();
    probe_min_rtt_.reset();
    prior_cwnd_ = cwnd_;
    cwnd_ = std::min(cwnd_, probe_cwnd);
  }
  if (probe_rtt_) {
    if (!probe_rtt_until_ && flight_size_ <= probe_cwnd) {
      probe_rtt_until_ = now + std::max(kProbeRttTime, *min_rtt_);
    } else if (probe_rtt_until_ && now >= *probe_rtt_until_) {
      if (probe_min_rtt_) min_rtt_ = *probe_min_rtt_;
      min_rtt_at_ = now;
      probe_rtt_ = false;
      cwnd_ = std::max(cwnd_, prior_cwnd_);
    }
  }
}

void SctpAssociation::on_t3_expired(Instant now) {
  ++counters_.rto_expirations;
  if (++error_count_ > config_.max_retransmissions) {
    fail(now, "retransmission limit reached");
    return;
  }
  // RFC 9260 section 7.2.3 and 6.3.3 E1-E3.
  ssthresh_ = std::max(cwnd_ / 2, 4 * config_.mtu);
  cwnd_ = config_.mtu;
  partial_bytes_acked_ = 0;
  rto_ = std::min(rto_ * 2, config_.rto_max);
  // Beyond RFC 9260: section 6.3.3 leaves the path silent until the doubled RTO expires again
  // (up to rto_max), and section 8.3 heartbeats only idle paths, every HB.interval. A radio
  // outage ends without notice to either end (ICE's consent checks are 15 s apart on the
  // device), so while backed off a HEARTBEAT goes out every backoff_probe_interval (not below
  // the computed RTO) and the first packet from the peer, its HEARTBEAT ACK or anything else,
  // ends the backoff (handle_packet). Each expiry's retransmission is itself a probe: the
  // probe timer starts again from it. Probes do not count as errors (section 8.3 counts an
  // unanswered HEARTBEAT): T3's expiries already count the path's silence, and counting probes
  // too would end the association after a few seconds of outage instead of
  // Association.Max.Retrans expiries.
  backed_off_ = true;
  backoff_probe_at_.reset();
  if (config_.backoff_probe_interval > Duration{0})
    backoff_probe_at_ = now + backoff_probe_period();
  fast_recovery_exit_.reset();
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    SentChunk& c = outstanding_[i];
    if (c.in_flight || c.retransmit) mark_for_retransmit(now, c, false);
  }
  if (peer_forward_tsn_) check_lifetimes(now);
  advance_peer_ack_point();
  if (advanced_peer_ack_ > cum_ack_) pending_forward_tsn_ = true;
}

// ---------------------------------------------------------------- re-configuration (RFC 6525)

Status SctpAssociation::reset_streams(Instant now, std::span<const uint16_t> streams) {
  if (state_ != SctpState::established) return Error{Errc::invalid_state, "not established"};
  if (!peer_reconfig_) return Error{Errc::unsupported, "peer does not support RE-CONFIG"};
  for (uint16_t s : streams) {
    if (s >= outbound_streams_) return Error{Errc::invalid_argument, "stream id out of range"};
  }
  for (uint16_t s : streams) {
    OutStream& o = out_stream(s);
    if (o.resetting) continue;
    o.resetting = true;
    reset_queue_.push_back(s);
  }
  flush(now);
  return {};
}

void SctpAssociation::maybe_send_reset_request(Instant now) {
  if (reset_in_flight_ || reset_queue_.empty()) return;
  // RFC 6525 section 5.1.2: the request names the last TSN assigned, so the peer resets
  // only after receiving everything sent before it. Queued data on the streams goes first.
  OutgoingResetRequest q;
  for (uint16_t s : reset_queue_) {
    if (!out_stream(s).queue.empty()) continue;
    if (q.streams.size() < kMaxStreamsPerReset) q.streams.push_back(s);
  }
  if (q.streams.empty()) return;
  for (uint16_t s : q.streams)
    reset_queue_.erase(std::find(reset_queue_.begin(), reset_queue_.end(), s));
  q.request_sequence = next_request_sequence_;
  q.response_sequence = peer_next_request_sequence_ - 1;
  q.last_tsn = static_cast<uint32_t>(next_tsn_ - 1);
  reset_in_flight_ = std::move(q);
  reconfig_retransmissions_ = 0;
  reconfig_timer_ = now + rto_;
  send_reset_request_ = true;
}

void SctpAssociation::maybe_perform_peer_reset(Instant now) {
  (void)now;
  if (!peer_reset_deferred_ || peer_reset_deferred_->last_tsn > peer_cum_tsn_) return;
  PendingReset r = std::move(*peer_reset_deferred_);
  peer_reset_deferred_.reset();
  std::vector<uint16_t> streams = r.streams;
  if (streams.empty()) {
    for (auto& [id, in] : in_streams_)
      streams.push_back(id);
  }
  for (uint16_t s : streams) {
    auto it = in_streams_.find(s);
    if (it == in_streams_.end()) continue;
    for (const ReadyMessage& m : it->second.ready)
      ready_bytes_ -= m.data.size();
    in_streams_.erase(it);  // next SSN back to 0 (RFC 6525 section 5.2.2)
  }
  ReconfigResponse resp{r.request_sequence, ReconfigResponse::success_performed};
  last_reconfig_response_ = resp;
  responses_to_send_.push_back(resp);
  events_.push_back(event::StreamsResetByPeer{r.streams});
}

void SctpAssociation::handle_reconfig(Instant now, const ReconfigChunk& chunk) {
  if (state_ != SctpState::established && state_ != SctpState::shutdown_pending) return;
  for (const ReconfigParameter& param : chunk.parameters) {
    if (auto* out = std::get_if<OutgoingResetRequest>(&param)) {
      if (out->request_sequence == peer_next_request_sequence_) {
        ++peer_next_request_sequence_;
        peer_reset_deferred_ =
            PendingReset{out->request_sequence, out->streams, unwrap(peer_cum_tsn_, out->last_tsn)};
        maybe_perform_peer_reset(now);
        if (peer_reset_deferred_) {
          // RFC 6525 section 5.2.2: data before the reset is still missing; answer "in
          // progress" and perform it once the cumulative TSN reaches the last TSN.
          ReconfigResponse resp{out->request_sequence, ReconfigResponse::in_progress};
          last_reconfig_response_ = resp;
          responses_to_send_.push_back(resp);
        }
      } else if (out->request_sequence + 1 == peer_next_request_sequence_ &&
                 last_reconfig_response_) {
        // A retransmitted request: the same answer again (RFC 6525 section 5.2.1).
        responses_to_send_.push_back(*last_reconfig_response_);
      } else {
        responses_to_send_.push_back(
            ReconfigResponse{out->request_sequence, ReconfigResponse::error_bad_sequence});
      }
    } else if (auto* in = std::get_if<IncomingResetRequest>(&param)) {
      // Data channels close with outgoing resets only (RFC 8831 section 6.7).
      if (in->request_sequence == peer_next_request_sequence_) ++peer_next_request_sequence_;
      responses_to_send_.push_back(
          ReconfigResponse{in->request_sequence, ReconfigResponse::denied});
    } else if (auto* other = std::get_if<OtherReconfigRequest>(&param)) {
      if (other->request_sequence == peer_next_request_sequence_) ++peer_next_request_sequence_;
      responses_to_send_.push_back(
          ReconfigResponse{other->request_sequence, ReconfigResponse::denied});
    } else if (auto* resp = std::get_if<ReconfigResponse>(&param)) {
      if (!reset_in_flight_ || resp->response_sequence != reset_in_flight_->request_sequence)
        continue;
      if (resp->result == ReconfigResponse::in_progress) {
        reconfig_timer_ = now + rto_;  // asked again when the timer fires
        continue;
      }
      bool ok = resp->result == ReconfigResponse::success_performed ||
                resp->result == ReconfigResponse::success_nothing_to_do;
      for (uint16_t s : reset_in_flight_->streams) {
        OutStream& o = out_stream(s);
        o.resetting = false;
        if (ok) o.next_ssn = 0;
      }
      events_.push_back(event::OutgoingResetDone{reset_in_flight_->streams, ok});
      reset_in_flight_.reset();
      reconfig_timer_.reset();
      ++next_request_sequence_;
    }
  }
  if (responses_to_send_.size() > 8) responses_to_send_.erase(responses_to_send_.begin());
}

// ---------------------------------------------------------------- shutdown and abort

void SctpAssociation::shutdown(Instant now) {
  switch (state_) {
    case SctpState::established:
      state_ = SctpState::shutdown_pending;
      flush(now);
      break;
    case SctpState::cookie_wait:
    case SctpState::cookie_echoed:
      close_with(event::Closed{});
      break;
    default:
      break;
  }
}

void SctpAssociation::send_abort(std::string_view reason, bool tag_reflected, uint32_t tag) {
  PacketBuilder b(config_.local_port, config_.remote_port, tag, config_.mtu);
  AbortChunk a;
  a.tag_reflected = tag_reflected;
  std::string_view text = reason.substr(0, 256);
  a.causes.push_back({static_cast<uint16_t>(CauseCode::user_initiated_abort), as_bytes(text)});
  b.add(a);
  send_packet(b);
}

void SctpAssociation::abort(Instant now, std::string_view reason) {
  (void)now;
  if (state_ == SctpState::closed) return;
  // RFC 9260 section 8.4/8.5.1: before the peer's tag is known, the T bit reflects ours.
  if (peer_tag_ != 0) {
    send_abort(reason, false, peer_tag_);
  } else {
    send_abort(reason, true, local_tag_);
  }
  close_with(event::Aborted{std::string(reason)});
}

void SctpAssociation::fail(Instant now, std::string reason) {
  abort(now, reason);
}

void SctpAssociation::close_with(SctpEvent e) {
  state_ = SctpState::closed;
  t1_.reset();
  t2_.reset();
  t3_.reset();
  delayed_ack_.reset();
  heartbeat_at_.reset();
  backoff_probe_at_.reset();
  backed_off_ = false;
  reconfig_timer_.reset();
  out_streams_.clear();
  outstanding_.clear();
  reassembly_.clear();
  received_above_cum_.clear();
  in_streams_.clear();
  reset_queue_.clear();
  reset_in_flight_.reset();
  peer_reset_deferred_.reset();
  responses_to_send_.clear();
  total_buffered_ = 0;
  flight_size_ = 0;
  reassembly_bytes_ = 0;
  ready_bytes_ = 0;
  events_.push_back(std::move(e));
}

// ---------------------------------------------------------------- timers and output

void SctpAssociation::handle_timeout(Instant now) {
  if (t1_ && now >= *t1_) {
    if (++init_retransmissions_ > config_.max_init_retransmissions) {
      close_with(event::Aborted{"association setup timed out"});
      return;
    }
    // RFC 9260 section 5.1 / 6.3.3: T1-init and T1-cookie back off like T3.
    t1_rto_ = std::min(t1_rto_ * 2, config_.rto_max);
    t1_ = now + t1_rto_;
    if (state_ == SctpState::cookie_wait) {
      PacketBuilder b(config_.local_port, config_.remote_port, 0, config_.mtu);
      b.add_init(make_init(), ChunkType::init);
      send_packet(b);
    } else if (state_ == SctpState::cookie_echoed && cookie_to_echo_) {
      PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
      b.add(CookieEchoChunk{*cookie_to_echo_});
      send_packet(b);
    }
  }
  if (t3_ && now >= *t3_) {
    t3_.reset();
    on_t3_expired(now);
    if (state_ == SctpState::closed) return;
  }
  if (delayed_ack_ && now >= *delayed_ack_) {
    delayed_ack_.reset();
    sack_now_ = true;
  }
  if (t2_ && now >= *t2_) {
    // RFC 9260 section 9.2: T2-shutdown resends SHUTDOWN or SHUTDOWN ACK.
    if (++shutdown_retransmissions_ > config_.max_retransmissions) {
      fail(now, "shutdown timed out");
      return;
    }
    rto_ = std::min(rto_ * 2, config_.rto_max);
    t2_ = now + rto_;
    send_control(
        now, state_ == SctpState::shutdown_sent ? ChunkType::shutdown : ChunkType::shutdown_ack);
  }
  if (reconfig_timer_ && now >= *reconfig_timer_) {
    if (++reconfig_retransmissions_ > config_.max_retransmissions) {
      fail(now, "stream reset timed out");
      return;
    }
    reconfig_timer_ = now + rto_;
    send_reset_request_ = true;
  }
  if (heartbeat_at_ && now >= *heartbeat_at_ && state_ == SctpState::established) {
    // RFC 9260 section 8.3: an unanswered heartbeat counts as an error.
    if (heartbeat_sent_ && ++error_count_ > config_.max_retransmissions) {
      fail(now, "peer unreachable (heartbeats unanswered)");
      return;
    }
    send_heartbeat(now);
  }
  if (backoff_probe_at_ && now >= *backoff_probe_at_) {
    backoff_probe_at_.reset();
    // See on_t3_expired: probes only while backed off with data outstanding.
    if (backed_off_ && can_send_data() && data_outstanding()) {
      send_heartbeat(now);
      ++counters_.backoff_probes;
      backoff_probe_at_ = now + backoff_probe_period();
    }
  }
  flush(now);
}

void SctpAssociation::send_heartbeat(Instant now) {
  heartbeat_nonce_ = rng_.next_u64();
  heartbeat_sent_ = now;
  Bytes info;
  ByteWriter w(info);
  w.u64(heartbeat_nonce_);
  w.u64(static_cast<uint64_t>(now.us()));
  PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
  b.add(HeartbeatChunk{false, info});
  send_packet(b);
  heartbeat_at_ = now + config_.heartbeat_interval + rto_;
}

void SctpAssociation::send_control(Instant now, ChunkType type) {
  (void)now;
  PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
  if (type == ChunkType::shutdown) {
    b.add(ShutdownChunk{static_cast<uint32_t>(peer_cum_tsn_)});
  } else if (type == ChunkType::shutdown_ack) {
    b.add(ShutdownAckChunk{});
  }
  send_packet(b);
}

void SctpAssociation::send_packet(PacketBuilder& b) {
  transmits_.push_back(b.finish());
  ++counters_.packets_sent;
}

void SctpAssociation::start_t3(Instant now) {
  if (!t3_) t3_ = now + rto_;
}

void SctpAssociation::flush(Instant now) {
  if (state_ == SctpState::closed || state_ == SctpState::cookie_wait ||
      state_ == SctpState::cookie_echoed)
    return;
  bool data_ok = can_send_data();
  if (data_ok) check_lifetimes(now);

  // RFC 9260 section 9.2: SHUTDOWN or SHUTDOWN ACK once everything sent is acknowledged.
  bool drained = outstanding_.empty();
  for (const auto& [id, s] : out_streams_)
    drained = drained && s.queue.empty();
  if (drained && state_ == SctpState::shutdown_pending) {
    state_ = SctpState::shutdown_sent;
    shutdown_retransmissions_ = 0;
    t2_ = now + rto_;
    t3_.reset();
    send_control(now, ChunkType::shutdown);
  } else if (drained && state_ == SctpState::shutdown_received) {
    state_ = SctpState::shutdown_ack_sent;
    shutdown_retransmissions_ = 0;
    t2_ = now + rto_;
    t3_.reset();
    send_control(now, ChunkType::shutdown_ack);
  }
  if (state_ == SctpState::established) maybe_send_reset_request(now);

  PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
  auto add = [&](const auto& chunk) {
    if (!b.add(chunk)) {
      send_packet(b);
      b.add(chunk);
    }
  };
  if (sack_now_) add(make_sack());
  if (heartbeat_ack_info_) {
    add(HeartbeatChunk{true, *heartbeat_ack_info_});
    heartbeat_ack_info_.reset();
  }
  if (pending_forward_tsn_ && peer_forward_tsn_) {
    pending_forward_tsn_ = false;
    advance_peer_ack_point();
    if (advanced_peer_ack_ > cum_ack_) {
      // RFC 3758 section 3.5 C4: the ordered streams' highest skipped SSNs.
      ForwardTsnChunk f;
      f.new_cumulative_tsn = static_cast<uint32_t>(advanced_peer_ack_);
      for (size_t i = 0; i < outstanding_.size() && outstanding_[i].tsn <= advanced_peer_ack_;
           ++i) {
        const SentChunk& c = outstanding_[i];
        if (c.unordered) continue;
        auto it = std::find_if(f.skipped.begin(), f.skipped.end(),
                               [&](const auto& s) { return s.stream == c.stream; });
        if (it == f.skipped.end()) {
          f.skipped.push_back({c.stream, c.ssn});
        } else if (serial_less16(it->ssn, c.ssn)) {
          it->ssn = c.ssn;
        }
      }
      add(f);
      start_t3(now);
    }
  }
  for (const ReconfigResponse& r : responses_to_send_)
    add(ReconfigChunk{{r}});
  responses_to_send_.clear();
  if (send_reset_request_ && reset_in_flight_) add(ReconfigChunk{{*reset_in_flight_}});
  send_reset_request_ = false;

  if (data_ok) {
    bool sack_bundled = false;
    auto put = [&](SentChunk& c, bool ignore_room) {
      DataChunk d;
      d.tsn = static_cast<uint32_t>(c.tsn);
      d.stream = c.stream;
      d.ssn = c.ssn;
      d.ppid = c.ppid;
      d.unordered = c.unordered;
      d.beginning = c.beginning;
      d.ending = c.ending;
      if (c.message_data) d.payload = ByteView(*c.message_data).subspan(c.offset, c.size);
      if (!sack_bundled && delayed_ack_) {
        // Piggyback the pending acknowledgement (RFC 9260 section 6.2).
        sack_bundled = true;
        add(make_sack());
      }
      if (d.encoded_size() > b.remaining()) {
        if (!ignore_room && b.has_chunks())
          send_packet(b);
        else if (b.has_chunks())
          send_packet(b);
      }
      b.add(d);
      if (c.transmissions > 0) ++counters_.retransmitted_chunks;
      ++c.transmissions;
      c.sent_at = now;
      // draft-cheng-iccrg-delivery-rate-estimation section 3.2: a send after an idle period
      // starts the sampling intervals afresh.
      if (flight_size_ == 0) {
        first_sent_time_ = now;
        delivered_time_ = now;
      }
      c.delivery = DeliveryState{delivered_, delivered_time_, first_sent_time_, now,
                                 app_limited_until_ != 0};
      c.in_flight = true;
      c.retransmit = false;
      c.fast_retransmit = false;
      flight_size_ += c.size;
      peer_rwnd_ = peer_rwnd_ > c.size ? peer_rwnd_ - c.size : 0;
      heartbeat_at_ = now + config_.heartbeat_interval;
      start_t3(now);
    };
    auto rwnd_allows = [&](size_t size) { return size <= peer_rwnd_ || flight_size_ == 0; };

    // RFC 9260 section 7.2.4 step 3: one packet of fast retransmissions, regardless of cwnd.
    size_t fast_budget = config_.mtu - kCommonHeaderSize;
    bool lowest = true;  // no unacknowledged chunk before this one
    for (size_t oi = 0; oi < outstanding_.size(); ++oi) {
      SentChunk& c = outstanding_[oi];
      if (!c.fast_retransmit || !c.retransmit) {
        if (!c.acked && !c.abandoned) lowest = false;
        continue;
      }
      if (expired(c, now)) {
        abandon_message(now, c.stream, c.message);
        continue;
      }
      size_t need = kDataChunkHeaderSize + ((c.size + 3) & ~size_t{3});
      if (need > fast_budget) break;
      fast_budget -= need;
      // RFC 9260 section 7.2.4 step 4: retransmitting the first outstanding chunk restarts
      // T3, which would otherwise expire during the recovery round trip.
      if (lowest) t3_ = now + rto_;
      lowest = false;
      put(c, true);
    }
    // Then retransmissions (T3 or the rest of the fast ones) within cwnd and the window.
    bool retransmits_left = false;
    for (size_t oi = 0; oi < outstanding_.size(); ++oi) {
      SentChunk& c = outstanding_[oi];
      if (!c.retransmit) continue;
      if (c.expires && *c.expires <= now && peer_forward_tsn_) {
        abandon_message(now, c.stream, c.message);
        continue;
      }
      if (flight_size_ >= cwnd_ || !rwnd_allows(c.size)) {
        retransmits_left = true;
        break;
      }
      put(c, false);
    }
    // New data.
    while (!retransmits_left && flight_size_ < cwnd_ && state_ != SctpState::shutdown_sent) {
      size_t room = b.remaining();
      if (room < kDataChunkHeaderSize + 128 && b.has_chunks()) {
        send_packet(b);
        room = b.remaining();
      }
      size_t max_payload = room > kDataChunkHeaderSize ? room - kDataChunkHeaderSize : 0;
      if (flight_size_ > 0) max_payload = std::min(max_payload, peer_rwnd_);
      if (max_payload == 0) break;
      SentChunk c;
      if (!take_fragment(now, max_payload, c)) {
        // Nothing more to send while cwnd has room: rate samples until what is in flight now
        // is delivered measure the application, not the path.
        if (flight_size_ < cwnd_)
          app_limited_until_ = std::max<uint64_t>(delivered_ + flight_size_, 1);
        if (!b.has_chunks() || flight_size_ > 0) break;
        send_packet(b);
        continue;
      }
      outstanding_.push_back(std::move(c));
      put(outstanding_.back(), false);
    }
  }
  if (b.has_chunks()) send_packet(b);
}

std::optional<Bytes> SctpAssociation::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Bytes b = std::move(transmits_.front());
  transmits_.pop_front();
  return b;
}

std::optional<SctpEvent> SctpAssociation::poll_event() {
  if (events_.empty()) return std::nullopt;
  SctpEvent e = std::move(events_.front());
  events_.pop_front();
  if (auto* m = std::get_if<event::Message>(&e)) {
    undelivered_bytes_ -= std::min(undelivered_bytes_, m->data.size());
    // RFC 9260 section 6.2: tell a sender stalled by our window that it opened again.
    uint32_t now_rwnd = advertised_rwnd();
    if (state_ == SctpState::established && last_advertised_rwnd_ < config_.receive_window / 4 &&
        now_rwnd >= config_.receive_window / 2) {
      PacketBuilder b(config_.local_port, config_.remote_port, peer_tag_, config_.mtu);
      b.add(make_sack());
      send_packet(b);
    }
  }
  return e;
}

std::optional<Instant> SctpAssociation::next_timeout() const {
  std::optional<Instant> t;
  t = earliest(t, t1_);
  t = earliest(t, t2_);
  t = earliest(t, t3_);
  t = earliest(t, delayed_ack_);
  t = earliest(t, reconfig_timer_);
  t = earliest(t, backoff_probe_at_);
  if (state_ == SctpState::established) t = earliest(t, heartbeat_at_);
  return t;
}

SctpStats SctpAssociation::stats() const {
  SctpStats s = counters_;
  s.cwnd = cwnd_;
  s.ssthresh = ssthresh_;
  s.bytes_in_flight = flight_size_;
  s.peer_rwnd = peer_rwnd_;
  s.buffered_amount = total_buffered_;
  s.srtt = srtt_;
  s.rto = rto_;
  s.min_rtt = min_rtt_;
  s.bottleneck_rate_bps = bottleneck_rate_ * 8;
  if (delivery_samples_.size() >= 2) {
    const auto& a = delivery_samples_.front();
    const auto& b = delivery_samples_.back();
    int64_t us = (b.first - a.first).count();
    if (us > 0) s.delivery_rate_bps = (b.second - a.second) * 8 * 1'000'000 / uint64_t(us);
  }
  return s;
}

}  // namespace cellrtc::sctp
