#include "core/stun/channel_data.h"

#include <gtest/gtest.h>

#include "core/stun/stun_message.h"

namespace cellrtc::stun {
namespace {

Bytes payload(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(0xa0 + i);
  return b;
}

TEST(ChannelData, EncodesHeaderAndData) {
  Bytes out = encode_channel_data(0x4001, payload(3), false);
  EXPECT_EQ(out, (Bytes{0x40, 0x01, 0x00, 0x03, 0xa0, 0xa1, 0xa2}));
  Bytes padded = encode_channel_data(0x4001, payload(3), true);
  EXPECT_EQ(padded, (Bytes{0x40, 0x01, 0x00, 0x03, 0xa0, 0xa1, 0xa2, 0x00}));
}

TEST(ChannelData, RoundTripsWithAndWithoutPadding) {
  for (size_t n : {0, 1, 2, 3, 4, 5, 1200}) {
    for (bool pad : {false, true}) {
      Bytes out = encode_channel_data(0x4abc, payload(n), pad);
      EXPECT_EQ(out.size(), 4 + (pad ? (n + 3) / 4 * 4 : n));
      auto cd = parse_channel_data(out);
      ASSERT_TRUE(cd) << n << pad;
      EXPECT_EQ(cd->channel, 0x4abc);
      EXPECT_EQ(Bytes(cd->data.begin(), cd->data.end()), payload(n));
    }
  }
}

TEST(ChannelData, ChannelRange) {
  EXPECT_TRUE(parse_channel_data(encode_channel_data(kMinChannel, {}, false)));
  EXPECT_TRUE(parse_channel_data(encode_channel_data(kMaxChannel, {}, false)));
  for (uint16_t ch : {0x0000, 0x0001, 0x3fff, 0x5000, 0x7fff, 0x8000, 0xffff}) {
    auto cd = parse_channel_data(encode_channel_data(ch, payload(4), false));
    ASSERT_FALSE(cd) << ch;
    EXPECT_EQ(cd.error().code, Errc::malformed);
  }
}

TEST(ChannelData, Truncated) {
  const Bytes out = encode_channel_data(0x4000, payload(10), false);
  for (size_t n = 0; n < out.size(); ++n) {
    auto cd = parse_channel_data(ByteView(out).first(n));
    ASSERT_FALSE(cd) << n;
    EXPECT_EQ(cd.error().code, Errc::truncated);
  }
}

TEST(ChannelData, TrailingBytesBeyondPadding) {
  Bytes out = encode_channel_data(0x4000, payload(5), true);  // 4 + 5 + 3
  EXPECT_TRUE(parse_channel_data(out));
  out.push_back(0);
  auto cd = parse_channel_data(out);
  ASSERT_FALSE(cd);
  EXPECT_EQ(cd.error().code, Errc::malformed);
  Bytes aligned = encode_channel_data(0x4000, payload(8), false);
  aligned.push_back(0);
  EXPECT_FALSE(parse_channel_data(aligned));
}

TEST(ChannelData, PaddingContentIgnored) {
  Bytes out = encode_channel_data(0x4000, payload(1), false);
  out.insert(out.end(), {0xff, 0xff, 0xff});
  auto cd = parse_channel_data(out);
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->data.size(), 1u);
}

TEST(ChannelDataStream, NeedsFourBytes) {
  const Bytes cd = encode_channel_data(0x4000, payload(5), true);
  for (size_t n = 0; n < 4; ++n) {
    auto len = stream_frame_length(ByteView(cd).first(n));
    ASSERT_TRUE(len) << n;
    EXPECT_FALSE(*len) << n;
  }
}

TEST(ChannelDataStream, ChannelDataFrameIsPadded) {
  for (size_t n : {0, 1, 4, 5, 7, 8}) {
    const Bytes cd = encode_channel_data(0x4123, payload(n), true);
    auto len = stream_frame_length(cd);
    ASSERT_TRUE(len);
    ASSERT_TRUE(*len);
    EXPECT_EQ(**len, cd.size()) << n;
  }
}

TEST(ChannelDataStream, StunFrame) {
  MessageBuilder b(Method::allocate, Class::request, TransactionId{});
  b.add_requested_transport(17).add_software("x");
  const Bytes msg = std::move(b).finish(true);
  auto len = stream_frame_length(ByteView(msg).first(4));
  ASSERT_TRUE(len);
  ASSERT_TRUE(*len);
  EXPECT_EQ(**len, msg.size());
  // A STUN length that is not a multiple of 4 cannot be framed.
  Bytes bad = msg;
  store_be16(&bad[2], 6);
  EXPECT_FALSE(stream_frame_length(bad));
}

TEST(ChannelDataStream, SplitsConcatenatedFrames) {
  Bytes stream;
  MessageBuilder b(Method::refresh, Class::request, TransactionId{1, 2, 3});
  b.add_lifetime(0);
  const Bytes stun = std::move(b).finish(true);
  const Bytes cd1 = encode_channel_data(0x4000, payload(3), true);
  const Bytes cd2 = encode_channel_data(0x4fff, payload(16), true);
  for (const Bytes* f : {&cd1, &stun, &cd2})
    stream.insert(stream.end(), f->begin(), f->end());
  size_t pos = 0;
  int frames = 0;
  while (pos < stream.size()) {
    auto len = stream_frame_length(ByteView(stream).subspan(pos));
    ASSERT_TRUE(len);
    ASSERT_TRUE(*len);
    ByteView frame = ByteView(stream).subspan(pos, **len);
    if (frames == 1) {
      EXPECT_TRUE(Message::parse(frame));
    } else {
      EXPECT_TRUE(parse_channel_data(frame));
    }
    pos += **len;
    ++frames;
  }
  EXPECT_EQ(frames, 3);
  EXPECT_EQ(pos, stream.size());
}

TEST(ChannelDataStream, RejectsOtherFirstBytes) {
  for (int first : {0x50, 0x7f, 0x80, 0xc0, 0xff}) {
    const Bytes frame = {static_cast<uint8_t>(first), 0, 0, 4, 1, 2, 3, 4};
    auto len = stream_frame_length(frame);
    ASSERT_FALSE(len) << first;
    EXPECT_EQ(len.error().code, Errc::malformed);
    EXPECT_FALSE(stream_frame_length(ByteView(frame).first(1))) << first;
  }
}

}  // namespace
}  // namespace cellrtc::stun
