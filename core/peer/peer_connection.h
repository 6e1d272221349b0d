// A WebRTC peer for data channels, sans-IO: ICE, DTLS, SCTP and data channels composed into
// one object with a small API (the shape of RTCPeerConnection, str0m's Rtc and
// libdatachannel's PeerConnection), fed with datagrams and time, polled for datagrams, events
// and its next deadline.
//
//   PeerConnection pc(config, rng);                 // config.certificate must outlive pc
//   pc.add_host_socket(now, bound_address);         // one per local socket
//   auto offer = pc.create_offer(now);              // or set_remote_description(offer) and
//   pc.set_remote_description(now, answer_sdp);     //    create_answer(now)
//   auto id = pc.create_data_channel(now, {.label = "video", .ordered = false});
//   pc.handle_datagram(now, local, from, bytes);
//   pc.handle_timeout(now);
//   while (auto t = pc.poll_transmit()) socket.send(*t);
//   while (auto e = pc.poll_event()) ...             // candidates, state, channel open/message
//   wake_at = pc.next_timeout();
//
// Every call that takes `now` may queue datagrams and events: drain both after each.
//
// Layering inside (RFC 8831 section 5): datagrams are demultiplexed by first byte (RFC 7983);
// STUN goes to the ICE agent, DTLS records to the DTLS transport once it exists; DTLS
// application data carries SCTP packets (RFC 8261); SCTP messages carry data-channel messages
// and DCEP (RFC 8832), handled by DataChannels.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/shared_bytes.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "core/datachannel/data_channels.h"
#include "core/dtls/dtls_transport.h"
#include "core/ice/ice_agent.h"
#include "core/peer/setup_round_trips.h"
#include "core/sctp/sctp_association.h"
#include "core/sdp/negotiation.h"
#include "core/sdp/session_description.h"
#include "core/turn/relay_gatherer.h"

namespace cellrtc::peer {

struct PeerConfig {
  // ICE settings; the role comes from offer/answer (RFC 8445 section 6.1.1): the offerer
  // controls unless it is lite, a full agent always controls a lite peer.
  ice::IceConfig ice;
  const dtls::Certificate* certificate = nullptr;
  // DTLS role taken when answering an offer of a=setup:actpass: active = DTLS client, which
  // cellrtc prefers toward browsers (a fragmented ClientHello is then theirs to send to no one).
  bool answer_as_dtls_client = true;
  dtls::DtlsConfig dtls;  // role, certificate and fingerprint are filled in by the connection
  sctp::SctpConfig sctp;  // ports and message sizes follow the SDP
  datachannel::DataChannelsConfig channels;
};

enum class PeerState : uint8_t { new_, connecting, connected, disconnected, failed, closed };
const char* to_string(PeerState state);

// When each setup phase completed, in this object's time, for stats and round-trip counts.
struct PeerTimeline {
  std::optional<Instant> remote_description;  // set_remote_description succeeded
  std::optional<Instant> ice_connected;       // first selected pair
  std::optional<Instant> dtls_connected;
  std::optional<Instant> sctp_connected;
  std::optional<Instant> first_channel_open;
};

struct PeerStats {
  PeerTimeline timeline;
  SetupRoundTrips round_trips;  // per setup phase, see setup_round_trips.h
  ice::IceStats ice;
  dtls::DtlsStats dtls;
  sctp::SctpStats sctp;
};

namespace event {
// Trickle: send to the peer as a=candidate (RFC 8838); nullopt candidate = end-of-candidates.
struct LocalCandidate {
  std::optional<ice::Candidate> candidate;
};
struct StateChanged {
  PeerState state;
};
struct Failed {
  std::string reason;
};
}  // namespace event

using PeerEvent =
    std::variant<event::LocalCandidate, event::StateChanged, event::Failed,
                 datachannel::event::ChannelOpen, datachannel::event::ChannelMessage,
                 datachannel::event::ChannelBufferedAmountLow, datachannel::event::ChannelClosed>;

class PeerConnection {
 public:
  PeerConnection(PeerConfig config, Random& rng);
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // --- local sockets
  Status add_host_socket(Instant now, const SocketAddress& bound);
  // A candidate gathered elsewhere: an ICE-TCP candidate (RFC 6544), a TURN relayed one.
  Status add_local_candidate(Instant now, ice::Candidate candidate);
  void end_of_local_sockets(Instant now);
  // Path choice: see ice::IceAgent::set_udp_grace_from_round_trip (the device passes the
  // duration of its WHIP POST).
  void set_udp_grace_from_round_trip(Duration exchange) {
    ice_.set_udp_grace_from_round_trip(exchange);
  }

  // --- TURN relays (RFC 8656)
  // Allocates on every server of `config` in parallel (turn/relay_gatherer.h); each relayed
  // candidate joins ICE as soon as its own allocation succeeds (a LocalCandidate event to
  // trickle), ICE's transmits from a relayed base go through that server's TurnClient and the
  // data it relays comes back in as if received on the relayed address. A server that fails
  // costs only its own candidate (poll_relay_event says which and why). Once per connection;
  // close() deallocates. TCP/TLS servers need the stream calls below.
  Status start_relays(Instant now, turn::RelayGathererConfig config);
  // What each TURN server did: RelayedCandidate (with the time it took), ServerFailed,
  // GatheringDone. For logs and stats; the connection has already acted on them.
  std::optional<turn::RelayEvent> poll_relay_event();
  const turn::RelayGatherer* relays() const { return relays_.get(); }
  // After close(): the relays still deallocating (their Refresh with LIFETIME 0 is
  // retransmitted like any request until close_timeout, RFC 8656 section 7.2), handed over so
  // that their owner can drive them to the end once this connection is gone (its
  // handle_datagram/handle_timeout/poll_transmit and stream calls, through the same sockets);
  // nullptr when there are none or they are done. A connection that lives on after close()
  // drives them itself.
  std::unique_ptr<turn::RelayGatherer> take_relays();
  // Fresh credentials (TURN REST, from the signaling server) for every TURN server's next
  // allocation: a reallocation after one died. Live allocations keep theirs (RFC 8656
  // section 5).
  void set_relay_credentials(const turn::TurnCredentials& credentials);
  // Byte streams to TURN servers over TCP/TLS (common/transport.h).
  std::optional<StreamCommand> poll_stream_command();
  void handle_stream_connected(Instant now, uint32_t stream);
  void handle_stream_data(Instant now, uint32_t stream, ByteView data);
  void handle_stream_closed(Instant now, uint32_t stream);
  // New local UDP ports for TURN servers that answered 437 over UDP (common/transport.h).
  std::optional<SocketRequest> poll_socket_request();
  void handle_socket_bound(Instant now, uint32_t id, const std::optional<SocketAddress>& bound);

  // --- signaling (JSEP, RFC 8829)
  // Our offer: one BUNDLEd data section, a=setup:actpass, the candidates gathered so far.
  Result<std::string> create_offer(Instant now);
  // Takes the peer's offer (we answer) or answer (to our offer). Errors name what was wrong.
  Status set_remote_description(Instant now, std::string_view sdp);
  // Our answer to the offer set with set_remote_description.
  Result<std::string> create_answer(Instant now);
  // A trickled "candidate:..." (with or without "a="), or "end-of-candidates".
  Status add_remote_candidate(Instant now, std::string_view line);
  // The description we sent last (offer or answer), with every candidate gathered until now.
  std::optional<std::string> local_description() const;

  // --- data channels (RFC 8831)
  Result<uint16_t> create_data_channel(Instant now, const datachannel::ChannelParameters& params);
  Status send(Instant now, uint16_t channel, ByteView data, bool binary = true);
  // The same without copying `data`: the message stays shared (one frame to many peers) and
  // SCTP references it until it is acknowledged or abandoned.
  Status send(Instant now, uint16_t channel, SharedBytes data, bool binary = true);
  Status close_channel(Instant now, uint16_t channel);
  size_t buffered_amount(uint16_t channel) const;
  void set_buffered_amount_low_threshold(uint16_t channel, size_t bytes);
  const datachannel::DataChannels& channels() const { return channels_; }

  // --- network
  // `protocol` TCP: one message out of an ICE-TCP connection's RFC 4571 framing (RFC 6544).
  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data, TransportProtocol protocol = TransportProtocol::udp);
  void handle_timeout(Instant now);
  std::optional<Transmit> poll_transmit();
  std::optional<PeerEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  // Ends everything: SCTP ABORT-free shutdown is not awaited; DTLS close_notify is sent.
  void close(Instant now);
  // RFC 8445 section 9: new local credentials; the new offer goes to the peer.
  void restart_ice(Instant now);

  PeerState state() const { return state_; }
  PeerStats stats() const;
  const ice::IceAgent& ice() const { return ice_; }
  std::optional<dtls::DtlsRole> dtls_role() const { return dtls_role_; }

 private:
  enum class Signaling : uint8_t { stable, have_local_offer, have_remote_offer };

  sdp::LocalParameters local_parameters() const;
  Status apply_remote(Instant now, const sdp::SessionDescription& remote, bool is_offer);
  void start_dtls(Instant now);
  void receive(Instant now, const SocketAddress& local, const SocketAddress& from, ByteView data,
               TransportProtocol protocol);
  void pump(Instant now);
  bool pump_relays(Instant now);
  void route_transmit(Instant now, Transmit t);
  void maybe_end_of_candidates();
  void on_ice_event(Instant now, ice::IceEvent e);
  void fail(std::string reason);
  void count_setup_packet(ByteView sctp_packet);
  bool setup_counted() const;
  void set_state(PeerState s);

  PeerConfig config_;
  Random& rng_;
  ice::IceAgent ice_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::unique_ptr<sctp::SctpAssociation> sctp_;  // once DTLS is up
  datachannel::DataChannels channels_;

  Signaling signaling_ = Signaling::stable;
  std::optional<sdp::SessionDescription> remote_;
  std::optional<std::string> local_sdp_;
  uint64_t session_id_;
  uint64_t session_version_ = 1;
  std::optional<dtls::DtlsRole> dtls_role_;
  std::string remote_fingerprint_;
  bool remote_ice_lite_ = false;
  bool gathering_complete_ = false;      // end-of-candidates announced
  bool ice_gathering_complete_ = false;  // ICE's own gathering is done

  // TURN: the gatherer, ICE's transmits that went to sockets while relays exist, the reports.
  std::unique_ptr<turn::RelayGatherer> relays_;
  std::deque<Transmit> socket_out_;
  std::deque<turn::RelayEvent> relay_reports_;
  Instant relay_now_;  // the latest time the connection was given, for routing in poll_transmit

  PeerState state_ = PeerState::new_;
  PeerTimeline timeline_;
  SetupRoundTrips round_trips_;
  std::optional<uint16_t> first_opened_channel_;  // our first in-band channel
  bool dcep_exchanged_ = false;                   // its DCEP ACK arrived
  std::deque<PeerEvent> events_;
};

}  // namespace cellrtc::peer
