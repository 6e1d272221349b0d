#include <gtest/gtest.h>

#include <cmath>

#include "core/media/frame_header.h"
#include "core/media/frame_sender.h"
#include "core/media/jpeg_info.h"
#include "core/media/rate_controller.h"

namespace cellrtc::media {
namespace {

// A minimal baseline JPEG's markers: SOI, APP0, DQT, SOF0 (640x480, 3 components), DHT, SOS,
// two bytes of entropy-coded data with a stuffed 0xFF00, EOI.
Bytes tiny_jpeg() {
  Bytes j = {0xFF, 0xD8,                                                  // SOI
             0xFF, 0xE0, 0x00, 0x06, 'J',  'F',  'I',  'F',               // APP0
             0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01,                          // DQT (short)
             0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03,  // SOF0
             0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,        //  components
             0xFF, 0xC4, 0x00, 0x03, 0x00,                                // DHT (short)
             0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00,  // SOS
             0x12, 0xFF, 0x00, 0x34,                                      // scan data
             0xFF, 0xD9};                                                 // EOI
  return j;
}

TEST(FrameHeader, RoundTripsAndSkipsLongerHeaders) {
  FrameHeader h{frame_flags::kSnapshot, 123456, 0x0102030405060708ull, 640, 480, 77};
  Bytes jpeg = tiny_jpeg();
  Bytes m = encode_frame(h, jpeg);
  ASSERT_EQ(m.size(), kFrameHeaderSize + jpeg.size());
  EXPECT_EQ(m[0], 1);
  EXPECT_EQ(m[3], 24);
  auto f = parse_frame(m);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->header, h);
  EXPECT_EQ(Bytes(f->jpeg.begin(), f->jpeg.end()), jpeg);
  // A later version's longer header: the image starts where the length says.
  Bytes longer = m;
  longer[3] = 28;
  longer.insert(longer.begin() + 24, {9, 9, 9, 9});
  auto g = parse_frame(longer);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Bytes(g->jpeg.begin(), g->jpeg.end()), jpeg);
}

TEST(FrameHeader, RejectsBadFrames) {
  Bytes m = encode_frame({}, tiny_jpeg());
  EXPECT_EQ(parse_frame(ByteView(m).first(23)).error().code, Errc::truncated);
  Bytes v2 = m;
  v2[0] = 2;
  EXPECT_EQ(parse_frame(v2).error().code, Errc::unsupported);
  Bytes short_len = m;
  short_len[3] = 20;
  EXPECT_EQ(parse_frame(short_len).error().code, Errc::malformed);
  EXPECT_FALSE(parse_frame(encode_frame({}, {})).ok());  // no image
}

TEST(JpegInfo, ReadsSizeFromMarkers) {
  auto info = inspect_jpeg(tiny_jpeg());
  ASSERT_TRUE(info.ok()) << info.error().reason;
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->height, 480);
  EXPECT_EQ(info->components, 3);
  EXPECT_FALSE(info->progressive);
  EXPECT_EQ(info->size, tiny_jpeg().size());
}

TEST(JpegInfo, RejectsBrokenImages) {
  Bytes j = tiny_jpeg();
  EXPECT_FALSE(inspect_jpeg(ByteView(j).subspan(2)).ok());           // no SOI
  EXPECT_FALSE(inspect_jpeg(ByteView(j).first(j.size() - 2)).ok());  // no EOI
  EXPECT_FALSE(inspect_jpeg(ByteView(j).first(20)).ok());            // cut inside SOF
  Bytes zero = j;
  zero[21] = zero[22] = 0;  // height 0
  EXPECT_FALSE(inspect_jpeg(zero).ok());
  Bytes long_segment = j;
  long_segment[5] = 0xF0;  // APP0 length past the end
  EXPECT_EQ(inspect_jpeg(long_segment).error().code, Errc::truncated);
}

TEST(JpegInfo, SplitsAnMjpegStream) {
  Bytes a = tiny_jpeg();
  Bytes stream = a;
  stream.insert(stream.end(), a.begin(), a.end());
  auto n = next_jpeg_length(stream);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ(**n, a.size());
  auto partial = next_jpeg_length(ByteView(a).first(a.size() - 1));
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());  // more bytes needed
  Bytes garbage = {0x00, 0x01, 0x02};
  EXPECT_FALSE(next_jpeg_length(garbage).ok());
}

TEST(FrameSender, NewestFrameWins) {
  FrameSender s;
  s.offer(Bytes{1});
  s.offer(Bytes{2});  // replaces 1
  EXPECT_EQ(s.stats().replaced, 1u);
  EXPECT_FALSE(s.poll(5000, 1000));  // the transport holds too much: wait
  s.offer(Bytes{3});
  auto m = s.poll(0, 1000);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, Bytes{3});
  EXPECT_FALSE(s.poll(0, 1000));
  EXPECT_EQ(s.stats().sent, 1u);
  EXPECT_EQ(s.stats().replaced, 2u);
}

TEST(RateController, BacksOffOnQueueAndRecovers) {
  RateController c;
  Instant t;
  // A clean 1 Mbit/s path with 100 ms RTT: the bitrate climbs.
  for (int i = 0; i < 200; ++i) {
    t += milliseconds(50);
    c.on_link_sample(t, {1'000'000, milliseconds(100), 1000});
  }
  uint64_t high = c.target().bitrate_bps;
  EXPECT_GT(high, 600'000u);
  EXPECT_LE(high, 1'500'000u);
  // The RTT triples (a queue builds): decreases, at most one per RTT.
  for (int i = 0; i < 20; ++i) {
    t += milliseconds(50);
    c.on_link_sample(t, {400'000, milliseconds(300), 60'000});
  }
  EXPECT_LT(c.target().bitrate_bps, high / 2);
  EXPECT_LE(c.stats().decreases, 5u);
}

TEST(RateController, SpendsBitsOnFrameRateThenQualityAndNeverGoesBelowMinQuality) {
  RateControllerConfig cfg;
  cfg.initial_bitrate_bps = 30'000;
  RateController low(cfg);
  low.on_frame_encoded(50, 15'000);
  EXPECT_EQ(low.target().quality, cfg.min_quality);
  EXPECT_LT(low.target().fps, cfg.preferred_fps);
  EXPECT_GE(low.target().fps, cfg.min_fps);

  cfg.initial_bitrate_bps = 3'000'000;
  RateController high(cfg);
  high.on_frame_encoded(50, 15'000);
  EXPECT_GT(high.target().quality, 60);
  EXPECT_GE(high.target().fps, cfg.preferred_fps);
  // Every target leaves room for at least one frame in the transport.
  EXPECT_GT(high.target().max_buffered_bytes, 15'000u);
}

TEST(RateController, RaisesFrameRateAndQualityTogetherUpToTheCameraRate) {
  RateControllerConfig cfg;
  cfg.max_fps = 15;
  double last_fps = 0;
  int last_quality = 0;
  for (uint64_t bps : {60'000, 300'000, 800'000, 1'300'000, 2'000'000}) {
    cfg.initial_bitrate_bps = bps;
    RateController c(cfg);
    c.on_frame_encoded(50, 15'000, 640, 480);
    EXPECT_GE(c.target().fps, last_fps) << bps;
    EXPECT_GE(c.target().quality, last_quality) << bps;
    EXPECT_LE(c.target().fps, cfg.max_fps);
    // What it plans fits the bitrate.
    double frame_bits = 15'000 * 8 * std::exp(0.028 * (c.target().quality - 50));
    EXPECT_LE(c.target().fps * frame_bits, static_cast<double>(bps) * 1.01) << bps;
    last_fps = c.target().fps;
    last_quality = c.target().quality;
  }
  // 1.3 Mbit/s: near the camera's rate at a quality near good_quality.
  cfg.initial_bitrate_bps = 1'300'000;
  RateController c(cfg);
  c.on_frame_encoded(50, 15'000, 640, 480);
  EXPECT_GE(c.target().fps, 13);
  EXPECT_GE(c.target().quality, 35);
}

TEST(RateController, AFrameJustHandedOverIsNotAQueue) {
  RateControllerConfig cfg;
  cfg.initial_bitrate_bps = 300'000;
  RateController c(cfg);
  c.on_frame_encoded(25, 7'400, 640, 480);
  Instant t;
  // 384 kbit/s, 200 ms RTT: every 200 ms a 7.4 KB frame is handed over and drains within
  // about 350 ms (serialization plus the round trip to its acknowledgement).
  for (int i = 0; i < 400; ++i) {
    t += milliseconds(20);
    int in_frame = i % 10;
    size_t buffered = in_frame < 8 ? 7'400 - static_cast<size_t>(in_frame) * 900 : 0;
    c.on_link_sample(t, {300'000, milliseconds(220), buffered});
  }
  EXPECT_EQ(c.stats().decreases_buffered, 0u);
  EXPECT_GE(c.target().bitrate_bps, 300'000u);
  // A transport that never drains is a queue.
  for (int i = 0; i < 100; ++i) {
    t += milliseconds(20);
    c.on_link_sample(t, {300'000, milliseconds(220), 40'000});
  }
  EXPECT_GT(c.stats().decreases_buffered, 0u);
}

TEST(RateController, StepsResolutionDownWhenEvenMinQualityIsTooSlowAndBackUp) {
  RateControllerConfig cfg;
  cfg.initial_bitrate_bps = 20'000;
  cfg.min_bitrate_bps = 8'000;
  cfg.max_bitrate_bps = 20'000;
  RateController c(cfg);
  Instant t;
  // A quality-25 640x480 frame is about 7.4 KB: 20 kbit/s carries one every 3 s.
  c.on_frame_encoded(50, 15'000, 640, 480);
  EXPECT_EQ(c.target().width, 0);
  for (int i = 0; i < 200; ++i) {  // 4 s
    t += milliseconds(20);
    c.on_link_sample(t, {20'000, milliseconds(1000), 0});
  }
  EXPECT_EQ(c.target().width, 320);
  EXPECT_EQ(c.target().height, 240);
  EXPECT_EQ(c.stats().resolution_downs, 1u);
  // Frames of the new size teach the same bytes per pixel: 320x240 carries about 1.4 fps,
  // enough: no further step, however long.
  c.on_frame_encoded(25, 1'850, 320, 240);
  for (int i = 0; i < 1000; ++i) {  // 20 s
    t += milliseconds(20);
    c.on_link_sample(t, {20'000, milliseconds(1000), 0});
  }
  EXPECT_EQ(c.target().width, 320);
  EXPECT_EQ(c.stats().resolution_downs, 1u);
  EXPECT_EQ(c.stats().resolution_ups, 0u);
  EXPECT_GE(c.target().fps, 1.0);

  // More room: back to the source's size once 640x480 would reach resolution_up_fps.
  cfg.initial_bitrate_bps = 20'000;
  cfg.max_bitrate_bps = 400'000;
  RateController up(cfg);
  up.on_frame_encoded(50, 15'000, 640, 480);
  for (int i = 0; i < 200; ++i) {
    t += milliseconds(20);
    up.on_link_sample(t, {20'000, milliseconds(1000), 0});
  }
  ASSERT_EQ(up.target().width, 320);
  for (int i = 0; i < 3000 && up.target().width != 0; ++i) {  // at most 60 s
    t += milliseconds(20);
    up.on_link_sample(t, {400'000, milliseconds(200), 0});
  }
  EXPECT_EQ(up.target().width, 0);
  EXPECT_EQ(up.stats().resolution_ups, 1u);
  EXPECT_GE(static_cast<double>(up.target().bitrate_bps) / (7'400 * 8), cfg.resolution_up_fps);
}

}  // namespace
}  // namespace cellrtc::media
