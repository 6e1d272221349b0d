// streamer::add_active_tcp_candidates and TcpCandidateConnector: the device's ICE-TCP side
// (RFC 6544), the agent's and the firmware's alike.
#include "core/streamer/ice_tcp.h"

#include <gtest/gtest.h>

#include <string>

#include "core/common/random.h"
#include "core/dtls/certificate.h"

namespace cellrtc::streamer {
namespace {

IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

class IceTcpTest : public testing::Test {
 protected:
  IceTcpTest() : rng_(5), cert_(dtls::Certificate::generate(rng_, "t").value()) {
    peer::PeerConfig c;
    c.certificate = &cert_;
    device_ = std::make_unique<peer::PeerConnection>(c, rng_);
    server_ = std::make_unique<peer::PeerConnection>(c, rng_);
  }
  // Offer (with the device's candidates) and answer without candidates.
  void negotiate() {
    ASSERT_TRUE(device_->create_data_channel(now_, {"video"}).ok());
    auto offer = device_->create_offer(now_);
    ASSERT_TRUE(offer.ok());
    ASSERT_TRUE(server_->set_remote_description(now_, *offer).ok());
    auto answer = server_->create_answer(now_);
    ASSERT_TRUE(answer.ok());
    ASSERT_TRUE(device_->set_remote_description(now_, *answer).ok());
  }

  Instant now_;
  SeededRandom rng_;
  dtls::Certificate cert_;
  std::unique_ptr<peer::PeerConnection> device_;
  std::unique_ptr<peer::PeerConnection> server_;
};

TEST_F(IceTcpTest, OneActiveCandidatePerFamilyOnPortNine) {
  EXPECT_EQ(add_active_tcp_candidates(now_, *device_,
                                      {ip("0.0.0.0"), ip("169.254.1.1"), ip("10.0.0.2"),
                                       ip("10.0.0.3"), ip("2001:db8::2")}),
            2u);
  const auto& local = device_->ice().local_candidates();
  ASSERT_EQ(local.size(), 2u);
  EXPECT_EQ(local[0].address.to_string(), "10.0.0.2:9");
  EXPECT_EQ(local[0].transport, TransportProtocol::tcp);
  EXPECT_EQ(local[0].tcp_type, ice::TcpType::active);
  EXPECT_EQ(local[1].address.ip(), ip("2001:db8::2"));
  // RFC 6544 section 4.2: below every UDP host candidate.
  EXPECT_LT(local[0].priority,
            ice::compute_priority(
                ice::type_preference(ice::CandidateType::host, TransportProtocol::udp), 0, 1));
}

TEST_F(IceTcpTest, EachPassiveCandidateOfTheFamilyIsConnectedOnceUntilForgotten) {
  ASSERT_EQ(add_active_tcp_candidates(now_, *device_, {ip("10.0.0.2")}), 1u);
  negotiate();
  TcpCandidateConnector connector;
  EXPECT_TRUE(connector.take_new(*device_).empty());
  EXPECT_FALSE(connector.has_news(*device_));
  ASSERT_TRUE(
      device_
          ->add_remote_candidate(
              now_, "candidate:1 1 tcp 1518280447 198.51.100.1 443 typ host tcptype passive")
          .ok());
  ASSERT_TRUE(device_
                  ->add_remote_candidate(
                      now_, "candidate:2 1 tcp 1518280447 2001:db8::1 443 typ host tcptype passive")
                  .ok());
  ASSERT_TRUE(device_
                  ->add_remote_candidate(now_,
                                         "candidate:3 1 udp 2130706431 198.51.100.1 "
                                         "3478 typ host")
                  .ok());
  EXPECT_TRUE(connector.has_news(*device_));
  auto pairs = connector.take_new(*device_);
  ASSERT_EQ(pairs.size(), 1u);  // IPv4 only: no IPv6 active candidate, UDP is not connected
  EXPECT_EQ(pairs[0].local.to_string(), "10.0.0.2:9");
  EXPECT_EQ(pairs[0].remote.to_string(), "198.51.100.1:443");
  EXPECT_FALSE(connector.has_news(*device_));
  EXPECT_TRUE(connector.take_new(*device_).empty());
  connector.forget();
  EXPECT_EQ(connector.take_new(*device_).size(), 1u);
}

}  // namespace
}  // namespace cellrtc::streamer
