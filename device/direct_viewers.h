// Direct mode on the device (docs/protocol.md, "Direct mode"): the server forwards a viewer's
// WHEP offer over the control channel; the device answers with a PeerConnection of its own for
// that viewer (full ICE, its own UDP sockets) and sends it the camera's frames directly.
//
// Each viewer has its own StreamingSession (the answering side: it takes the viewer's `video`
// and `control` channels), so each has its own newest-frame-wins slot and rate budget: a slow
// viewer loses frames of its own and slows neither the others nor the relay's uplink.
//
//   DirectViewers direct(loop, rng, certificate, config, send_to_server);
//   while (auto m = session.poll_direct_message()) direct.handle(now, *m);
//   direct.offer_frame(now, frame);        // every captured frame, before the relay's
//
// Candidates: host candidates of the configured addresses (none with the relay policy), and
// relayed ones on the TURN servers of the device's WHIP answer (its Link headers, time-limited
// credentials; set_ice_servers), so a device behind carrier NAT reaches viewers through TURN.
// The WHIP answer's credentials may have expired in a long session: a viewer's relays use the
// freshest credentials the device holds instead, those of a `turn-credentials` push or of a
// direct-offer's fields, whichever expire last (docs/protocol.md).
// The device cannot trickle to a WHEP viewer (docs/protocol.md: the answer carries every
// candidate), so the answer waits until every TURN server has allocated or failed, at most
// `gather_timeout`: a dead TURN server does not hold it longer. A relayed candidate allocated
// after the answer still works: its checks reach the viewer, which learns it as
// peer-reflexive (RFC 8445 section 7.3.1.3).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/common/random.h"
#include "core/common/socket_address.h"
#include "core/media/control_message.h"
#include "core/media/streaming_session.h"
#include "core/sctp/sctp_association.h"
#include "core/turn/relay_gatherer.h"
#include "device/relay_setup.h"
#include "device/whip_client.h"
#include "runtime/event_loop.h"

namespace cellrtc::dtls {
class Certificate;
}

namespace cellrtc::device {

struct DirectViewersConfig {
  // The device's own limit (an ESP32-S3 has room for few connections); offers beyond it are
  // refused with direct-error and the server serves those viewers by the relay.
  size_t max_viewers = 4;
  // Local addresses to bind, one UDP socket and host candidate each, per viewer.
  std::vector<SocketAddress> bind;
  ice::IceConfig ice;  // stun_servers: server-reflexive candidates
  // TURN as for the device's own session: relay_only (--ice-transport-policy relay: no host
  // candidates), more turn:/turns: URLs, the CA file for turns:, static name mappings.
  RelayConfig relay;
  // Where each viewer's socket for TURN over UDP is bound (port 0: the kernel picks).
  SocketAddress turn_bind{IpAddress(), 0};
  // How long an answer may wait for relayed candidates: the server waits kDirectAnswerWait
  // (5 s) for the answer (docs/protocol.md, "Direct mode"), and the offer and the answer still
  // travel the device's link (kDirectAnswerMargin, core/media/control_message.h). Longer
  // values are cut to media::kDirectGatherLimit.
  Duration gather_timeout = media::kDirectGatherLimit;
  media::StreamingSessionConfig session;
  // Not connected in this long: given up (direct-state "failed").
  Duration connect_timeout = seconds(30);
};

struct DirectViewerStats {
  uint64_t offers = 0;           // whole offers received
  uint64_t answered = 0;         // answers sent
  uint64_t refused = 0;          // direct-error sent (limit, unusable offer, no relay in time)
  uint64_t relayed_answers = 0;  // answers with at least one relayed candidate
  uint64_t gather_timeouts = 0;  // answers sent at gather_timeout, a TURN server still silent
  uint64_t connected = 0;        // viewers whose connection came up
  uint64_t closed = 0;           // viewers gone (closed by the server, failed, timed out)
};

class DirectViewers {
 public:
  // A control message for the server (direct-answer parts, direct-state, direct-error).
  using SendToServer = std::function<void(const std::string& text)>;
  using Log = std::function<void(const std::string& line)>;

  // `loop`, `rng` and `certificate` outlive this.
  DirectViewers(runtime::EventLoop& loop, Random& rng, const dtls::Certificate& certificate,
                DirectViewersConfig config, SendToServer send);
  ~DirectViewers();
  DirectViewers(const DirectViewers&) = delete;
  DirectViewers& operator=(const DirectViewers&) = delete;

  // One line per viewer event (answered, refused, connected, gone), for the device's log.
  void set_log(Log log) { log_ = std::move(log); }
  // The ICE servers of the device's current WHIP session (its answer's Link headers); viewers
  // that offer from now on gather relays on their TURN entries and the configured URLs. Host
  // names are resolved here, once per session, not per viewer. Returns what was skipped and
  // why, for the log.
  std::vector<std::string> set_ice_servers(const std::vector<IceServer>& servers);

  // A direct-offer part, direct-candidate, direct-close or turn-credentials; other messages
  // are ignored.
  void handle(Instant now, const media::DeviceMessage& message);
  // The camera serves the relay session and the direct viewers: it captures when any of them
  // is due (the rate is the highest any wants), as large and good as the due ones want
  // (media::widest_capture), and each takes a frame only when its own rate is due, so a
  // viewer's receiver reports, `set` and `snapshot` reach the camera as the relay session's do.
  // Whether a viewer is due for a frame now (or wants a snapshot).
  bool capture_due(Instant now) const;
  // When the first viewer is due next; nullopt without a streaming viewer.
  std::optional<Instant> next_capture(Instant now) const;
  // `relay` (the relay session's request) widened by every due viewer's; `relay` alone when
  // `relay_due` and no viewer is due.
  media::CaptureRequest capture_request(Instant now, const media::CaptureRequest& relay,
                                        bool relay_due) const;
  // A captured frame, copied to every viewer whose video channel is open and that is due.
  void offer_frame(Instant now, const media::EncodedFrame& frame);
  // Closes every viewer's connection (the agent stops).
  void close_all(Instant now);

  size_t size() const { return viewers_.size(); }
  // Viewers gone whose TURN deallocations are still in flight (each at most the relays'
  // close_timeout; they count against no limit).
  size_t closing() const { return closing_.size(); }
  // Viewers whose video channel is open.
  size_t streaming() const;
  // The streaming stats of viewer `id`, while it exists.
  const media::StreamingStats* viewer_stats(const std::string& id) const;
  // The recovery counters of every current viewer's SCTP association, summed (the device's
  // stats line): fast_retransmits, retransmitted_chunks, rto_expirations, backoff_probes.
  sctp::SctpStats sctp_counters() const;
  const DirectViewerStats& stats() const { return stats_; }

 private:
  class Viewer;
  void on_offer(Instant now, const std::string& id, const std::string& sdp);
  // Keeps `credentials` when they expire no earlier than the ones held.
  void hold_credentials(turn::TurnCredentials credentials, int64_t expires);
  void step(Viewer& v, Instant now);
  // Sends the answer with the candidates gathered so far; false when the viewer was refused.
  bool answer(Viewer& v, Instant now);
  // Ends a viewer after telling the server `message` (a direct-state or direct-error).
  void remove_later(const std::string& id, const std::string& message);
  // Closes a viewer's connection; it stays in closing_ while its relays deallocate.
  void retire(Instant now, std::unique_ptr<Viewer> v);
  void drop_later(Viewer& v);
  void note(const std::string& line) const {
    if (log_) log_(line);
  }

  runtime::EventLoop& loop_;
  Random& rng_;
  const dtls::Certificate& certificate_;
  DirectViewersConfig config_;
  SendToServer send_;
  Log log_;
  // The relays of the current WHIP session's ICE servers (udp_local set per viewer), or why
  // there are none.
  std::optional<turn::RelayGathererConfig> relays_;
  std::string no_relays_ = "no TURN server offered yet";
  media::DirectSdpJoiner joiner_;
  // The freshest TURN credentials received (push or offer fields), and when they expire (unix
  // seconds); they replace the WHIP answer's for every viewer's relays.
  std::optional<turn::TurnCredentials> fresh_credentials_;
  int64_t fresh_expires_ = 0;
  std::map<std::string, std::unique_ptr<Viewer>> viewers_;
  std::vector<std::unique_ptr<Viewer>> closing_;  // see closing()
  DirectViewerStats stats_;
};

}  // namespace cellrtc::device
