#include "firmware/app/publisher_streamer.h"

#include <cstring>

#include "core/media/frame_header.h"
#include "firmware/app/telemetry_mapping.h"

namespace cellrtc::firmware {

PublisherStreamer::PublisherStreamer(streamer::PublisherConfig config, Random& rng,
                                     const dtls::Certificate& certificate,
                                     streamer::PublisherHost& host, RequestRunner* runner)
    : publisher_(std::move(config), rng, certificate, host, streamer::CameraMode::push),
      runner_(runner) {}

void PublisherStreamer::start(Instant now) {
  now_ = now;
  publisher_.start(now);
}

void PublisherStreamer::stop(Instant now) {
  now_ = now;
  // The network is gone: the DELETE would not arrive, the frames held are stale.
  publisher_.stop(now, streamer::Publisher::StopMode::drop);
  // A request on the dead network would hold the worker until its timeout (20 s), ahead of
  // the next session's POST, and its late answer would count as the network answering.
  if (runner_) runner_->cancel_all();
}

bool PublisherStreamer::wants_frame(Instant now) const {
  return publisher_.wants_frame(now);
}

std::optional<Instant> PublisherStreamer::next_capture() const {
  const media::StreamingSession* session = publisher_.session();
  if (!session || !session->video_open()) return std::nullopt;
  return session->next_capture(now_);
}

FrameWish PublisherStreamer::frame_wish() const {
  FrameWish wish;
  if (const media::StreamingSession* session = publisher_.session()) {
    media::CaptureRequest r = session->capture_request();
    wish.quality = r.quality;
    wish.width = r.width;
    wish.height = r.height;
  }
  return wish;
}

void PublisherStreamer::offer_frame(Instant now, FrameLease frame) {
  now_ = now;
  if (!publisher_.wants_frame(now)) return;  // the lease returns the frame
  media::EncodedFrame encoded;
  const ByteView jpeg = frame.jpeg();
  encoded.message.resize(media::kFrameHeaderSize + jpeg.size());
  std::memcpy(encoded.message.data() + media::kFrameHeaderSize, jpeg.data(), jpeg.size());
  encoded.width = frame.frame().width;
  encoded.height = frame.frame().height;
  encoded.capture_time = frame.frame().capture_time;
  frame.reset();  // the camera's buffer goes back before the message is sent
  publisher_.offer_frame(now, std::move(encoded));
}

void PublisherStreamer::set_telemetry(const DeviceTelemetry& telemetry) {
  publisher_.set_modem(modem_telemetry(telemetry));
  publisher_.set_device_health(device_health(telemetry));
}

void PublisherStreamer::handle_timeout(Instant now) {
  now_ = now;
  if (auto t = publisher_.peer_timeout(); t && *t <= now) publisher_.handle_peer_timeout(now);
  if (auto t = publisher_.next_timeout(); t && *t <= now) publisher_.handle_timeout(now);
}

std::optional<Instant> PublisherStreamer::next_timeout() const {
  return earliest(publisher_.next_timeout(), publisher_.peer_timeout());
}

}  // namespace cellrtc::firmware
