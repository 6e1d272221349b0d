#include "process/frame_watch.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/media/frame_header.h"
#include "process/http_client.h"
#include "process/loopback_peer.h"

namespace cellrtc::process {

void watch_frames_in_order(uint16_t http_port, std::string_view camera, size_t count,
                           const std::function<std::string()>& context) {
  LoopbackPeer peer;
  ASSERT_NO_FATAL_FAILURE(peer.start("cellrtc-test"));
  testing::PeerEndpoint& viewer = peer.endpoint();
  runtime::EventLoop& loop = peer.loop();
  auto watched = http_request(http_port, {.method = "POST",
                                          .target = "/whep/" + std::string(camera),
                                          .headers = {{"Content-Type", "application/sdp"}},
                                          .body = peer.offer()});
  ASSERT_EQ(watched.status, 201) << watched.body << context();
  ASSERT_TRUE(viewer.pc.set_remote_description(loop.now(), watched.body));
  viewer.drain(loop.now());
  peer.driver().wake();

  std::vector<uint32_t> sequences;
  auto collect = [&] {
    for (const auto& m : viewer.messages) {
      auto it = viewer.open.find(m.id);
      if (it == viewer.open.end() || it->second != "video") continue;
      auto f = media::parse_frame(m.data);
      EXPECT_TRUE(f.ok());
      if (f) sequences.push_back(f->header.sequence);
    }
    viewer.messages.clear();
    return sequences.size() >= count || viewer.failure.has_value();
  };
  ASSERT_TRUE(loop.run_until(collect, loop.now() + seconds(30)))
      << (viewer.failure ? *viewer.failure : "timeout") << "\n"
      << context();
  ASSERT_FALSE(viewer.failure) << *viewer.failure;
  for (size_t i = 1; i < sequences.size(); ++i)
    EXPECT_GT(sequences[i], sequences[i - 1]) << "at " << i;
}

}  // namespace cellrtc::process
