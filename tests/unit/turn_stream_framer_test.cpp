// StreamFramer: STUN and ChannelData cut out of a TURN byte stream (RFC 8656 section 12.5).
#include "core/turn/stream_framer.h"

#include <gtest/gtest.h>

#include "core/stun/channel_data.h"
#include "core/stun/stun_message.h"

namespace cellrtc::turn {
namespace {

Bytes stun_message(uint8_t tag) {
  stun::TransactionId tid{};
  tid[0] = tag;
  return std::move(stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid)
                       .add_software("framer"))
      .finish(true);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<StreamFrame> drain(StreamFramer& f) {
  std::vector<StreamFrame> out;
  while (auto fr = f.next())
    out.push_back(std::move(*fr));
  return out;
}

TEST(TurnStreamFramer, CutsMergedFramesApart) {
  const Bytes a = stun_message(1);
  const Bytes cd = stun::encode_channel_data(0x4001, Bytes{1, 2, 3, 4, 5}, true);
  const Bytes b = stun_message(2);
  StreamFramer f;
  ASSERT_TRUE(f.push(concat({a, cd, b})).ok());
  auto frames = drain(f);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].kind, FrameKind::stun);
  EXPECT_EQ(frames[0].bytes, a);
  EXPECT_EQ(frames[1].kind, FrameKind::channel_data);
  EXPECT_EQ(frames[1].bytes, cd);
  EXPECT_EQ(frames[1].bytes.size(), 12u);  // 4 + 5 padded to 8
  EXPECT_EQ(frames[2].bytes, b);
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(TurnStreamFramer, ReassemblesFramesSplitAtEveryByte) {
  const Bytes stream = concat({stun_message(3), stun::encode_channel_data(0x4000, Bytes{7}, true),
                               stun::encode_channel_data(0x4fff, Bytes{}, true), stun_message(4)});
  for (size_t chunk = 1; chunk <= 7; ++chunk) {
    StreamFramer f;
    std::vector<StreamFrame> frames;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      ByteView piece = ByteView(stream).subspan(i, std::min(chunk, stream.size() - i));
      ASSERT_TRUE(f.push(piece).ok());
      for (auto& fr : drain(f))
        frames.push_back(std::move(fr));
    }
    ASSERT_EQ(frames.size(), 4u) << chunk;
    EXPECT_EQ(frames[1].bytes.size(), 8u);
    EXPECT_EQ(frames[2].bytes.size(), 4u);  // empty ChannelData is its header alone
    EXPECT_EQ(concat({frames[0].bytes, frames[1].bytes, frames[2].bytes, frames[3].bytes}), stream);
  }
}

TEST(TurnStreamFramer, SkipsOversizeFramesAndStaysInStep) {
  StreamFramer f(StreamFramerConfig{64, 8});
  const Bytes big = stun::encode_channel_data(0x4002, Bytes(100, 0xab), true);
  const Bytes small = stun::encode_channel_data(0x4003, Bytes{1}, true);
  const Bytes stream = concat({big, small});
  // Fed in two pieces that cut the oversize frame in the middle.
  ASSERT_TRUE(f.push(ByteView(stream).first(30)).ok());
  EXPECT_LE(f.buffered(), 64u);
  ASSERT_TRUE(f.push(ByteView(stream).subspan(30)).ok());
  auto frames = drain(f);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].bytes, small);
  EXPECT_EQ(f.stats().oversize_skipped, 1u);
}

TEST(TurnStreamFramer, FailsOnBytesThatStartNoFrame) {
  StreamFramer f;
  ASSERT_TRUE(f.push(stun_message(5)).ok());
  auto s = f.push(Bytes{0x80, 0x00, 0x00, 0x00});  // RTP-like first byte
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::malformed);
  EXPECT_TRUE(f.failed());
  // The frame before the garbage is still delivered; nothing after it is taken.
  EXPECT_EQ(drain(f).size(), 1u);
  EXPECT_FALSE(f.push(stun_message(6)).ok());
  EXPECT_TRUE(drain(f).empty());
}

TEST(TurnStreamFramer, RefusesAStunLengthThatIsNotAMultipleOfFour) {
  StreamFramer f;
  auto s = f.push(Bytes{0x00, 0x01, 0x00, 0x05});
  EXPECT_FALSE(s.ok());
}

TEST(TurnStreamFramer, BoundsTheQueueOfCompleteFrames) {
  StreamFramer f(StreamFramerConfig{8192, 2});
  Bytes stream;
  for (int i = 0; i < 5; ++i)
    stream = concat({stream, stun::encode_channel_data(0x4000, Bytes{1, 2, 3, 4}, true)});
  ASSERT_TRUE(f.push(stream).ok());
  EXPECT_EQ(drain(f).size(), 2u);
  EXPECT_EQ(f.stats().queue_dropped, 3u);
  EXPECT_EQ(f.stats().frames, 5u);
}

}  // namespace
}  // namespace cellrtc::turn
