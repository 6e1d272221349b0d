// A device streaming camera frames to the server through the simulator, with either the
// adaptive newest-frame-wins streamer or a sender that behaves like the original design
// (media::FixedPacingSender: a reliable ordered channel, each newest frame sent as soon as the
// stack accepts it, 5 ms back-off after a failed send, fixed JPEG quality). The camera is a model:
// frame sizes follow quality the way JPEG's do, with some noise. Measures what a viewer would see.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/media/fixed_pacing.h"
#include "core/media/frame_header.h"
#include "core/media/frame_sender.h"
#include "core/media/rate_controller.h"
#include "support/peer_scenario.h"

namespace cellrtc::testing {

enum class StreamerKind { adaptive, original };

struct StreamingResult {
  double fps = 0;
  double goodput_bps = 0;
  std::vector<double> latencies_ms;  // capture to arrival, per frame
  uint64_t frames_captured = 0;
  uint64_t frames_received = 0;
  double mean_quality = 0;
  double mean_pixels = 0;  // of the frames encoded
  uint32_t resolution_downs = 0;
  uint32_t resolution_ups = 0;
  double percentile(double p) const {
    if (latencies_ms.empty()) return -1;
    std::vector<double> v = latencies_ms;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1)))];
  }
};

struct CameraModel {
  double fps = 15;
  uint16_t width = 640;
  uint16_t height = 480;
  size_t bytes_at_q50 = 15'000;  // a 640x480 OV2640 frame at quality 50 (10-40 KB range)
  // A JPEG's size follows quality about exponentially and is about proportional to pixels.
  size_t size(int quality, uint16_t w, uint16_t h, Random& rng) const {
    double noise = 0.85 + 0.3 * rng.unit();
    double pixels = static_cast<double>(w) * h / (static_cast<double>(width) * height);
    return static_cast<size_t>(static_cast<double>(bytes_at_q50) * pixels *
                               std::exp(0.028 * (quality - 50)) * noise);
  }
};

// Streams for `length` after the channel opens; `original_quality` is the fixed quality of the
// original-design sender.
inline StreamingResult run_streaming(PeerScenario& s, StreamerKind kind, Duration length,
                                     CameraModel camera = {}, int original_quality = 40) {
  StreamingResult result;
  bool adaptive = kind == StreamerKind::adaptive;
  datachannel::ChannelParameters channel{.label = "video"};
  if (adaptive) {
    channel.ordered = false;
    channel.max_retransmits = 0;
  }
  if (!s.start(milliseconds(200), channel) || !s.run_until_open(seconds(60))) return result;

  SeededRandom camera_rng(7);
  media::RateControllerConfig rate_config;
  rate_config.max_fps = camera.fps;  // the controller knows its camera's frame rate
  media::RateController controller(rate_config);
  media::FrameSender sender;
  Instant start = s.net.now();
  Instant end = start + length;
  uint32_t sequence = 0;
  // The adaptive streamer takes camera frames at its target rate on average: the ideal time of
  // the last one taken, which the camera's own frame times lag by up to one camera interval.
  std::optional<Instant> encode_slot;
  // The original design's sender: every camera frame at the fixed quality.
  media::FixedPacingSender original(
      media::FixedPacingConfig{.fps = camera.fps, .quality = original_quality});
  double quality_sum = 0;
  double pixel_sum = 0;
  uint64_t frames_encoded = 0;

  // The device's loop: every 5 ms (the original design's back-off step) look at the link.
  auto tick = [&](auto&& self, Instant at) -> void {
    s.net.at(at, [&, self, at] {
      Instant now = s.net.now();
      auto& pc = s.device->pc;
      size_t buffered = pc.buffered_amount(s.channel_id);
      // Camera: a frame every 1/fps; the adaptive streamer encodes at the controller's rate.
      Duration frame_interval = Duration(static_cast<int64_t>(1e6 / camera.fps));
      bool capture =
          (now - start).count() % frame_interval.count() < Duration(milliseconds(5)).count();
      if (capture) ++result.frames_captured;
      if (adaptive) {
        auto st = pc.stats().sctp;
        controller.on_link_sample(now, {st.delivery_rate_bps, st.srtt, buffered});
        const auto& target = controller.target();
        Duration encode_interval = Duration(static_cast<int64_t>(1e6 / target.fps));
        if (capture && (!encode_slot || now >= *encode_slot + encode_interval - milliseconds(5))) {
          encode_slot = encode_slot ? *encode_slot + encode_interval : now;
          if (now - *encode_slot > encode_interval) encode_slot = now;
          uint16_t w = target.width ? target.width : camera.width;
          uint16_t h = target.height ? target.height : camera.height;
          size_t n = camera.size(target.quality, w, h, camera_rng);
          controller.on_frame_encoded(target.quality, n, w, h);
          quality_sum += target.quality;
          pixel_sum += static_cast<double>(w) * h;
          ++frames_encoded;
          media::FrameHeader hd{0, sequence++, static_cast<uint64_t>(now.us()),
                                w, h,          static_cast<uint8_t>(target.quality)};
          sender.offer(media::encode_frame(hd, Bytes(n, 0xAB)));
        }
        if (auto m = sender.poll(buffered, target.max_buffered_bytes))
          (void)pc.send(now, s.channel_id, *m, true);
      } else {
        if (capture) {
          size_t n = camera.size(original_quality, camera.width, camera.height, camera_rng);
          quality_sum += original_quality;
          pixel_sum += static_cast<double>(camera.width) * camera.height;
          ++frames_encoded;
          media::FrameHeader h{0,
                               sequence++,
                               static_cast<uint64_t>(now.us()),
                               camera.width,
                               camera.height,
                               static_cast<uint8_t>(original_quality)};
          original.offer(media::encode_frame(h, Bytes(n, 0xAB)));  // the newest frame
        }
        // Send as fast as the stack accepts; a failed send is tried again 5 ms later.
        if (const Bytes* m = original.due(now)) {
          if (pc.send(now, s.channel_id, *m, true).ok())
            original.sent();
          else
            original.refused(now);
        }
      }
      s.device->drain(now);
      s.net.wake(*s.device);
      if (now + milliseconds(5) < end) self(self, now + milliseconds(5));
    });
  };
  tick(tick, start + milliseconds(5));

  (void)s.net.run_until(end);
  uint64_t bytes = 0;
  for (size_t i = 0; i < s.server->messages.size(); ++i) {
    const auto& m = s.server->messages[i];
    auto f = media::parse_frame(m.data);
    if (!f) continue;
    bytes += m.data.size();
    ++result.frames_received;
    Instant arrived = s.server->message_times[i];
    result.latencies_ms.push_back(
        static_cast<double>(arrived.us() - static_cast<int64_t>(f->header.capture_time_us)) /
        1000.0);
  }
  double secs = std::chrono::duration<double>(length).count();
  result.fps = static_cast<double>(result.frames_received) / secs;
  result.goodput_bps = static_cast<double>(bytes) * 8 / secs;
  result.mean_quality = frames_encoded ? quality_sum / static_cast<double>(frames_encoded) : 0;
  result.mean_pixels = frames_encoded ? pixel_sum / static_cast<double>(frames_encoded) : 0;
  result.resolution_downs = controller.stats().resolution_downs;
  result.resolution_ups = controller.stats().resolution_ups;
  return result;
}

}  // namespace cellrtc::testing
