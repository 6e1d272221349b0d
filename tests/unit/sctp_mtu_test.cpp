// Every packet stays within the configured MTU, also when the MTU is not a multiple of 4
// (DTLS leaves 1163 bytes of a 1200-byte datagram) and a chunk's padding would push a
// full-size chunk over it: the layer below refuses such a packet, and a reliable message
// whose chunk can never be sent stalls the association until it aborts.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/sctp_pair.h"

namespace cellrtc {
namespace {

TEST(SctpMtu, NoPacketExceedsAnMtuThatIsNotAMultipleOfFour) {
  sctp::SctpConfig config;
  config.mtu = 1163;
  testing::SctpPair pair(config, config);
  size_t largest = 0;
  pair.drop = [&](bool, const Bytes& p) {
    largest = std::max(largest, p.size());
    return false;
  };
  pair.a.connect(pair.now());
  pair.b.connect(pair.now());
  ASSERT_TRUE(pair.run([&] { return pair.a.state() == sctp::SctpState::established; }, seconds(5)));
  // Whole messages and last fragments of every size around the largest chunk payload.
  size_t sent = 0;
  for (size_t n = 1120; n <= 1140; ++n) {
    for (size_t total : {n, 1132 + n, 2 * 1132 + n}) {
      ASSERT_TRUE(pair.a.send(pair.now(), 1, 53, Bytes(total, 0x42)).ok()) << total;
      ++sent;
    }
  }
  size_t received = 0;
  ASSERT_TRUE(pair.run(
      [&] {
        received = std::count_if(pair.events_b.begin(), pair.events_b.end(), [](const auto& e) {
          return std::holds_alternative<sctp::event::Message>(e);
        });
        return received == sent;
      },
      seconds(30)));
  EXPECT_LE(largest, config.mtu);
}

}  // namespace
}  // namespace cellrtc
