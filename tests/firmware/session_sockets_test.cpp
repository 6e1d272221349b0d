// The publisher's UDP sockets behind a fake: one bound per interface address as the session's
// host candidates, released with the session, reads bounded per socket and by the buffer.
#include "firmware/app/session_sockets.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "core/common/random.h"
#include "core/dtls/certificate.h"

namespace cellrtc::firmware {
namespace {

class FakeSockets final : public DatagramSockets {
 public:
  Result<Bound> open(const SocketAddress& local) override {
    if (refuse) return Error{Errc::invalid_state, "address not available"};
    Bound b{next_handle++, SocketAddress(local.ip(), static_cast<uint16_t>(40000 + next_handle))};
    inbox[b.handle];
    return b;
  }
  Status send(int handle, const SocketAddress& to, ByteView data) override {
    sent.push_back({handle, to, Bytes(data.begin(), data.end())});
    return {};
  }
  std::optional<Received> receive(int handle, std::span<uint8_t> buffer) override {
    auto& q = inbox.at(handle);
    if (q.empty()) return std::nullopt;
    Bytes d = std::move(q.front());
    q.pop_front();
    std::copy_n(d.begin(), std::min(d.size(), buffer.size()), buffer.begin());
    return Received{d.size(), SocketAddress::parse("203.0.113.10:3478").value()};
  }
  void close(int handle) override { inbox.erase(handle); }

  struct Sent {
    int handle;
    SocketAddress to;
    Bytes data;
  };
  bool refuse = false;
  int next_handle = 3;
  std::map<int, std::deque<Bytes>> inbox;  // the open sockets
  std::vector<Sent> sent;
};

struct Rig {
  Rig() : certificate(dtls::Certificate::generate(rng, "cellrtc-device").value()) {
    config.endpoint = "https://relay.example.net/whip";
    config.token = "t";
  }
  SeededRandom rng{11};
  dtls::Certificate certificate;
  streamer::PublisherConfig config;
  FakeSockets fake;
  SessionSockets sockets{fake};
};

TEST(SessionSocketsTest, OneSocketPerAddressBecomesAHostCandidateAndGoesWithTheSession) {
  Rig rig;
  rig.sockets.set_local_addresses({IpAddress::v4(100, 64, 0, 2), IpAddress::v4(192, 168, 4, 2)});
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.sockets);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  auto post = pub.poll_request();
  ASSERT_TRUE(post);
  EXPECT_EQ(rig.fake.inbox.size(), 2u);
  EXPECT_EQ(rig.sockets.handles().size(), 2u);
  // RFC 8839 section 5.1: a host candidate per bound socket in the offer.
  EXPECT_NE(post->request.body.find(" 100.64.0.2 "), std::string::npos) << post->request.body;
  EXPECT_NE(post->request.body.find(" 192.168.4.2 "), std::string::npos);

  pub.stop(now, streamer::Publisher::StopMode::drop);
  EXPECT_TRUE(rig.fake.inbox.empty());
  EXPECT_TRUE(rig.sockets.handles().empty());
}

TEST(SessionSocketsTest, NoAddressOrNoSocketMeansBackoffWithTheReason) {
  Rig rig;
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.sockets);
  pub.start(Instant{} + seconds(1));
  EXPECT_EQ(pub.state(), streamer::PublisherState::backoff);
  EXPECT_NE(pub.last_error().find("no local address"), std::string::npos) << pub.last_error();

  Rig refused;
  refused.fake.refuse = true;
  refused.sockets.set_local_addresses({IpAddress::v4(100, 64, 0, 2)});
  streamer::Publisher pub2(refused.config, refused.rng, refused.certificate, refused.sockets);
  pub2.start(Instant{} + seconds(1));
  EXPECT_EQ(pub2.state(), streamer::PublisherState::backoff);
  EXPECT_NE(pub2.last_error().find("address not available"), std::string::npos)
      << pub2.last_error();
}

TEST(SessionSocketsTest, ReadsAreBoundedPerCallAndOversizedDatagramsDropped) {
  Rig rig;
  rig.sockets.set_local_addresses({IpAddress::v4(100, 64, 0, 2)});
  streamer::Publisher pub(rig.config, rig.rng, rig.certificate, rig.sockets);
  Instant now = Instant{} + seconds(1);
  pub.start(now);
  ASSERT_EQ(rig.fake.inbox.size(), 1u);
  auto& q = rig.fake.inbox.begin()->second;
  q.push_back(Bytes(SessionSockets::kReceiveBuffer + 1, 0x17));  // cut by the buffer: dropped
  for (size_t i = 0; i < SessionSockets::kReadBudget + 3; ++i)
    q.push_back(Bytes(20, 0x00));  // not STUN, DTLS or SCTP: the connection ignores them
  EXPECT_EQ(rig.sockets.read(now, pub), SessionSockets::kReadBudget - 1);
  EXPECT_EQ(rig.sockets.stats().oversized_dropped, 1u);
  EXPECT_EQ(rig.sockets.read(now, pub), 4u);
  EXPECT_EQ(rig.sockets.read(now, pub), 0u);
  EXPECT_EQ(rig.sockets.stats().datagrams_in, SessionSockets::kReadBudget + 3);
}

}  // namespace
}  // namespace cellrtc::firmware
