// SCTP associations over the simulated network, packets carried raw over UDP (no DTLS):
// throughput on a lossy long link, partial reliability by lifetime, a stalled receiver.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "support/sctp_endpoint.h"

namespace cellrtc {
namespace {

using sctp::SctpConfig;
using testing::lossy_path;
using testing::SctpTransfer;

struct Goodput {
  double bps = 0;
  sctp::SctpStats sender;
};

std::optional<Goodput> five_megabytes_with_loss(sctp::CongestionControl cc) {
  SctpConfig config;
  config.congestion_control = cc;
  SctpTransfer t(lossy_path(1'000'000, milliseconds(300), 0.02), config, config, 11);
  if (!t.connect()) return std::nullopt;
  const size_t total = 5 * 1000 * 1000;
  auto took = t.transfer(total, 16 * 1024, seconds(600));
  if (!took) return std::nullopt;
  return Goodput{static_cast<double>(total) * 8 / (static_cast<double>(took->count()) / 1e6),
                 t.sender.assoc.stats()};
}

// The link: 1 Mbit/s, 300 ms RTT, 2 % random loss each way (with two bandwidth-delay
// products of drop-tail queue). Virtual time and fixed seeds: the result is the same every run.
TEST(SctpSim, FiveMegabytesOverOneMegabitWithLoss) {
  auto ours = five_megabytes_with_loss(sctp::CongestionControl::delivery_rate);
  ASSERT_TRUE(ours);
  auto rfc = five_megabytes_with_loss(sctp::CongestionControl::rfc9260);
  ASSERT_TRUE(rfc);
  for (const auto& [name, g] : {std::pair{"delivery rate", *ours}, std::pair{"RFC 9260", *rfc}})
    std::printf(
        "[ goodput ] 5 MB, 1 Mbit/s, 300 ms RTT, 2%% loss, %s: %.0f kbit/s (%.0f%% of link), "
        "%llu fast retransmits, %llu timeouts\n",
        name, g.bps / 1000, g.bps / 1e4, static_cast<unsigned long long>(g.sender.fast_retransmits),
        static_cast<unsigned long long>(g.sender.rto_expirations));
  ::testing::Test::RecordProperty("goodput_kbps", std::to_string(ours->bps / 1000));
  // Near the link rate: about 90 % (the rest is SCTP, UDP and IP headers, about 5 %, and
  // startup); halving at every loss (RFC 9260) gets about 30 %.
  EXPECT_GE(ours->bps, 0.85 * 1'000'000);
  EXPECT_EQ(ours->sender.rto_expirations, 0u);
  EXPECT_LT(rfc->bps, 0.5 * 1'000'000);
}

// Tolerating random loss must not mean filling a real bottleneck's queue: over a 1 Mbit/s,
// 200 ms link with a deep drop-tail queue (2 s) and no random loss, the queue our sender keeps
// there after startup stays near half a base RTT (cwnd is 1.5 bandwidth-delay products; about
// 150 ms here, 245 ms at most when ProbeRTT ends), while a loss-based sender (RFC 9260) fills
// it until it overflows, 2 s deep.
struct QueueDelay {
  double goodput_bps = 0;
  double max_delay_s = 0;  // after the first 5 s
};

std::optional<QueueDelay> deep_queue_transfer(sctp::CongestionControl cc) {
  SctpConfig config;
  config.congestion_control = cc;
  const uint64_t rate = 1'000'000;
  sim::Attachment links = lossy_path(rate, milliseconds(200), 0.0);
  links.up.queue_limit_bytes = 250'000;
  SctpTransfer t(links, config, config, 4);
  if (!t.connect()) return std::nullopt;
  QueueDelay q;
  Instant start = t.net.now();
  sim::Link& link = t.net.uplink(t.sender_node);
  const size_t total = 3 * 1000 * 1000;
  auto took = t.transfer(total, 16 * 1024, seconds(120), {}, [&] {
    Instant now = t.net.now();
    if (now - start < seconds(5)) return;
    double delay = static_cast<double>(link.backlog_bytes(now)) * 8 / static_cast<double>(rate);
    q.max_delay_s = std::max(q.max_delay_s, delay);
  });
  if (!took) return std::nullopt;
  q.goodput_bps = static_cast<double>(total) * 8 / (static_cast<double>(took->count()) / 1e6);
  return q;
}

TEST(SctpSim, DeepDropTailQueueStaysShort) {
  auto ours = deep_queue_transfer(sctp::CongestionControl::delivery_rate);
  ASSERT_TRUE(ours);
  auto rfc = deep_queue_transfer(sctp::CongestionControl::rfc9260);
  ASSERT_TRUE(rfc);
  for (const auto& [name, q] : {std::pair{"delivery rate", *ours}, std::pair{"RFC 9260", *rfc}})
    std::printf("[ queue ] 1 Mbit/s, 200 ms, 2 s drop-tail, %s: %.0f kbit/s, queue up to %.0f ms\n",
                name, q.goodput_bps / 1000, q.max_delay_s * 1000);
  EXPECT_GE(ours->goodput_bps, 0.85 * 1'000'000);
  EXPECT_LT(ours->max_delay_s, 0.3);
  EXPECT_GT(rfc->max_delay_s, 1.0);
}

TEST(SctpSim, StaleMessagesAreDroppedAndTheReceiverNeverWaits) {
  // Frames of 2 KB every 100 ms on one ordered stream with a 300 ms lifetime, over a 200
  // kbit/s link with 200 ms RTT and 10 % loss: a frame whose retransmission would come too
  // late is abandoned (FORWARD TSN), and the frames after it keep being delivered.
  SctpConfig config;
  SctpTransfer t(lossy_path(200'000, milliseconds(200), 0.10), config, config, 5);
  t.receiver.keep_messages = true;
  ASSERT_TRUE(t.connect());
  sctp::SendOptions opts;
  opts.max_lifetime = milliseconds(300);
  const int frames = 300;
  int sent = 0;
  for (int frame = 0; frame < frames; ++frame) {
    Bytes f(2000, 0);
    f[0] = static_cast<uint8_t>(frame >> 8);
    f[1] = static_cast<uint8_t>(frame);
    if (t.sender.assoc.send(t.net.now(), 0, 53, f, opts).ok()) ++sent;
    t.net.wake(t.sender);
    ASSERT_TRUE(t.net.run_for(milliseconds(100)).ok());
  }
  ASSERT_TRUE(t.net.run_for(seconds(5)).ok());
  const auto& got = t.receiver.received;
  auto s = t.sender.assoc.stats();
  std::printf("[ lifetime ] %d frames sent, %zu delivered, %llu abandoned\n", sent, got.size(),
              static_cast<unsigned long long>(s.abandoned_messages));
  EXPECT_EQ(sent, frames);
  EXPECT_GT(s.abandoned_messages, 0u);
  // A frame can be abandoned and still arrive (its SACK was lost), never neither.
  EXPECT_GE(got.size() + s.abandoned_messages, static_cast<size_t>(frames));
  EXPECT_GE(got.size(), static_cast<size_t>(frames / 2));
  // In order, and no frame waited for an abandoned one: the last frame arrived.
  int last = -1;
  for (const auto& m : got) {
    int index = (m.data[0] << 8) | m.data[1];
    EXPECT_GT(index, last);
    last = index;
  }
  EXPECT_GE(last, frames - 3);
  EXPECT_EQ(s.buffered_amount, 0u);
}

TEST(SctpSim, StalledReceiverKeepsSenderMemoryBounded) {
  SctpConfig sender;
  sender.send_buffer_limit = 256 * 1024;
  SctpConfig receiver;
  receiver.receive_window = 64 * 1024;
  SctpTransfer t(lossy_path(2'000'000, milliseconds(100), 0.01), sender, receiver, 3);
  ASSERT_TRUE(t.connect());
  t.receiver.reading = false;  // the application stops taking messages
  Bytes frame(20000, 1);
  int refused = 0;
  size_t peak = 0;
  for (int i = 0; i < 600; ++i) {
    auto s = t.sender.assoc.send(t.net.now(), 1, 53, frame);
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, Errc::limit_exceeded);
      ++refused;
    }
    peak = std::max(peak, t.sender.assoc.stats().buffered_amount);
    t.net.wake(t.sender);
    ASSERT_TRUE(t.net.run_for(milliseconds(50)).ok());
  }
  std::printf("[ stalled ] %d sends refused, sender peak buffered %zu B, peer window %zu B\n",
              refused, peak, t.sender.assoc.stats().peer_rwnd);
  EXPECT_GT(refused, 500);
  EXPECT_LE(peak, sender.send_buffer_limit);
  EXPECT_EQ(t.sender.assoc.stats().peer_rwnd, 0u);
  EXPECT_EQ(t.sender.assoc.state(), sctp::SctpState::established);
  // The application reads again: everything accepted arrives.
  t.receiver.reading = true;
  t.receiver.drain();
  t.net.wake(t.receiver);
  ASSERT_TRUE(t.net.run_until([&] { return t.sender.assoc.stats().buffered_amount == 0; },
                              t.net.now() + seconds(60)));
}

}  // namespace
}  // namespace cellrtc
