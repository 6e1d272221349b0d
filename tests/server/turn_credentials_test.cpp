#include "server/turn_credentials.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

TEST(TurnCredentials, MatchesAnIndependentComputation) {
  // user="1700000000:demo"; secret="s3cret-turn"
  // printf %s "$user" | openssl dgst -sha1 -hmac "$secret" -binary | base64
  auto s = turn_rest_credentials("s3cret-turn", 1700000000, "demo", {"turn:t.example:3478"});
  EXPECT_EQ(s.username, "1700000000:demo");
  EXPECT_EQ(s.credential, "U80iZhQOBxGEyhVqS/qPzsVhebg=");
  // printf %s "1700000000:viewer" | openssl dgst -sha1 -hmac "s3cret-turn" -binary | base64
  EXPECT_EQ(turn_rest_credentials("s3cret-turn", 1700000000, "viewer", {}).credential,
            "E1zN7FK7bUT4wU0sEVHWL9cGiM0=");
}

TEST(TurnCredentials, Base64) {
  // RFC 4648 section 10 test vectors.
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(as_bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(as_bytes("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
}

TEST(TurnCredentials, ServersLinksAndJson) {
  TurnSettings turn;
  EXPECT_TRUE(ice_servers_for(turn, 1000, seconds(60), "demo").empty());
  turn.secret = "k";
  turn.urls = {"turn:a:3478?transport=udp", "turns:a:5349"};
  turn.stun_urls = {"stun:s:3478"};
  auto servers = ice_servers_for(turn, 1000, seconds(60), "demo");
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].username, "1060:demo");
  EXPECT_TRUE(servers[1].username.empty());
  auto links = link_header_values(servers);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[1], "<turns:a:5349>; rel=\"ice-server\"; username=\"1060:demo\"; credential=\"" +
                          servers[0].credential + "\"; credential-type=\"password\"");
  EXPECT_EQ(links[2], "<stun:s:3478>; rel=\"ice-server\"");
  auto json = ice_servers_json(servers);
  EXPECT_NE(json.find(R"("urls":["turn:a:3478?transport=udp","turns:a:5349"])"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"urls":["stun:s:3478"]})"), std::string::npos) << json;
}

}  // namespace
}  // namespace cellrtc::server
