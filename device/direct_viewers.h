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
// Candidates: host candidates of the configured addresses now; server-reflexive and relayed
// ones (TURN, the credentials the WHIP answer carries) are gathered before the answer once the
// PeerConnection gathers them (DirectViewersConfig::ice).
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
  media::StreamingSessionConfig session;
  // Not connected in this long: given up (direct-state "failed").
  Duration connect_timeout = seconds(30);
};

struct DirectViewerStats {
  uint64_t offers = 0;     // whole offers received
  uint64_t answered = 0;   // answers sent
  uint64_t refused = 0;    // direct-error sent (limit, unusable offer)
  uint64_t connected = 0;  // viewers whose connection came up
  uint64_t closed = 0;     // viewers gone (closed by the server, failed, timed out)
};

class DirectViewers {
 public:
  // A control message for the server (direct-answer parts, direct-state, direct-error).
  using SendToServer = std::function<void(const std::string& text)>;

  // `loop`, `rng` and `certificate` outlive this.
  DirectViewers(runtime::EventLoop& loop, Random& rng, const dtls::Certificate& certificate,
                DirectViewersConfig config, SendToServer send);
  ~DirectViewers();
  DirectViewers(const DirectViewers&) = delete;
  DirectViewers& operator=(const DirectViewers&) = delete;

  // A direct-offer part, direct-candidate or direct-close; other messages are ignored.
  void handle(Instant now, const media::DeviceMessage& message);
  // A captured frame, copied to every viewer whose video channel is open.
  void offer_frame(Instant now, const media::EncodedFrame& frame);
  // Closes every viewer's connection (the agent stops).
  void close_all(Instant now);

  size_t size() const { return viewers_.size(); }
  // Viewers whose video channel is open.
  size_t streaming() const;
  // The streaming stats of viewer `id`, while it exists.
  const media::StreamingStats* viewer_stats(const std::string& id) const;
  const DirectViewerStats& stats() const { return stats_; }

 private:
  class Viewer;
  void on_offer(Instant now, const std::string& id, const std::string& sdp);
  void step(Viewer& v, Instant now);
  void remove_later(const std::string& id, const char* state);

  runtime::EventLoop& loop_;
  Random& rng_;
  const dtls::Certificate& certificate_;
  DirectViewersConfig config_;
  SendToServer send_;
  media::DirectSdpJoiner joiner_;
  std::map<std::string, std::unique_ptr<Viewer>> viewers_;
  DirectViewerStats stats_;
};

}  // namespace cellrtc::device
