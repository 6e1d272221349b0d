// The device's StreamingSession in virtual time: a device PeerConnection with the session and a
// model camera, against a PeerConnection that plays the server (ICE-lite, answers the offer,
// sends pings, commands and receiver reports on `control`, receives frames on `video`).
#include "core/media/streaming_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "core/media/control_message.h"
#include "core/media/frame_header.h"
#include "sim/network.h"
#include "support/ice_scenario.h"
#include "support/peer_endpoint.h"

namespace cellrtc {
namespace {

using testing::ip;
using testing::PeerEndpoint;

// A device: the PeerConnection, its StreamingSession and a camera that makes a frame whenever
// the session asks, of a size that follows JPEG quality.
class StreamingDevice : public DatagramEndpoint {
 public:
  StreamingDevice(peer::PeerConfig config, Random& rng, media::StreamingSessionConfig sc)
      : pc(std::move(config), rng), session(pc, sc) {}

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    pc.handle_datagram(now, local, from, data);
    step(now);
  }
  void handle_timeout(Instant now) override {
    pc.handle_timeout(now);
    step(now);
  }
  std::optional<Transmit> poll_transmit() override { return pc.poll_transmit(); }
  std::optional<Instant> next_timeout() const override {
    auto at = earliest(pc.next_timeout(), session.next_timeout());
    if (session.video_open()) at = earliest(at, std::optional<Instant>(next_capture_));
    return at;
  }

  void step(Instant now) {
    drain(now);
    if (session.capture_due(now)) {
      media::CaptureRequest request = session.capture_request();
      requests.push_back(request);
      uint16_t width = request.width ? std::min<uint16_t>(request.width, 640) : 640;
      uint16_t height = request.height ? std::min<uint16_t>(request.height, 480) : 480;
      double scale = static_cast<double>(width) * height / (640.0 * 480.0);
      auto size = static_cast<size_t>(12'000 * scale * std::exp(0.028 * (request.quality - 50)));
      media::EncodedFrame frame;
      frame.message.assign(media::kFrameHeaderSize + size, 0xAB);
      frame.width = width;
      frame.height = height;
      frame.quality = static_cast<uint8_t>(request.quality);
      frame.capture_time = now;
      session.offer_frame(now, std::move(frame));
    }
    session.handle_timeout(now);
    next_capture_ = session.next_capture(now);
    drain(now);
  }

  void drain(Instant now) {
    while (auto e = pc.poll_event()) {
      if (session.handle_event(now, *e)) continue;
      if (auto* s = std::get_if<peer::event::StateChanged>(&*e)) states.push_back(s->state);
    }
  }

  peer::PeerConnection pc;
  media::StreamingSession session;
  std::vector<media::CaptureRequest> requests;
  std::vector<peer::PeerState> states;

 private:
  Instant next_capture_;
};

struct SessionScenario {
  explicit SessionScenario(uint64_t seed, media::StreamingSessionConfig config = {})
      : net(seed), rng_device(seed * 7 + 1), rng_server(seed * 7 + 2) {
    cert_device = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_device, "device").value());
    cert_server = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_server, "server").value());
    sim::LinkConfig up;
    up.rate_bps = 1'000'000;
    up.delay = milliseconds(40);
    up.queue_limit_bytes = 128 * 1024;
    sim::LinkConfig down = up;
    down.rate_bps = 4'000'000;
    device_host = net.add_host("device", ip("10.0.0.2"), net.internet(), {up, down}).value();
    server_host = net.add_host("server", ip("198.51.100.1"), net.internet(),
                               testing::fixed_link(milliseconds(5)))
                      .value();
    peer::PeerConfig dc, sc;
    dc.certificate = cert_device.get();
    sc.certificate = cert_server.get();
    sc.ice.lite = true;
    device = std::make_unique<StreamingDevice>(dc, rng_device, config);
    server = std::make_unique<PeerEndpoint>(sc, rng_server);
    auto device_addr = net.bind(device_host, 5000, *device).value();
    auto server_addr = net.bind(server_host, 3478, *server).value();
    (void)device->pc.add_host_socket(net.now(), device_addr);
    device->pc.end_of_local_sockets(net.now());
    (void)server->pc.add_host_socket(net.now(), server_addr);
    server->pc.end_of_local_sockets(net.now());
  }

  // WHIP in one step: the device's offer with both channels, the server's answer.
  bool connect() {
    Instant now = net.now();
    if (!device->session.open_channels(now).ok()) return false;
    auto offer = device->pc.create_offer(now);
    if (!offer || !server->pc.set_remote_description(now, *offer).ok()) return false;
    auto answer = server->pc.create_answer(now);
    if (!answer || !device->pc.set_remote_description(now, *answer).ok()) return false;
    device->step(now);
    server->drain(now);
    net.wake(*device);
    net.wake(*server);
    return net.run_until(
        [&] {
          return device->session.video_open() && device->session.control_open() &&
                 server->open.size() == 2;
        },
        net.now() + seconds(20));
  }

  uint16_t server_channel(const std::string& label) const {
    for (const auto& [id, l] : server->open)
      if (l == label) return id;
    ADD_FAILURE() << "no channel " << label;
    return 0;
  }

  void server_says(const std::string& text) {
    ASSERT_TRUE(server->pc.send(net.now(), server_channel("control"), as_bytes(text), false).ok());
    server->drain(net.now());
    net.wake(*server);
  }

  // Frames and control messages the server received since `from` (an index into messages).
  std::vector<media::ParsedFrame> frames(size_t from = 0) const {
    std::vector<media::ParsedFrame> out;
    uint16_t video = server_channel("video");
    for (size_t i = from; i < server->messages.size(); ++i) {
      const auto& m = server->messages[i];
      if (m.id != video) continue;
      auto f = media::parse_frame(m.data);
      EXPECT_TRUE(f.ok());
      if (f) out.push_back(*f);
    }
    return out;
  }
  std::vector<media::ControlObject> control(size_t from = 0) const {
    std::vector<media::ControlObject> out;
    uint16_t channel = server_channel("control");
    for (size_t i = from; i < server->messages.size(); ++i) {
      const auto& m = server->messages[i];
      if (m.id != channel) continue;
      EXPECT_FALSE(m.binary);
      auto o = media::parse_control_object(as_chars(m.data));
      EXPECT_TRUE(o.ok());
      if (o) out.push_back(*o);
    }
    return out;
  }
  static std::string type_of(const media::ControlObject& o) {
    const auto* t = o.find("type");
    return t && t->is_string() ? t->text : "";
  }

  sim::Network net;
  SeededRandom rng_device, rng_server;
  std::unique_ptr<dtls::Certificate> cert_device, cert_server;
  sim::NodeId device_host = 0, server_host = 0;
  std::unique_ptr<StreamingDevice> device;
  std::unique_ptr<PeerEndpoint> server;
};

TEST(StreamingSession, OffersBothChannelsAndFramesFlowInSequence) {
  SessionScenario s(1);
  ASSERT_TRUE(s.connect());
  EXPECT_EQ(s.server->open.size(), 2u);
  const auto& channels = s.server->pc.channels();
  const auto* video = channels.find(s.server_channel("video"));
  ASSERT_NE(video, nullptr);
  EXPECT_FALSE(video->params.ordered);
  EXPECT_EQ(video->params.max_retransmits, 0u);
  const auto* control = channels.find(s.server_channel("control"));
  ASSERT_NE(control, nullptr);
  EXPECT_TRUE(control->params.reliable());
  EXPECT_TRUE(control->params.ordered);

  ASSERT_TRUE(s.net.run_for(seconds(10)).ok());
  auto frames = s.frames();
  ASSERT_GT(frames.size(), 40u);  // the default preferred rate is 10 fps
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_GT(frames[i].header.sequence, frames[i - 1].header.sequence);
  EXPECT_EQ(frames.front().header.width, 640);
  EXPECT_GT(frames.back().header.quality, 0);
  // The image arrives intact behind the header.
  EXPECT_TRUE(std::all_of(frames.back().jpeg.begin(), frames.back().jpeg.end(),
                          [](uint8_t b) { return b == 0xAB; }));
  // No retransmission, but this link loses nothing: every frame sent arrived, but for the
  // few still on their way.
  EXPECT_LE(frames.size(), s.device->session.stats().frames_sent);
  EXPECT_GE(frames.size() + 3, s.device->session.stats().frames_sent);
  // Telemetry every 2 s: 4 or 5 in 10 s, and it says what was sent.
  std::vector<media::TelemetryMessage> telemetry;
  for (const auto& o : s.control())
    if (SessionScenario::type_of(o) == "telemetry") telemetry.push_back(*decode_telemetry(o));
  ASSERT_GE(telemetry.size(), 4u);
  ASSERT_LE(telemetry.size(), 6u);
  EXPECT_GT(telemetry.back().fps, 3);
  EXPECT_GT(telemetry.back().kbps, 50);
  EXPECT_TRUE(telemetry.back().rtt_ms.has_value());
  EXPECT_EQ(telemetry.back().width, 640);
  EXPECT_GT(telemetry.back().sent, 30u);
  EXPECT_FALSE(telemetry.back().modem.has_value());
}

TEST(StreamingSession, AnswersPingsAtOnceWithItsClock) {
  SessionScenario s(2);
  ASSERT_TRUE(s.connect());
  size_t mark = s.server->messages.size();
  Instant sent_at = s.net.now();
  s.server_says(R"({"type":"ping","t":987654321})");
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  std::optional<media::ControlObject> pong;
  for (const auto& o : s.control(mark))
    if (SessionScenario::type_of(o) == "pong") pong = o;
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->find("t")->text, "987654321");
  // now_us is the device clock when the ping arrived: after it left, within one RTT.
  double now_us = pong->find("now_us")->number;
  EXPECT_GT(now_us, static_cast<double>(sent_at.us()));
  EXPECT_LT(now_us, static_cast<double>((sent_at + milliseconds(500)).us()));
  EXPECT_EQ(s.device->session.stats().pings_answered, 1u);
}

TEST(StreamingSession, AppliesViewerLimitsAndSnapshots) {
  SessionScenario s(3);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(3)).ok());
  s.server_says(media::encode_set({2, 30, 320, 240}));
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  EXPECT_DOUBLE_EQ(s.device->session.viewer_limits().fps, 2);
  EXPECT_EQ(s.device->session.stats().commands_applied, 1u);
  size_t mark = s.server->messages.size();
  ASSERT_TRUE(s.net.run_for(seconds(10)).ok());
  auto frames = s.frames(mark);
  // 2 fps for 10 s, at most quality 30, 320x240.
  EXPECT_GE(frames.size(), 15u);
  EXPECT_LE(frames.size(), 22u);
  for (const auto& f : frames) {
    EXPECT_LE(f.header.quality, 30);
    EXPECT_EQ(f.header.width, 320);
    EXPECT_EQ(f.header.height, 240);
    EXPECT_EQ(f.header.flags & media::frame_flags::kSnapshot, 0);
  }

  // A snapshot: the next frame at full quality with flag bit 0, at once (not after 500 ms).
  mark = s.server->messages.size();
  s.server_says(media::encode_snapshot());
  ASSERT_TRUE(s.net.run_for(milliseconds(400)).ok());
  frames = s.frames(mark);
  auto snapshot = std::find_if(frames.begin(), frames.end(), [](const media::ParsedFrame& f) {
    return (f.header.flags & media::frame_flags::kSnapshot) != 0;
  });
  ASSERT_NE(snapshot, frames.end());
  EXPECT_EQ(snapshot->header.quality, 92);
  // Only frames sent before the request arrived came ahead of it.
  EXPECT_LE(snapshot - frames.begin(), 1);
  EXPECT_EQ(s.device->session.stats().snapshots_sent, 1u);

  // Limits back to automatic: full size again, and the rate climbs back within seconds (the
  // low frame rate did not drive it to the floor).
  s.server_says(R"({"type":"set"})");
  ASSERT_TRUE(s.net.run_for(seconds(5)).ok());
  mark = s.server->messages.size();
  ASSERT_TRUE(s.net.run_for(seconds(5)).ok());
  frames = s.frames(mark);
  std::printf("[ session ] %zu frames in the 5 s from 5 s after limits were lifted\n",
              frames.size());
  EXPECT_GT(frames.size(), 25u);
  EXPECT_DOUBLE_EQ(s.device->session.target_fps(), s.device->session.rate_target().fps);
  EXPECT_EQ(s.device->session.capture_request().width, 0);
  EXPECT_EQ(frames.back().header.width, 640);
}

TEST(StreamingSession, LateReceiverReportsLowerTheRate) {
  SessionScenario s(4);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(8)).ok());
  uint64_t before = s.device->session.rate_target().bitrate_bps;
  uint32_t decreases = s.device->session.rate_controller().stats().decreases;
  // The server says frames arrive 3 s after capture, five times, a second apart.
  for (int i = 0; i < 5; ++i) {
    s.server_says(media::encode_report({100, 9, 100'000, 1000, 3000, 0}));
    ASSERT_TRUE(s.net.run_for(milliseconds(1000)).ok());
  }
  EXPECT_EQ(s.device->session.stats().reports_received, 5u);
  ASSERT_TRUE(s.device->session.stats().last_report.has_value());
  EXPECT_EQ(s.device->session.stats().last_report->latency_ms, 3000u);
  EXPECT_GT(s.device->session.rate_controller().stats().decreases, decreases + 3);
  EXPECT_LT(s.device->session.rate_target().bitrate_bps, before);

  // Reports of prompt arrival let it climb again.
  uint64_t held = s.device->session.rate_target().bitrate_bps;
  for (int i = 0; i < 3; ++i) {
    s.server_says(media::encode_report({200, 9, 100'000, 1000, 80, 0}));
    ASSERT_TRUE(s.net.run_for(milliseconds(1000)).ok());
  }
  EXPECT_GT(s.device->session.rate_target().bitrate_bps, held);
}

TEST(StreamingSession, CountsBadControlMessagesAndIgnoresUnknownOnes) {
  SessionScenario s(5);
  ASSERT_TRUE(s.connect());
  s.server_says("not json");
  s.server_says(R"({"type":"set","fps":"fast"})");
  s.server_says(R"({"type":"future-command","x":1})");
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  EXPECT_EQ(s.device->session.stats().control_errors, 2u);
  EXPECT_EQ(s.device->session.stats().commands_applied, 0u);
  // Still streaming.
  size_t mark = s.server->messages.size();
  ASSERT_TRUE(s.net.run_for(seconds(2)).ok());
  EXPECT_GT(s.frames(mark).size(), 5u);
}

TEST(StreamingSession, NoCaptureBeforeTheVideoChannelOpens) {
  SessionScenario s(6);
  Instant now = s.net.now();
  ASSERT_TRUE(s.device->session.open_channels(now).ok());
  EXPECT_FALSE(s.device->session.capture_due(now));
  EXPECT_FALSE(s.device->session.open_channels(now).ok());  // once only
}

TEST(StreamingSession, ReportsALostChannel) {
  SessionScenario s(7);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  EXPECT_FALSE(s.device->session.channel_lost());
  ASSERT_TRUE(s.server->pc.close_channel(s.net.now(), s.server_channel("control")).ok());
  s.server->drain(s.net.now());
  s.net.wake(*s.server);
  ASSERT_TRUE(
      s.net.run_until([&] { return s.device->session.channel_lost(); }, s.net.now() + seconds(5)));
}

// The original design's sender, for comparisons: every frame at the fixed rate and quality on a
// reliable ordered channel; with a link that carries them, none is missing.
TEST(StreamingSession, FixedPacingSendsEveryFrameOnAReliableOrderedChannel) {
  media::StreamingSessionConfig config;
  config.pacing = media::Pacing::fixed;
  config.fixed.fps = 10;
  config.fixed.quality = 40;
  SessionScenario s(8, config);
  ASSERT_TRUE(s.connect());
  const auto* video = s.server->pc.channels().find(s.server_channel("video"));
  ASSERT_NE(video, nullptr);
  EXPECT_TRUE(video->params.ordered);
  EXPECT_TRUE(video->params.reliable());

  ASSERT_TRUE(s.net.run_for(seconds(10)).ok());
  auto frames = s.frames();
  // 10 fps for 10 s (about 9 KB each: 0.73 Mbit/s on the 1 Mbit/s link), a few in flight.
  ASSERT_GE(frames.size(), 95u);
  EXPECT_LE(frames.size(), 101u);
  for (size_t i = 1; i < frames.size(); ++i)
    EXPECT_EQ(frames[i].header.sequence, frames[i - 1].header.sequence + 1);
  for (const auto& f : frames) {
    EXPECT_EQ(f.header.quality, 40);
    EXPECT_EQ(f.header.width, 640);
  }
  for (const auto& r : s.device->requests) {
    EXPECT_EQ(r.quality, 40);
    EXPECT_EQ(r.width, 0);
  }
  EXPECT_EQ(s.device->session.stats().frames_replaced, 0u);
  EXPECT_EQ(s.device->session.stats().send_failures, 0u);
}

TEST(FixedPacingSender, TriesAgainAfterTheBackOffAndANewFrameAtOnce) {
  media::FixedPacingSender sender({.fps = 10, .quality = 40, .retry = milliseconds(5)});
  Instant t0 = Instant::from_us(1'000'000);
  EXPECT_EQ(sender.due(t0), nullptr);
  EXPECT_FALSE(sender.next_try().has_value());
  sender.offer(Bytes(10, 1));
  ASSERT_NE(sender.due(t0), nullptr);
  sender.refused(t0);
  EXPECT_EQ(sender.due(t0 + milliseconds(4)), nullptr);
  EXPECT_EQ(sender.next_try(), t0 + milliseconds(5));
  ASSERT_NE(sender.due(t0 + milliseconds(5)), nullptr);
  sender.refused(t0 + milliseconds(5));
  sender.offer(Bytes(20, 2));  // the camera's next frame replaces it and is tried at once
  const Bytes* m = sender.due(t0 + milliseconds(6));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->size(), 20u);
  sender.sent();
  EXPECT_FALSE(sender.pending());
  EXPECT_EQ(sender.stats().offered, 2u);
  EXPECT_EQ(sender.stats().sent, 1u);
  EXPECT_EQ(sender.stats().refused, 2u);
  EXPECT_EQ(sender.stats().replaced, 1u);
  EXPECT_EQ(sender.stats().bytes_sent, 20u);
}

// One camera for several sessions: the frame must do for each, so the larger size (0, the
// source's own, beats any), the higher quality, and a snapshot when one asks.
// Frames the server received that were captured at or after `from`.
size_t frames_captured_since(const std::vector<media::ParsedFrame>& frames, Instant from) {
  return static_cast<size_t>(std::count_if(frames.begin(), frames.end(), [&](const auto& f) {
    return f.header.capture_time_us >= static_cast<uint64_t>(from.us());
  }));
}

TEST(StreamingSession, WithoutDemandItSendsAtFullRate) {
  // A server that predates demand never sends it: the session never idles.
  SessionScenario s(11);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(10)).ok());
  EXPECT_FALSE(s.device->session.viewers().has_value());
  EXPECT_FALSE(s.device->session.idle());
  EXPECT_GT(s.frames().size(), 40u);
}

TEST(StreamingSession, IdlesWithNoViewerAndResumesAtOnce) {
  SessionScenario s(12);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(5)).ok());
  uint64_t bitrate = s.device->session.rate_target().bitrate_bps;
  int quality = s.device->session.target_quality();
  ASSERT_GT(quality, 30);

  s.server_says(media::encode_demand({0}));
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  EXPECT_TRUE(s.device->session.idle());
  // 30 s idle: one frame every 5 s (the default idle_interval), at the idle quality.
  size_t idle_mark = s.server->messages.size();
  Instant idle_from = s.net.now();
  ASSERT_TRUE(s.net.run_for(seconds(30)).ok());
  auto idle_frames = s.frames(idle_mark);
  EXPECT_GE(frames_captured_since(idle_frames, idle_from), 5u);
  EXPECT_LE(frames_captured_since(idle_frames, idle_from), 7u);
  for (const auto& f : idle_frames) {
    if (f.header.capture_time_us >= static_cast<uint64_t>(idle_from.us())) {
      EXPECT_LE(f.header.quality, 30);
    }
  }
  // The controller learned nothing from the idle frames: its estimate is the one it had.
  EXPECT_EQ(s.device->session.rate_target().bitrate_bps, bitrate);
  EXPECT_EQ(s.device->session.stats().idle_periods, 1u);
  EXPECT_GE(s.device->session.stats().frames_sent_idle, 5u);
  // Telemetry and pings go on while idle.
  size_t telemetry = 0;
  for (const auto& o : s.control(idle_mark))
    if (SessionScenario::type_of(o) == "telemetry") ++telemetry;
  EXPECT_GE(telemetry, 14u);

  // A viewer: the next frame is captured as soon as the message arrives (one way, 45 ms), not
  // at the end of the idle interval, and the full rate and quality are back.
  size_t mark = s.server->messages.size();
  Instant asked = s.net.now();
  s.server_says(media::encode_demand({1}));
  ASSERT_TRUE(s.net.run_for(seconds(3)).ok());
  EXPECT_FALSE(s.device->session.idle());
  auto live = s.frames(mark);
  ASSERT_FALSE(live.empty());
  uint64_t first = live.front().header.capture_time_us;
  for (const auto& f : live)
    first = std::min(first, f.header.capture_time_us);
  EXPECT_LT(first, static_cast<uint64_t>((asked + milliseconds(300)).us()));
  // The adaptive rate, not one frame per idle interval: here the controller also steps the
  // picture up to 640x480 (its resolution hold ran out), about 5 fps.
  EXPECT_GT(live.size(), 9u);
  EXPECT_EQ(s.device->session.target_quality(),
            s.device->session.rate_controller().target().quality);
  EXPECT_GE(s.device->session.rate_target().bitrate_bps, bitrate * 85 / 100);
  EXPECT_EQ(s.device->session.stats().demand_received, 2u);
}

TEST(StreamingSession, SnapshotsWorkWhileIdleAndIdleIntervalZeroSendsNothing) {
  media::StreamingSessionConfig config;
  config.idle_interval = Duration(0);
  SessionScenario s(13, config);
  ASSERT_TRUE(s.connect());
  ASSERT_TRUE(s.net.run_for(seconds(2)).ok());
  s.server_says(media::encode_demand({0}));
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  size_t mark = s.server->messages.size();
  Instant from = s.net.now();
  ASSERT_TRUE(s.net.run_for(seconds(20)).ok());
  EXPECT_EQ(frames_captured_since(s.frames(mark), from), 0u);

  s.server_says(media::encode_snapshot());
  ASSERT_TRUE(s.net.run_for(seconds(2)).ok());
  auto frames = s.frames(mark);
  ASSERT_EQ(frames_captured_since(frames, from), 1u);
  EXPECT_NE(frames.back().header.flags & media::frame_flags::kSnapshot, 0);
  EXPECT_EQ(frames.back().header.quality, 92);  // the snapshot quality, not the idle one
  EXPECT_EQ(s.device->session.stats().snapshots_sent, 1u);
  // Still idle after the snapshot.
  ASSERT_TRUE(s.net.run_for(seconds(10)).ok());
  EXPECT_EQ(frames_captured_since(s.frames(mark), from), 1u);

  // More viewers (a second demand above 0) is not a resume twice; 0 again is a second period.
  s.server_says(media::encode_demand({2}));
  ASSERT_TRUE(s.net.run_for(seconds(2)).ok());
  EXPECT_GT(frames_captured_since(s.frames(mark), from), 5u);
  s.server_says(media::encode_demand({0}));
  ASSERT_TRUE(s.net.run_for(seconds(1)).ok());
  EXPECT_EQ(s.device->session.stats().idle_periods, 2u);
}

TEST(StreamingSession, WidestCaptureSatisfiesBothRequests) {
  media::CaptureRequest small{.quality = 30, .width = 320, .height = 240, .snapshot = false};
  media::CaptureRequest large{.quality = 20, .width = 640, .height = 180, .snapshot = true};
  auto w = media::widest_capture(small, large);
  EXPECT_EQ(w.quality, 30);
  EXPECT_EQ(w.width, 640);
  EXPECT_EQ(w.height, 240);
  EXPECT_TRUE(w.snapshot);
  media::CaptureRequest native{.quality = 10, .width = 0, .height = 0, .snapshot = false};
  w = media::widest_capture(small, native);
  EXPECT_EQ(w.width, 0);
  EXPECT_EQ(w.height, 0);
  EXPECT_FALSE(w.snapshot);
}

}  // namespace
}  // namespace cellrtc
