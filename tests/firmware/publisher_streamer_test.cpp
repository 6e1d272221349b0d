// The app's Streamer on the portable publisher: network up and down map to start and stop
// (again and again), a frame no session wants goes straight back to the camera, the WHIP POST
// carries the configured endpoint and token.
#include <gtest/gtest.h>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "firmware/app/memory_profile.h"
#include "firmware/app/publisher_streamer.h"
#include "tests/firmware/app_bench.h"

namespace cellrtc::firmware {
namespace {

// No sockets: the publisher's requests are inspected, not performed.
class NoSockets final : public streamer::PublisherHost {
 public:
  std::optional<std::string> open_session(Instant, peer::PeerConnection&) override {
    ++opened;
    return std::nullopt;
  }
  void close_session(Instant, peer::PeerConnection&) override { ++closed; }
  int opened = 0;
  int closed = 0;
};

struct Rig {
  Rig() : certificate(dtls::Certificate::generate(rng, "cellrtc-device").value()) {}
  streamer::PublisherConfig config() const {
    streamer::PublisherConfig c;
    c.endpoint = "https://relay.example.net/whip";
    c.token = "dev-token_1";
    return c;
  }
  SeededRandom rng{7};
  dtls::Certificate certificate;
  NoSockets host;
};

std::string header(const whip::WhipRequest& r, std::string_view name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return {};
}

TEST(PublisherStreamerTest, NetworkUpPublishesAndNetworkDownStopsUntilItComesBack) {
  Rig rig;
  PublisherStreamer s(rig.config(), rig.rng, rig.certificate, rig.host);
  Instant now = Instant{} + seconds(5);
  s.start(now);
  auto post = s.publisher().poll_request();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->request.method, "POST");
  EXPECT_EQ(post->request.url, "https://relay.example.net/whip");
  EXPECT_EQ(header(post->request, "Authorization"), "Bearer dev-token_1");
  EXPECT_EQ(rig.host.opened, 1);

  now += seconds(1);
  s.stop(now);
  EXPECT_EQ(s.publisher().state(), streamer::PublisherState::stopped);
  EXPECT_EQ(rig.host.closed, 1);

  now += seconds(30);
  s.start(now);  // PPP is up again
  while (auto r = s.publisher().poll_request())
    if (r->request.method == "POST") post = r;
  EXPECT_EQ(rig.host.opened, 2);
  EXPECT_EQ(post->request.method, "POST");
}

// The memory profile reaches every session's PeerConnection: its offer announces the
// profile's receive limit as a=max-message-size (RFC 8841 section 6), not the default 256 KB.
TEST(PublisherStreamerTest, TheMemoryProfileSizesTheSessionsSctp) {
  Rig rig;
  streamer::PublisherConfig config = rig.config();
  const MemoryProfile profile = memory_profile(FrameSize::vga);
  apply_memory_profile(profile, config);
  PublisherStreamer s(config, rig.rng, rig.certificate, rig.host);
  s.start(Instant{} + seconds(1));
  auto post = s.publisher().poll_request();
  ASSERT_TRUE(post);
  EXPECT_NE(post->request.body.find(
                "a=max-message-size:" + std::to_string(profile.sctp_max_receive_message) + "\r\n"),
            std::string::npos)
      << post->request.body;
  EXPECT_EQ(post->request.body.find("a=max-message-size:262144"), std::string::npos);
}

TEST(PublisherStreamerTest, AFrameNoSessionWantsGoesBackToTheCameraAtOnce) {
  Rig rig;
  PublisherStreamer s(rig.config(), rig.rng, rig.certificate, rig.host);
  testing::FakeCamera camera;
  const Instant now = Instant{} + seconds(1);
  s.start(now);
  EXPECT_FALSE(s.wants_frame(now));  // no channel open yet
  EXPECT_FALSE(s.next_capture());
  s.offer_frame(now, FrameLease(&camera, camera.take(now)));
  EXPECT_EQ(camera.releases, 1u);
  EXPECT_TRUE(camera.lent.empty());
  EXPECT_EQ(s.frame_wish().width, 0);
}

}  // namespace
}  // namespace cellrtc::firmware
