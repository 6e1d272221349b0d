#include "server/newest_frame_slot.h"

#include <gtest/gtest.h>

#include "server/cors.h"
#include "server/resource_id.h"

namespace cellrtc::server {
namespace {

SharedFrame frame(uint8_t tag) {
  return std::make_shared<const Bytes>(Bytes{tag});
}

TEST(NewestFrameSlot, NewestWinsAndReplacementsCount) {
  NewestFrameSlot slot;
  EXPECT_TRUE(slot.empty());
  EXPECT_FALSE(slot.offer(frame(1)));
  EXPECT_TRUE(slot.offer(frame(2)));
  EXPECT_TRUE(slot.offer(frame(3)));
  EXPECT_EQ(slot.dropped(), 2u);
  auto f = slot.take();
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)[0], 3);
  EXPECT_TRUE(slot.empty());
  EXPECT_FALSE(slot.offer(frame(4)));
}

TEST(NewestFrameSlot, SharesTheBufferWithoutCopies) {
  SharedFrame f = frame(9);
  NewestFrameSlot a, b;
  a.offer(f);
  b.offer(f);
  EXPECT_EQ(a.peek().get(), b.peek().get());
  EXPECT_EQ(f.use_count(), 3);
}

TEST(NewestFrameSlot, ViewerMaySendWhileAboutOneFrameIsBuffered) {
  EXPECT_TRUE(viewer_may_send(0, 0));
  EXPECT_TRUE(viewer_may_send(10'000, 20'000));
  EXPECT_FALSE(viewer_may_send(20'001, 20'000));
}

TEST(ResourceId, HexOf128BitsAndStrongEtags) {
  SeededRandom rng(5);
  auto a = make_resource_id(rng);
  auto b = make_resource_id(rng);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(is_resource_id(a));
  EXPECT_FALSE(is_resource_id("xyz"));
  EXPECT_FALSE(is_resource_id(std::string(32, 'G')));
  auto etag = make_etag(rng);
  EXPECT_EQ(etag.size(), 18u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
}

TEST(Cors, OriginsAndCredentials) {
  HttpRequest req;
  req.headers = {{"Origin", "https://a.example"}};
  HttpResponse any;
  add_cors_headers({"*"}, req, any);
  EXPECT_EQ(*any.header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(any.header("Access-Control-Allow-Credentials"), nullptr);
  HttpResponse listed;
  add_cors_headers({"https://b.example", "https://a.example"}, req, listed);
  EXPECT_EQ(*listed.header("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(*listed.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(*listed.header("Vary"), "Origin");
  HttpResponse none;
  add_cors_headers({}, req, none);
  EXPECT_EQ(none.header("Access-Control-Allow-Origin"), nullptr);
  auto pre = cors_preflight({"*"}, req, "POST, OPTIONS");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(*pre.header("Allow"), "POST, OPTIONS");
}

}  // namespace
}  // namespace cellrtc::server
