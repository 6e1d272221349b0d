// An SCTP association for WebRTC data channels (RFC 8261: SCTP over DTLS), sans-IO: packets
// and time in; packets, events and the next deadline out. No clock, socket, thread or log.
//
//   SctpAssociation sctp(config, rng);
//   sctp.connect(now);                               // both peers may (RFC 9260 5.2.1 collision)
//   sctp.handle_packet(now, bytes);                  // a DTLS application-data record
//   sctp.handle_timeout(now);                        // when next_timeout() has passed
//   sctp.send(now, stream, ppid, message, {});       // Errc::limit_exceeded when buffers are full
//   sctp.send(now, stream, ppid, shared, {});        // the same without a copy (SharedBytes)
//   while (auto p = sctp.poll_transmit()) dtls.send(*p);
//   while (auto e = sctp.poll_event()) ...           // connected, message, buffered amount low
//   wake_at = sctp.next_timeout();
//
// Every call that takes `now` may queue packets and events; drain both after each.
//
// What it implements (RFC 9260 unless stated): the four-way handshake with an HMAC-signed,
// time-stamped state cookie, INIT collision (both sides connect), DATA with fragmentation and
// reassembly, ordered and unordered delivery on many streams, SACK with gap blocks and
// duplicate TSNs, delayed acks, RTO (RFC 6298) with backoff, slow start, congestion avoidance,
// fast retransmit and fast recovery, the peer's receive window with zero-window probes,
// HEARTBEAT, ABORT, SHUTDOWN; partial reliability (RFC 3758 FORWARD-TSN, per-message
// retransmission limit or lifetime); stream reset (RFC 6525 outgoing SSN reset) to close
// channels; the message-size limits of RFC 8841.
//
// Not implemented: multi-homing (DTLS gives one path), association restart (an INIT on an
// established association is ignored), I-DATA (RFC 8260), AUTH, adding streams.
//
// A message is held once: send() with SharedBytes keeps a reference to the caller's immutable
// buffer (send() with a ByteView makes the one copy) and every DATA chunk cut from it, first
// sent or retransmitted, points at its offset in that buffer. The reference goes when the last
// chunk of the message is acknowledged or abandoned (RFC 3758), or the message expires unsent.
//
// Memory is bounded by the config: send() fails with Errc::limit_exceeded when the send buffer
// (queued plus unacknowledged bytes) is full; received data held for reassembly, out of order
// or not yet taken by the application is bounded by the receive window (see
// SctpConfig::receive_window).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/shared_bytes.h"
#include "core/common/time.h"
#include "core/sctp/sctp_packet.h"

namespace cellrtc::sctp {

enum class CongestionControl : uint8_t {
  // RFC 9260 section 7.2 exactly: slow start, congestion avoidance, every loss event halves
  // cwnd.
  rfc9260,
  // Cellular links lose packets to radio errors, not only to full queues, and halving at each
  // of them keeps a long path nearly empty (the 1.22/sqrt(p) law). This mode sizes the window
  // from a model of the path, in the manner of BBR (Cardwell et al., ACM Queue 2016): the
  // bottleneck rate is the largest delivery rate measured over the last 10 round trips, the
  // base RTT the smallest RTT seen (re-measured every 10 s by draining to half their product
  // for a round trip), and cwnd aims at 1.5 times their product. A queue the path holds for
  // us is therefore about half a base RTT long. Startup grows cwnd like slow start and ends when
  // the
  // RTT of a whole round rises above the base (RFC 9406's delay increase) or the delivery rate
  // stops growing. A loss event cuts cwnd to one bandwidth-delay product when cwnd is above
  // it (what we queued may drain while the path stays full) and leaves a window at or below it
  // alone (there was no queue of ours to overflow: the loss is the link's). A standing queue
  // of other traffic lowers the delivery rate and with it the window. T3 expiry, RTO backoff
  // and the receiver window are RFC 9260's in both modes.
  delivery_rate,
};

struct SctpConfig {
  // RFC 8841 section 5: the ports from SDP a=sctp-port (5000 by default).
  uint16_t local_port = 5000;
  uint16_t remote_port = 5000;
  // Largest SCTP packet handed to DTLS. 1200 keeps DTLS + UDP + IPv6 under 1280 bytes.
  size_t mtu = 1200;
  // Our RFC 8841 max-message-size: larger incoming messages abort the association.
  size_t max_receive_message_size = 256 * 1024;
  // The peer's max-message-size until set_remote_max_message_size (RFC 8841 section 6.1: 64 KiB
  // when the peer's SDP has no attribute).
  size_t remote_max_message_size = 64 * 1024;
  // Bytes accepted by send() and not yet acknowledged, all streams together and per stream.
  size_t send_buffer_limit = 1024 * 1024;
  size_t stream_send_buffer_limit = 1024 * 1024;
  // Our advertised receive window (a_rwnd): bytes held out of order, in reassembly, or
  // delivered but not yet taken with poll_event(). The chunk that fills the cumulative gap is
  // accepted beyond it (it may be what the held data waits for) while messages waiting for the
  // application stay under it, so at worst about twice this much is held.
  size_t receive_window = 256 * 1024;
  // TSNs held above the cumulative ack (each reported in gap blocks).
  size_t max_out_of_order_chunks = 4096;
  uint16_t num_streams = 1024;  // outbound and inbound streams we offer

  // RFC 6298 / RFC 9260 section 6.3.1. RTO.Min 250 ms rather than 1 s (RFC 9260's) as WebRTC
  // stacks do; RTO.Max 10 s rather than 60 s: after a cellular outage a 60 s backoff would
  // leave a recovered link idle for up to a minute.
  Duration rto_initial = seconds(1);
  Duration rto_min = milliseconds(250);
  Duration rto_max = seconds(10);
  // The G of RFC 6298's RTO = SRTT + max(G, 4 RTTVAR); see on_rto_sample.
  Duration rto_granularity = milliseconds(200);
  // RFC 9260 section 6.2: acknowledge at least every second packet, or after this delay.
  Duration delayed_ack = milliseconds(200);
  // RFC 9260 section 8.3.
  Duration heartbeat_interval = seconds(30);
  // While T3-rtx is backed off (it expired and no packet came from the peer since) and data is
  // outstanding, a HEARTBEAT is sent this often (never more often than the RTO computed from
  // SRTT and RTTVAR), so that the return of a path after an outage nobody reported is seen
  // within about this long instead of at the next, doubled, T3 expiry (up to rto_max later).
  // Not in RFC 9260; see on_t3_expired. Zero: no such probes.
  Duration backoff_probe_interval = seconds(1);
  // RFC 9260 section 15: Valid.Cookie.Life.
  Duration cookie_lifetime = seconds(60);
  // RFC 9260 section 15: Association.Max.Retrans and Max.Init.Retransmits.
  int max_retransmissions = 10;
  int max_init_retransmissions = 8;
  // How the congestion window answers loss; see CongestionControl.
  CongestionControl congestion_control = CongestionControl::delivery_rate;
};

// Per-message options (RFC 8831 section 6.1: ordered or not, partially reliable by count or
// by time; RFC 3758).
struct SendOptions {
  bool unordered = false;
  // Retransmissions allowed before the message is abandoned (0: sent once).
  std::optional<uint16_t> max_retransmits;
  // The message is abandoned once this long has passed since send() and it is not yet acked.
  std::optional<Duration> max_lifetime;
};

enum class SctpState : uint8_t {
  closed,
  cookie_wait,
  cookie_echoed,
  established,
  shutdown_pending,
  shutdown_sent,
  shutdown_received,
  shutdown_ack_sent,
};
const char* to_string(SctpState state);

// What the rate controller and diagnostics read.
struct SctpStats {
  size_t cwnd = 0;
  size_t ssthresh = 0;
  size_t bytes_in_flight = 0;
  size_t peer_rwnd = 0;
  size_t buffered_amount = 0;  // all streams: queued plus unacknowledged
  std::optional<Duration> srtt;
  Duration rto{0};
  // Bytes newly acknowledged per second over about the last second (0 until measured).
  uint64_t delivery_rate_bps = 0;
  // CongestionControl::delivery_rate's model: the bottleneck rate (bits per second, 0 until
  // measured) and the base RTT.
  uint64_t bottleneck_rate_bps = 0;
  std::optional<Duration> min_rtt;
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t bytes_acked = 0;  // user bytes the peer acknowledged
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t retransmitted_chunks = 0;
  uint64_t fast_retransmits = 0;
  uint64_t rto_expirations = 0;
  uint64_t backoff_probes = 0;  // HEARTBEATs sent while T3 was backed off
  uint64_t abandoned_messages = 0;
  uint64_t dropped_chunks = 0;  // DATA we discarded: no buffer room, out of range
  uint64_t duplicate_chunks = 0;
};

namespace event {
struct Connected {};
struct Message {
  uint16_t stream = 0;
  uint32_t ppid = 0;
  Bytes data;
  bool unordered = false;
};
// The stream's buffered amount fell from above its threshold to at or below it.
struct BufferedAmountLow {
  uint16_t stream = 0;
};
// The peer reset its outgoing streams (RFC 6525): the data channels on them are closing.
struct StreamsResetByPeer {
  std::vector<uint16_t> streams;
};
// Our reset_streams() request finished; `success` false when the peer denied it.
struct OutgoingResetDone {
  std::vector<uint16_t> streams;
  bool success = true;
};
// Ended by the SHUTDOWN sequence.
struct Closed {};
// Ended by an ABORT (either side's) or by a fatal error (retransmissions exhausted).
struct Aborted {
  std::string reason;
};
}  // namespace event

using SctpEvent = std::variant<event::Connected, event::Message, event::BufferedAmountLow,
                               event::StreamsResetByPeer, event::OutgoingResetDone, event::Closed,
                               event::Aborted>;

class SctpAssociation {
 public:
  SctpAssociation(SctpConfig config, Random& rng);

  // Sends INIT (RFC 9260 section 5.1). Both WebRTC peers connect; the collision is resolved
  // by section 5.2. A peer that never connects still gets an association when it answers.
  void connect(Instant now);
  void handle_packet(Instant now, ByteView packet);
  void handle_timeout(Instant now);
  std::optional<Bytes> poll_transmit();
  std::optional<SctpEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  // Queues a message (non-empty; RFC 8831 section 6.6 maps empty ones to special PPIDs).
  // Errors: invalid_state (not established, shutting down, or stream being reset),
  // invalid_argument (empty, larger than the peer's max-message-size or any buffer, stream
  // out of range), limit_exceeded (the send buffer is full now: retry after acks).
  Status send(Instant now, uint16_t stream, uint32_t ppid, ByteView message,
              const SendOptions& options = {});
  // The same for a message that stays shared with the caller: no copy is made; the
  // association holds a reference until every chunk of it is acknowledged or abandoned. The
  // buffer must not change meanwhile (it is const to everyone). Null counts as empty.
  Status send(Instant now, uint16_t stream, uint32_t ppid, SharedBytes message,
              const SendOptions& options = {});
  // RFC 6525 outgoing SSN reset of `streams` once their queued data is sent; send() on them
  // fails until OutgoingResetDone. The peer answers with StreamsResetByPeer on its side.
  Status reset_streams(Instant now, std::span<const uint16_t> streams);
  // The transport below reports the path usable again after an outage (ICE: a pair selected
  // after a restart, or consent regained). The RTO backed off through the outage returns to
  // the one computed from SRTT and RTTVAR, the error count to zero, and outstanding data left
  // by a T3 expiry is retransmitted now instead of at the next, backed-off, expiry; with
  // nothing outstanding a HEARTBEAT measures the (possibly new) path. The association does the
  // same by itself when any packet arrives from the peer while T3 is backed off (see
  // SctpConfig::backoff_probe_interval); this call is for paths the transport knows are back
  // before the peer has sent anything.
  void handle_path_restored(Instant now);
  // RFC 9260 section 9.2: sends what is queued, then SHUTDOWN; ends with Closed.
  void shutdown(Instant now);
  // RFC 9260 section 9.1: ABORT with a User-Initiated Abort cause carrying `reason`.
  void abort(Instant now, std::string_view reason);

  size_t buffered_amount(uint16_t stream) const;
  void set_buffered_amount_low_threshold(uint16_t stream, size_t bytes);
  // From the peer's SDP a=max-message-size (RFC 8841 section 6); 0 means no limit.
  void set_remote_max_message_size(size_t bytes) { config_.remote_max_message_size = bytes; }

  SctpState state() const { return state_; }
  SctpStats stats() const;
  const SctpConfig& config() const { return config_; }

 private:
  // TSNs are unwrapped to 64 bits internally so comparisons never wrap.
  struct OutMessage {
    uint64_t id = 0;
    uint32_t ppid = 0;
    SharedBytes data;   // never null
    size_t offset = 0;  // bytes already cut into chunks
    bool unordered = false;
    uint16_t ssn = 0;  // assigned with the first fragment
    std::optional<uint16_t> max_retransmits;
    std::optional<Instant> expires;
  };
  struct OutStream {
    std::deque<OutMessage> queue;
    uint16_t next_ssn = 0;
    size_t buffered = 0;  // queued + unacknowledged bytes
    size_t low_threshold = 0;
    bool resetting = false;  // reset requested: no new sends
  };
  // The estimator's state when a chunk was (last) sent, as the per-packet state of
  // draft-cheng-iccrg-delivery-rate-estimation.
  struct DeliveryState {
    uint64_t delivered = 0;
    Instant delivered_time;
    Instant first_sent_time;
    Instant sent_at;
    bool app_limited = false;
  };
  struct SentChunk {
    uint64_t tsn = 0;
    uint64_t message = 0;
    uint16_t stream = 0;
    uint16_t ssn = 0;
    uint32_t ppid = 0;
    bool unordered = false;
    bool beginning = false;
    bool ending = false;
    // The payload is `size` bytes at `offset` of the message's buffer; the reference is dropped
    // once the chunk is acked or abandoned.
    SharedBytes message_data;
    size_t offset = 0;
    size_t size = 0;
    Instant sent_at;
    int transmissions = 0;
    int miss_indications = 0;
    bool acked = false;  // by a gap block
    bool retransmit = false;
    bool fast_retransmit = false;
    bool fast_retransmitted = false;  // RFC 9260 7.2.4: at most once per chunk
    bool released = false;            // its bytes left the send buffer
    bool abandoned = false;
    bool in_flight = false;
    std::optional<uint16_t> max_retransmits;
    std::optional<Instant> expires;
    DeliveryState delivery;
  };
  struct RecvChunk {
    uint16_t stream = 0;
    uint16_t ssn = 0;
    uint32_t ppid = 0;
    bool unordered = false;
    bool beginning = false;
    bool ending = false;
    Bytes payload;
  };
  struct ReadyMessage {
    uint16_t ssn = 0;
    uint32_t ppid = 0;
    Bytes data;
  };
  struct InStream {
    uint16_t next_ssn = 0;
    std::vector<ReadyMessage> ready;  // complete ordered messages waiting for earlier ones
  };
  struct Cookie {
    uint32_t local_tag = 0;
    uint32_t local_initial_tsn = 0;
    uint32_t peer_tag = 0;
    uint32_t peer_initial_tsn = 0;
    uint32_t peer_rwnd = 0;
    uint16_t peer_outbound_streams = 0;
    uint16_t peer_inbound_streams = 0;
    bool peer_forward_tsn = false;
    bool peer_reconfig = false;
    int64_t timestamp_us = 0;
  };
  static Cookie cookie_from(const InitChunk& init, uint32_t local_tag, uint32_t local_initial_tsn);
  struct PendingReset {
    uint32_t request_sequence = 0;
    std::vector<uint16_t> streams;
    uint64_t last_tsn = 0;
  };

  // Setup.
  InitChunk make_init() const;
  Bytes encode_cookie(const Cookie& cookie) const;
  std::optional<Cookie> decode_cookie(ByteView bytes) const;
  void establish(Instant now, const Cookie& cookie);
  void handle_init(Instant now, const CommonHeader& header, const InitChunk& init);
  void handle_init_ack(Instant now, const InitChunk& init);
  void handle_cookie_echo(Instant now, const CommonHeader& header, ByteView cookie);

  // Receiving data.
  void handle_data(Instant now, const DataChunk& data, bool& gap_or_dup);
  void try_reassemble(uint64_t tsn);
  void deliver_ordered(uint16_t stream);
  void advance_cumulative();
  void handle_forward_tsn(Instant now, const ForwardTsnChunk& fwd);
  void queue_message(uint16_t stream, uint32_t ppid, Bytes data, bool unordered);
  size_t held_bytes() const { return reassembly_bytes_ + ready_bytes_ + undelivered_bytes_; }
  uint32_t advertised_rwnd() const;
  SackChunk make_sack();
  void maybe_perform_peer_reset(Instant now);

  // Sending data.
  void handle_sack(Instant now, const SackChunk& sack);
  void on_rto_sample(Instant now, Duration rtt);
  Duration computed_rto() const;  // RFC 6298 section 2 from SRTT and RTTVAR, no backoff
  // CongestionControl::delivery_rate.
  void on_delivery_sample(Instant now, const DeliveryState& newest);
  size_t bdp_estimate() const;  // bottleneck rate x base RTT, 0 until both are known
  size_t cwnd_target() const;
  void on_loss_event();
  void grow_cwnd(uint64_t newly_acked, size_t flight_before, bool cum_advanced);
  void on_t3_expired(Instant now);
  // handle_path_restored's work; `stalled`: a T3 expiry left outstanding data waiting,
  // `measure_if_idle`: send a HEARTBEAT when nothing is outstanding.
  void resume_after_outage(Instant now, bool stalled, bool measure_if_idle);
  bool data_outstanding() const;  // DATA sent and not yet acknowledged or abandoned
  Duration backoff_probe_period() const;
  void release_acked(SentChunk& chunk, uint64_t& bytes);
  void abandon_message(Instant now, uint16_t stream, uint64_t message);
  void check_lifetimes(Instant now);
  void advance_peer_ack_point();
  void release_stream_bytes(uint16_t stream, size_t bytes);
  size_t flight_size() const { return flight_size_; }
  void mark_for_retransmit(Instant now, SentChunk& chunk, bool fast);
  bool expired(const SentChunk& chunk, Instant now) const;
  bool take_fragment(Instant now, size_t room, SentChunk& out);
  // Why `stream` cannot take a message of `size` bytes now, or nothing when it can.
  Status check_send(uint16_t stream, size_t size);

  // Re-configuration.
  void handle_reconfig(Instant now, const ReconfigChunk& chunk);
  void maybe_send_reset_request(Instant now);

  // Output.
  void flush(Instant now);
  void send_packet(PacketBuilder& builder);
  void send_control(Instant now, ChunkType type);
  void send_abort(std::string_view reason, bool tag_reflected, uint32_t tag);
  void fail(Instant now, std::string reason);  // ends without ABORT sent by the peer
  void start_t3(Instant now);
  void send_heartbeat(Instant now);
  void close_with(SctpEvent e);
  uint64_t unwrap_peer(uint32_t tsn) const;
  uint64_t unwrap_ours(uint32_t tsn) const;
  OutStream& out_stream(uint16_t stream) { return out_streams_[stream]; }
  bool can_send_data() const;

  SctpConfig config_;
  Random& rng_;
  std::array<uint8_t, 32> secret_{};
  SctpState state_ = SctpState::closed;

  uint32_t local_tag_ = 0;
  uint32_t peer_tag_ = 0;
  uint32_t local_initial_tsn_ = 0;
  uint16_t outbound_streams_ = 0;
  uint16_t inbound_streams_ = 0;
  bool peer_forward_tsn_ = false;
  bool peer_reconfig_ = false;
  std::optional<Bytes> cookie_to_echo_;
  Cookie pending_;  // what COOKIE ACK will establish (we initiated)
  int init_retransmissions_ = 0;
  std::optional<Instant> t1_;
  Duration t1_rto_{0};

  // Send side.
  std::map<uint16_t, OutStream> out_streams_;
  std::deque<SentChunk> outstanding_;  // TSN order, from cum_ack_ + 1
  uint64_t next_tsn_ = 0;
  uint64_t cum_ack_ = 0;            // peer's cumulative ack, unwrapped
  uint64_t advanced_peer_ack_ = 0;  // RFC 3758 Advanced.Peer.Ack.Point
  uint64_t next_message_id_ = 1;
  uint16_t rr_next_stream_ = 0;  // round-robin position among streams with data
  size_t total_buffered_ = 0;
  size_t flight_size_ = 0;
  size_t cwnd_ = 0;
  size_t ssthresh_ = 0;
  size_t partial_bytes_acked_ = 0;
  size_t peer_rwnd_ = 0;
  std::optional<uint64_t> fast_recovery_exit_;
  bool pending_forward_tsn_ = false;
  std::optional<Duration> srtt_;
  std::optional<Duration> latest_rtt_;
  std::optional<Duration> min_rtt_;
  Instant min_rtt_at_;
  Duration rttvar_{0};
  Duration rto_{0};
  std::optional<Instant> t3_;
  int error_count_ = 0;
  // T3 expired and nothing arrived from the peer since: the RTO is backed off.
  bool backed_off_ = false;
  bool peer_window_closed_ = false;  // by the peer's last SACK, for the earliest chunk
  std::optional<Instant> backoff_probe_at_;
  std::deque<std::pair<Instant, uint64_t>> delivery_samples_;  // (time, bytes_acked)
  // CongestionControl::delivery_rate: the delivery-rate estimator and the path model.
  uint64_t delivered_ = 0;  // bytes acknowledged, cumulatively or by gap blocks
  Instant delivered_time_;
  Instant first_sent_time_;
  uint64_t app_limited_until_ = 0;  // 0, or delivered_ at which the app-limited phase ends
  uint64_t next_round_delivered_ = 0;
  uint64_t round_ = 0;
  std::array<uint64_t, 10> round_max_rate_{};  // bytes per second, the largest per round
  uint64_t bottleneck_rate_ = 0;               // bytes per second, max over round_max_rate_
  bool filled_pipe_ = false;                   // startup ended
  uint64_t full_rate_ = 0;
  int full_rate_rounds_ = 0;
  std::optional<Duration> round_min_rtt_;
  bool probe_rtt_ = false;
  std::optional<Instant> probe_rtt_until_;
  std::optional<Duration> probe_min_rtt_;
  size_t prior_cwnd_ = 0;

  // Receive side.
  uint64_t peer_cum_tsn_ = 0;  // our cumulative TSN for the peer's data, unwrapped
  std::map<uint64_t, RecvChunk> reassembly_;
  std::set<uint64_t> received_above_cum_;
  std::map<uint16_t, InStream> in_streams_;
  size_t reassembly_bytes_ = 0;
  size_t ready_bytes_ = 0;
  size_t undelivered_bytes_ = 0;
  std::vector<uint32_t> duplicates_;
  bool sack_now_ = false;
  int packets_unacked_ = 0;
  std::optional<Instant> delayed_ack_;
  uint32_t last_advertised_rwnd_ = 0;

  // Heartbeat.
  std::optional<Instant> heartbeat_at_;
  std::optional<Instant> heartbeat_sent_;
  uint64_t heartbeat_nonce_ = 0;
  std::optional<Bytes> heartbeat_ack_info_;  // a HEARTBEAT ACK to send

  // Shutdown.
  std::optional<Instant> t2_;
  int shutdown_retransmissions_ = 0;
  std::optional<uint32_t> shutdown_cum_;  // cumulative ack carried by the peer's SHUTDOWN

  // Re-configuration (RFC 6525).
  std::vector<uint16_t> reset_queue_;  // streams waiting for a request
  std::optional<OutgoingResetRequest> reset_in_flight_;
  std::optional<Instant> reconfig_timer_;
  int reconfig_retransmissions_ = 0;
  uint32_t next_request_sequence_ = 0;
  uint32_t peer_next_request_sequence_ = 0;
  std::optional<PendingReset> peer_reset_deferred_;
  std::optional<ReconfigResponse> last_reconfig_response_;
  std::vector<ReconfigResponse> responses_to_send_;
  bool send_reset_request_ = false;

  std::deque<Bytes> transmits_;
  std::deque<SctpEvent> events_;
  SctpStats counters_;
};

}  // namespace cellrtc::sctp
