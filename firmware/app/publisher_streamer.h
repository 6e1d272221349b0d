// The app's Streamer on the portable publisher (core/streamer/publisher.h): WHIP, the
// PeerConnection and its StreamingSession, with the same supervision as cellrtc-device. The
// platform's glue still performs the publisher's HTTP requests (esp_http_client on the device)
// and carries its datagrams (lwIP sockets) through `publisher()`; this adapter maps the app's
// calls: network up/down to start/stop (dropping the session at once when the network is
// gone), lent camera frames to frame messages, the app's telemetry to the control channel's
// `modem` and `device` objects.
#pragma once

#include <memory>
#include <optional>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/streamer/publisher.h"
#include "firmware/app/ports.h"
#include "firmware/app/request_runner.h"

namespace cellrtc::firmware {

class PublisherStreamer final : public Streamer {
 public:
  // `rng`, `certificate`, `host` and `runner` outlive the streamer. `runner` performs the
  // publisher's requests (the glue pumps them, request_runner.h); stop() cancels what it
  // still holds. May be null when nothing performs them in the background.
  PublisherStreamer(streamer::PublisherConfig config, Random& rng,
                    const dtls::Certificate& certificate, streamer::PublisherHost& host,
                    RequestRunner* runner = nullptr);

  void start(Instant now) override;
  // The network is gone: the session and its frames are dropped, and the requests still with
  // the runner are cancelled (their answers, if any come, are never given to the publisher).
  void stop(Instant now) override;
  bool wants_frame(Instant now) const override;
  std::optional<Instant> next_capture() const override;
  FrameWish frame_wish() const override;
  // The frame's JPEG is written once into a frame message (header in front, as the data
  // channel sends it) and the camera's buffer goes back at once, so the driver can fill it
  // again while the message waits for the transport.
  void offer_frame(Instant now, FrameLease frame) override;
  void set_telemetry(const DeviceTelemetry& telemetry) override;
  void handle_timeout(Instant now) override;
  std::optional<Instant> next_timeout() const override;
  std::optional<Instant> last_received() const override { return last_received_; }

  // The glue: anything received for the session (a datagram, stream bytes, an HTTP answer).
  void note_received(Instant now) { last_received_ = now; }
  streamer::Publisher& publisher() { return publisher_; }

 private:
  streamer::Publisher publisher_;
  RequestRunner* runner_;
  std::optional<Instant> last_received_;
  Instant now_;  // the latest time given, for the session's next capture
};

}  // namespace cellrtc::firmware
