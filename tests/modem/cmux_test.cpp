#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "modem/cmux_frame.h"
#include "modem/cmux_mux.h"

namespace cellrtc::modem::cmux {
namespace {

Instant at_ms(int64_t ms) {
  return Instant::from_us(ms * 1000);
}

Bytes encoded(const Frame& f) {
  auto r = encode(f);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : Bytes{};
}

// Frames as they appear in traces of TS 27.010 basic mode start-up and close-down; the FCS
// octets follow annex B (CRC-8, x^8 + x^2 + x + 1, reflected, init 0xFF, complemented).
TEST(CmuxFrameTest, ControlFrameVectors) {
  EXPECT_EQ(encoded({0, true, FrameType::sabm, true, {}}),
            (Bytes{0xF9, 0x03, 0x3F, 0x01, 0x1C, 0xF9}));
  EXPECT_EQ(encoded({0, true, FrameType::ua, true, {}}),
            (Bytes{0xF9, 0x03, 0x73, 0x01, 0xD7, 0xF9}));
  EXPECT_EQ(encoded({0, true, FrameType::disc, true, {}}),
            (Bytes{0xF9, 0x03, 0x53, 0x01, 0xFD, 0xF9}));
  EXPECT_EQ(encoded({1, true, FrameType::sabm, true, {}}),
            (Bytes{0xF9, 0x07, 0x3F, 0x01, 0xDE, 0xF9}));
  EXPECT_EQ(encoded({1, true, FrameType::ua, true, {}}),
            (Bytes{0xF9, 0x07, 0x73, 0x01, 0x15, 0xF9}));
  // CLD on DLCI 0 as a UIH frame: type octet 0xC3 (CLD, C/R = 1, EA), length 0.
  EXPECT_EQ(encoded({0, true, FrameType::uih, false, encode_control({msg::kCld, true, {}})}),
            (Bytes{0xF9, 0x03, 0xEF, 0x05, 0xC3, 0x01, 0xF2, 0xF9}));
}

TEST(CmuxFrameTest, ReceiverCheckValueIsCF) {
  // Annex B: the CRC over the covered octets followed by the FCS is 0xCF.
  const Bytes covered = {0x07, 0x3F, 0x01};
  Bytes with_fcs = covered;
  with_fcs.push_back(fcs(covered));
  EXPECT_EQ(crc8(with_fcs), 0xCF);
}

TEST(CmuxFrameTest, UihFcsCoversHeaderOnly) {
  Frame f{2, true, FrameType::uih, false, Bytes{'A', 'T', '\r'}};
  Bytes a = encoded(f);
  f.info = Bytes{'x', 'y', 'z'};
  Bytes b = encoded(f);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a[a.size() - 2], b[b.size() - 2]);  // same header, same FCS
  // A UI frame covers the information field too.
  f.type = FrameType::ui;
  Bytes c = encoded(f);
  f.info = Bytes{'A', 'T', '\r'};
  Bytes d = encoded(f);
  EXPECT_NE(c[c.size() - 2], d[d.size() - 2]);
}

TEST(CmuxFrameTest, TwoOctetLengthAboveOneTwentySeven) {
  Frame f{1, true, FrameType::uih, false, Bytes(300, 0x7E)};
  Bytes out = encoded(f);
  ASSERT_EQ(out.size(), 300u + 7);
  // 300 = 0b1_0010_1100: first octet holds bits 1-7 with EA = 0, second bits 8-15.
  EXPECT_EQ(out[3], static_cast<uint8_t>((300 & 0x7F) << 1));
  EXPECT_EQ(out[4], 300 >> 7);
  Decoder d;
  d.push(out);
  auto got = d.poll();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->info.size(), 300u);
  EXPECT_EQ(got->dlci, 1);
  EXPECT_EQ(d.stats().frames, 1u);
}

TEST(CmuxFrameTest, DecoderRoundTripsEveryTypeByteByByte) {
  std::vector<Frame> frames = {
      {0, true, FrameType::sabm, true, {}},
      {3, false, FrameType::ua, true, {}},
      {5, true, FrameType::dm, false, {}},
      {7, true, FrameType::disc, true, {}},
      {1, true, FrameType::uih, false, Bytes{0xF9, 0x00, 0xF9}},
      {2, false, FrameType::ui, false, Bytes{1, 2, 3, 4}},
      {63, true, FrameType::uih, false, Bytes(128, 0x55)},
  };
  Bytes stream = {0x00, 0x41, 0xF9};  // noise and an extra flag first
  for (const auto& f : frames) {
    Bytes e = encoded(f);
    stream.insert(stream.end(), e.begin(), e.end());
  }
  Decoder d;
  for (uint8_t b : stream)
    d.push(ByteView(&b, 1));
  for (const auto& f : frames) {
    auto got = d.poll();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->dlci, f.dlci);
    EXPECT_EQ(got->cr, f.cr);
    EXPECT_EQ(got->type, f.type);
    EXPECT_EQ(got->pf, f.pf);
    EXPECT_EQ(got->info, f.info);
  }
  EXPECT_FALSE(d.poll());
}

TEST(CmuxFrameTest, SharedFlagBetweenFrames) {
  Bytes a = encoded({1, true, FrameType::uih, false, Bytes{'a'}});
  Bytes b = encoded({2, true, FrameType::uih, false, Bytes{'b'}});
  a.insert(a.end(), b.begin() + 1, b.end());  // one flag closes a and opens b
  Decoder d;
  d.push(a);
  EXPECT_TRUE(d.poll());
  EXPECT_TRUE(d.poll());
}

TEST(CmuxFrameTest, BadFcsMissingFlagAndOversizeAreDropped) {
  Bytes good = encoded({1, true, FrameType::uih, false, Bytes{'o', 'k'}});
  Bytes bad_fcs = good;
  bad_fcs[bad_fcs.size() - 2] ^= 0x01;
  Bytes no_flag = good;
  no_flag.back() = 0x00;
  Bytes big = encoded({1, true, FrameType::uih, false, Bytes(200, 1)});
  Decoder d(100);
  d.push(bad_fcs);
  d.push(no_flag);
  d.push(big);
  d.push(good);
  auto f = d.poll();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->info, (Bytes{'o', 'k'}));
  EXPECT_FALSE(d.poll());
  EXPECT_EQ(d.stats().bad_fcs, 1u);
  EXPECT_EQ(d.stats().missing_flag, 1u);
  EXPECT_EQ(d.stats().oversize, 1u);
}

TEST(CmuxFrameTest, ControlMessagesRoundTrip) {
  Bytes info = encode_control({msg::kMsc, true, Bytes{0x07, 0x8D}});
  EXPECT_EQ(info, (Bytes{0xE3, 0x05, 0x07, 0x8D}));
  Bytes cld = encode_control({msg::kCld, false, {}});
  info.insert(info.end(), cld.begin(), cld.end());
  auto msgs = decode_control(info);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ((*msgs)[0].type, msg::kMsc);
  EXPECT_TRUE((*msgs)[0].command);
  EXPECT_EQ((*msgs)[0].value, (Bytes{0x07, 0x8D}));
  EXPECT_EQ((*msgs)[1].type, msg::kCld);
  EXPECT_FALSE((*msgs)[1].command);
  EXPECT_FALSE(decode_control(Bytes{0xE3, 0x09, 0x07}).ok());  // value runs past the end
}

// A scripted modem side for the multiplexer.
class MuxTest : public ::testing::Test {
 protected:
  std::vector<Frame> sent() {
    Decoder d;
    while (auto b = mux.poll_transmit())
      d.push(*b);
    std::vector<Frame> out;
    while (auto f = d.poll())
      out.push_back(std::move(*f));
    return out;
  }
  void reply(Frame f, int64_t ms) {
    f.cr = true;  // responses from the responder carry C/R = 1 (table 1)
    mux.handle_bytes(at_ms(ms), encoded(f));
  }
  std::vector<MuxEvent> events() {
    std::vector<MuxEvent> out;
    while (auto e = mux.poll_event())
      out.push_back(std::move(*e));
    return out;
  }
  void open_all() {
    mux.open(at_ms(0));
    (void)sent();
    reply({0, true, FrameType::ua, true, {}}, 10);
    (void)sent();
    reply({1, true, FrameType::ua, true, {}}, 20);
    (void)sent();
    reply({2, true, FrameType::ua, true, {}}, 30);
    (void)sent();
    auto e = events();
    ASSERT_EQ(e.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<mux_event::Opened>(e[0]));
  }

  Mux mux;
};

TEST_F(MuxTest, OpensDlc0ThenEachChannelAndSendsMsc) {
  mux.open(at_ms(0));
  auto s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].type, FrameType::sabm);
  EXPECT_EQ(s[0].dlci, 0);
  reply({0, true, FrameType::ua, true, {}}, 10);
  s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].dlci, 1);
  reply({1, true, FrameType::ua, true, {}}, 20);
  s = sent();
  ASSERT_EQ(s.size(), 2u);  // MSC for DLCI 1, SABM for DLCI 2
  EXPECT_EQ(s[0].dlci, 0);
  EXPECT_EQ(s[0].info, (Bytes{0xE3, 0x05, 0x07, 0x8D}));
  EXPECT_EQ(s[1].type, FrameType::sabm);
  EXPECT_EQ(s[1].dlci, 2);
  reply({2, true, FrameType::ua, true, {}}, 30);
  EXPECT_EQ(mux.state(), MuxState::open);
  EXPECT_TRUE(mux.channel_open(1));
  EXPECT_TRUE(mux.channel_open(2));
}

TEST_F(MuxTest, RetriesSabmThenFails) {
  mux.open(at_ms(0));
  (void)sent();
  for (int i = 1; i <= 3; ++i) {
    mux.handle_timeout(at_ms(1000 * i));
    auto s = sent();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].type, FrameType::sabm);
  }
  mux.handle_timeout(at_ms(4000));
  EXPECT_EQ(mux.state(), MuxState::closed);
  auto e = events();
  ASSERT_EQ(e.size(), 1u);
  auto* closed = std::get_if<mux_event::Closed>(&e[0]);
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->clean);
  EXPECT_EQ(mux.stats().retransmissions, 3u);
}

TEST_F(MuxTest, DmRefusesAChannel) {
  mux.open(at_ms(0));
  reply({0, true, FrameType::ua, true, {}}, 10);
  reply({1, true, FrameType::dm, true, {}}, 20);
  EXPECT_EQ(mux.state(), MuxState::closed);
}

TEST_F(MuxTest, DataPerChannelAndSplitAtN1) {
  open_all();
  mux.handle_bytes(at_ms(40), encoded({2, true, FrameType::uih, false, Bytes{'O', 'K'}}));
  mux.handle_bytes(at_ms(40), encoded({1, true, FrameType::uih, false, Bytes{0x7E}}));
  auto e = events();
  ASSERT_EQ(e.size(), 2u);
  auto* d0 = std::get_if<mux_event::ChannelData>(&e[0]);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->dlci, 2);
  EXPECT_TRUE(mux.send(at_ms(50), 1, Bytes(300, 0x11)).ok());
  auto s = sent();
  ASSERT_EQ(s.size(), 3u);  // 127 + 127 + 46
  EXPECT_EQ(s[0].info.size(), 127u);
  EXPECT_EQ(s[2].info.size(), 46u);
  EXPECT_FALSE(mux.send(at_ms(50), 9, Bytes{1}).ok());
}

TEST_F(MuxTest, AnswersModemMscAndUnknownCommands) {
  open_all();
  mux.handle_bytes(at_ms(40), encoded({0, true, FrameType::uih, false,
                                       encode_control({msg::kMsc, true, Bytes{0x07, 0x8D}})}));
  auto s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].info, (Bytes{0xE1, 0x05, 0x07, 0x8D}));
  mux.handle_bytes(at_ms(40), encoded({0, true, FrameType::uih, false,
                                       encode_control({msg::kSnc, true, Bytes{1}})}));
  s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].info, (Bytes{0x11, 0x03, 0xD3}));
}

TEST_F(MuxTest, CloseWithCld) {
  open_all();
  mux.close(at_ms(100));
  auto s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].info, (Bytes{0xC3, 0x01}));
  mux.handle_bytes(at_ms(150), encoded({0, true, FrameType::uih, false,
                                        encode_control({msg::kCld, false, {}})}));
  EXPECT_EQ(mux.state(), MuxState::closed);
  bool clean = false;
  for (auto& e : events())
    if (auto* c = std::get_if<mux_event::Closed>(&e)) clean = c->clean;
  EXPECT_TRUE(clean);
}

TEST_F(MuxTest, ModemThatIgnoresCloseGetsDiscThenGivenUp) {
  open_all();
  mux.close(at_ms(0));
  (void)sent();
  for (int i = 1; i <= 3; ++i)
    mux.handle_timeout(at_ms(1000 * i));  // CLD retries
  mux.handle_timeout(at_ms(4000));
  auto s = sent();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back().type, FrameType::disc);
  for (int i = 5; i <= 8; ++i)
    mux.handle_timeout(at_ms(1000 * i));
  mux.handle_timeout(at_ms(9000));
  EXPECT_EQ(mux.state(), MuxState::closed);
  bool saw_unclean = false;
  for (auto& e : events())
    if (auto* c = std::get_if<mux_event::Closed>(&e)) saw_unclean = !c->clean;
  EXPECT_TRUE(saw_unclean);
  EXPECT_EQ(mux.next_timeout(), std::nullopt);
}

TEST_F(MuxTest, ModemDisconnectsAChannel) {
  open_all();
  mux.handle_bytes(at_ms(40), encoded({1, true, FrameType::disc, true, {}}));
  auto s = sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].type, FrameType::ua);
  EXPECT_FALSE(mux.channel_open(1));
  EXPECT_TRUE(mux.channel_open(2));
}

TEST(CmuxCloseSequence, IsCldThenDisc) {
  Decoder d;
  d.push(Mux::close_sequence());
  auto a = d.poll();
  auto b = d.poll();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->info, (Bytes{0xC3, 0x01}));
  EXPECT_EQ(b->type, FrameType::disc);
}

}  // namespace
}  // namespace cellrtc::modem::cmux
