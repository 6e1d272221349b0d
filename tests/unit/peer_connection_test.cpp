#include "core/peer/peer_connection.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/peer_endpoint.h"
#include "support/wire.h"

namespace cellrtc {
namespace {

using peer::PeerConfig;
using peer::PeerState;
using testing::PeerEndpoint;
using testing::Wire;

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

// Two peers on the in-memory wire (10 ms one way), signaling exchanged by the test.
struct Call {
  explicit Call(bool b_lite = false, uint64_t seed = 1) : rng_a(seed), rng_b(seed + 1) {
    cert_a = std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng_a, "a").value());
    cert_b = std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng_b, "b").value());
    PeerConfig ca, cb;
    ca.certificate = cert_a.get();
    cb.certificate = cert_b.get();
    cb.ice.lite = b_lite;
    a = std::make_unique<PeerEndpoint>(ca, rng_a);
    b = std::make_unique<PeerEndpoint>(cb, rng_b);
    wire.bind(a_addr, *a);
    wire.bind(b_addr, *b);
    EXPECT_TRUE(a->pc.add_host_socket(wire.now(), a_addr).ok());
    EXPECT_TRUE(b->pc.add_host_socket(wire.now(), b_addr).ok());
    a->pc.end_of_local_sockets(wire.now());
    b->pc.end_of_local_sockets(wire.now());
  }
  // a offers, b answers.
  void negotiate() {
    auto offer = a->pc.create_offer(wire.now());
    ASSERT_TRUE(offer.ok()) << offer.error().reason;
    Status s = b->pc.set_remote_description(wire.now(), *offer);
    ASSERT_TRUE(s.ok()) << s.error().reason;
    auto answer = b->pc.create_answer(wire.now());
    ASSERT_TRUE(answer.ok()) << answer.error().reason;
    s = a->pc.set_remote_description(wire.now(), *answer);
    ASSERT_TRUE(s.ok()) << s.error().reason;
    a->drain(wire.now());
    b->drain(wire.now());
  }
  bool run_until(const std::function<bool()>& done, Duration limit = seconds(10)) {
    return wire.run(done, limit);
  }
  SeededRandom rng_a, rng_b;
  std::unique_ptr<dtls::Certificate> cert_a, cert_b;
  Wire wire;
  SocketAddress a_addr = addr("192.0.2.1:5000"), b_addr = addr("198.51.100.1:6000");
  std::unique_ptr<PeerEndpoint> a, b;
};

TEST(PeerConnection, OfferAnswerOpensAChannelBothWays) {
  Call call;
  auto id = call.a->pc.create_data_channel(call.wire.now(), {.label = "video"});
  ASSERT_TRUE(id.ok());
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return !call.b->open.empty() && call.a->open.count(*id); }))
      << (call.a->failure ? *call.a->failure : "") << (call.b->failure ? *call.b->failure : "");
  EXPECT_EQ(call.b->open.begin()->second, "video");
  EXPECT_EQ(call.a->pc.state(), PeerState::connected);
  EXPECT_EQ(call.b->pc.state(), PeerState::connected);
  // b answered actpass with active: b is the DTLS client (cellrtc's choice toward browsers),
  // so a, the server, opens on odd ids.
  EXPECT_EQ(call.b->pc.dtls_role(), dtls::DtlsRole::client);
  EXPECT_EQ(*call.a->pc.channels().find(*id)->stream % 2, 1);
  auto t = call.a->pc.stats().timeline;
  ASSERT_TRUE(t.ice_connected && t.dtls_connected && t.sctp_connected && t.first_channel_open);
  double rtt = 20e3;
  std::printf("[ setup ] round trips from answer: ICE %.1f, DTLS %.1f, SCTP %.1f, channel %.1f\n",
              (*t.ice_connected - *t.remote_description).count() / rtt,
              (*t.dtls_connected - *t.remote_description).count() / rtt,
              (*t.sctp_connected - *t.remote_description).count() / rtt,
              (*t.first_channel_open - *t.remote_description).count() / rtt);
}

TEST(PeerConnection, MessagesOfEverySizeBothWays) {
  Call call;
  auto id = call.a->pc.create_data_channel(call.wire.now(), {.label = "data"});
  ASSERT_TRUE(id.ok());
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return !call.b->open.empty(); }));
  uint16_t b_id = call.b->open.begin()->first;  // handles are each side's own
  std::vector<size_t> sizes = {0, 1, 1000, 1200, 16 * 1024, 64 * 1024, 256 * 1024};
  for (size_t n : sizes) {
    Bytes m(n);
    for (size_t i = 0; i < n; ++i)
      m[i] = static_cast<uint8_t>(i * 7 + n);
    ASSERT_TRUE(call.a->pc.send(call.wire.now(), *id, m, true).ok()) << n;
    ASSERT_TRUE(call.b->pc.send(call.wire.now(), b_id, m, false).ok()) << n;
  }
  ASSERT_TRUE(call.run_until([&] {
    return call.a->messages.size() == sizes.size() && call.b->messages.size() == sizes.size();
  })) << call.a->messages.size()
      << " " << call.b->messages.size() << " sctp a sent " << call.a->pc.stats().sctp.messages_sent
      << " b recv " << call.b->pc.stats().sctp.messages_received << " a buffered "
      << call.a->pc.stats().sctp.buffered_amount << " state " << peer::to_string(call.a->pc.state())
      << (call.a->failure ? *call.a->failure : "") << (call.b->failure ? *call.b->failure : "");
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(call.b->messages[i].data.size(), sizes[i]);
    EXPECT_TRUE(call.b->messages[i].binary);
    EXPECT_EQ(call.a->messages[i].data.size(), sizes[i]);
    EXPECT_FALSE(call.a->messages[i].binary);
    if (sizes[i] > 0) {
      EXPECT_EQ(call.b->messages[i].data[sizes[i] - 1],
                static_cast<uint8_t>((sizes[i] - 1) * 7 + sizes[i]));
    }
  }
  // Larger than the peer's a=max-message-size (256 KiB by default): refused at once.
  Bytes too_big(256 * 1024 + 1);
  EXPECT_FALSE(call.a->pc.send(call.wire.now(), *id, too_big, true).ok());
}

TEST(PeerConnection, ChannelsOpenedByTheAnswererAndPreNegotiated) {
  Call call;
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return call.a->pc.state() == PeerState::connected; }));
  auto from_b = call.b->pc.create_data_channel(call.wire.now(),
                                               {.label = "control", .protocol = "cellrtc-control"});
  ASSERT_TRUE(from_b.ok());
  EXPECT_EQ(*call.b->pc.channels().find(*from_b)->stream % 2, 0);  // b is the DTLS client
  datachannel::ChannelParameters pre{.label = "pre", .negotiated = true, .id = 100};
  auto na = call.a->pc.create_data_channel(call.wire.now(), pre);
  auto nb = call.b->pc.create_data_channel(call.wire.now(), pre);
  ASSERT_TRUE(na.ok() && nb.ok());
  ASSERT_TRUE(call.run_until([&] { return call.a->open.size() == 2; }));
  bool saw_control = false;
  for (auto& [h, label] : call.a->open)
    saw_control |= label == "control";
  EXPECT_TRUE(saw_control);
  ASSERT_TRUE(call.a->pc.send(call.wire.now(), *na, as_bytes("hi"), false).ok());
  ASSERT_TRUE(call.run_until([&] { return !call.b->messages.empty(); }));
  EXPECT_EQ(call.b->messages[0].id, *nb);
  EXPECT_EQ(call.b->pc.channels().find(*nb)->stream, 100);
}

TEST(PeerConnection, ClosingAChannelClosesItOnBothSides) {
  Call call;
  auto id = call.a->pc.create_data_channel(call.wire.now(), {.label = "x"});
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return !call.b->open.empty(); }));
  ASSERT_TRUE(call.a->pc.close_channel(call.wire.now(), *id).ok());
  ASSERT_TRUE(call.run_until([&] { return !call.a->closed.empty() && !call.b->closed.empty(); }));
  EXPECT_EQ(call.a->closed[0], *id);
  EXPECT_FALSE(call.a->pc.send(call.wire.now(), *id, as_bytes("late"), true).ok());
}

TEST(PeerConnection, UnorderedLossyChannelToALiteServer) {
  Call call(/*b_lite=*/true);
  auto id = call.a->pc.create_data_channel(
      call.wire.now(), {.label = "frames", .ordered = false, .max_retransmits = 0});
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return !call.b->open.empty(); }))
      << (call.a->failure ? *call.a->failure : "") << (call.b->failure ? *call.b->failure : "");
  EXPECT_EQ(call.a->pc.ice().role(), ice::Role::controlling);
  EXPECT_EQ(call.b->pc.ice().role(), ice::Role::controlled);
  ASSERT_TRUE(call.a->pc.send(call.wire.now(), *id, Bytes(20000, 1), true).ok());
  ASSERT_TRUE(call.run_until([&] { return !call.b->messages.empty(); }));
  EXPECT_EQ(call.b->messages[0].data.size(), 20000u);
}

TEST(PeerConnection, SharedMessageIsReferencedNotCopiedAndReleasedWhenAcked) {
  Call call(/*b_lite=*/true);
  auto id = call.a->pc.create_data_channel(
      call.wire.now(), {.label = "frames", .ordered = false, .max_retransmits = 0});
  call.negotiate();
  ASSERT_TRUE(call.run_until([&] { return !call.b->open.empty(); }));
  Bytes frame_bytes(20000);
  for (size_t i = 0; i < frame_bytes.size(); ++i)
    frame_bytes[i] = static_cast<uint8_t>(i * 13);
  SharedBytes frame = make_shared_bytes(std::move(frame_bytes));
  size_t before = call.a->pc.buffered_amount(*id);  // the DCEP OPEN may still be unacked
  ASSERT_TRUE(call.a->pc.send(call.wire.now(), *id, frame, true).ok());
  // Held by reference by SCTP (its chunks point into the buffer), not copied.
  EXPECT_GT(frame.use_count(), 1);
  EXPECT_EQ(call.a->pc.buffered_amount(*id), before + 20000u);
  ASSERT_TRUE(call.run_until([&] { return !call.b->messages.empty(); }));
  EXPECT_EQ(call.b->messages[0].data, *frame);
  EXPECT_TRUE(call.b->messages[0].binary);
  ASSERT_TRUE(call.run_until([&] { return call.a->pc.buffered_amount(*id) == 0; }));
  EXPECT_EQ(frame.use_count(), 1);
  EXPECT_EQ(call.a->pc.channels().find(*id)->bytes_sent, 20000u);
  // An empty shared message goes as RFC 8831's empty-binary PPID, like the copying send.
  ASSERT_TRUE(call.a->pc.send(call.wire.now(), *id, make_shared_bytes(Bytes{}), true).ok());
  ASSERT_TRUE(call.run_until([&] { return call.b->messages.size() == 2; }));
  EXPECT_TRUE(call.b->messages[1].data.empty());
}

TEST(PeerConnection, FingerprintMismatchFailsWithAReason) {
  Call call;
  auto offer = call.a->pc.create_offer(call.wire.now());
  ASSERT_TRUE(offer.ok());
  // Swap a's fingerprint for another certificate's: b must refuse a's DTLS.
  SeededRandom other_rng(99);
  auto other = dtls::Certificate::generate(other_rng, "mallory").value();
  std::string text = *offer;
  auto pos = text.find(call.cert_a->fingerprint_sha256());
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, other.fingerprint_sha256().size(), other.fingerprint_sha256());
  ASSERT_TRUE(call.b->pc.set_remote_description(call.wire.now(), text).ok());
  auto answer = call.b->pc.create_answer(call.wire.now());
  ASSERT_TRUE(call.a->pc.set_remote_description(call.wire.now(), *answer).ok());
  ASSERT_TRUE(call.run_until([&] { return call.b->failure.has_value(); }));
  EXPECT_NE(call.b->failure->find("DTLS"), std::string::npos) << *call.b->failure;
  EXPECT_EQ(call.b->pc.state(), PeerState::failed);
}

TEST(PeerConnection, BadSignalingIsRefusedWithAReason) {
  Call call;
  EXPECT_FALSE(call.b->pc.set_remote_description(call.wire.now(), "v=0\r\nnonsense").ok());
  EXPECT_FALSE(call.b->pc.create_answer(call.wire.now()).ok());  // nothing to answer
  EXPECT_FALSE(call.a->pc.add_remote_candidate(call.wire.now(), "candidate:garbage").ok());
  // An offer with only audio has no data section to take.
  const char* audio_only =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
      "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "a=fingerprint:sha-256 "
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
      "EE:FF\r\na=setup:actpass\r\n";
  Status s = call.b->pc.set_remote_description(call.wire.now(), audio_only);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace cellrtc
