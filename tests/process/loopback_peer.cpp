#include "process/loopback_peer.h"

#include <gtest/gtest.h>

namespace cellrtc::process {

void LoopbackPeer::start(std::string_view common_name) {
  auto certificate = dtls::Certificate::generate(rng_, common_name);
  ASSERT_TRUE(certificate);
  certificate_.emplace(std::move(*certificate));
  peer::PeerConfig config;
  config.certificate = &*certificate_;
  endpoint_ = std::make_unique<testing::PeerEndpoint>(config, rng_);
  auto loop = runtime::EventLoop::create();
  ASSERT_TRUE(loop);
  loop_.emplace(std::move(*loop));
  driver_ = std::make_unique<runtime::EndpointDriver>(**loop_, *endpoint_);
  auto local = driver_->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(local);
  Instant now = (*loop_)->now();
  ASSERT_TRUE(endpoint_->pc.add_host_socket(now, *local));
  endpoint_->pc.end_of_local_sockets(now);
  ASSERT_TRUE(endpoint_->pc.create_data_channel(
      now, {.label = "video", .ordered = false, .max_retransmits = 0}));
  ASSERT_TRUE(endpoint_->pc.create_data_channel(now, {.label = "control"}));
  auto offer = endpoint_->pc.create_offer(now);
  ASSERT_TRUE(offer);
  offer_ = std::move(*offer);
  endpoint_->drain(now);
}

}  // namespace cellrtc::process
