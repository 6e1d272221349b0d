#include "server/http_message.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

TEST(HttpMessage, HeadersAreCaseInsensitive) {
  HttpRequest r;
  r.headers = {{"Content-Type", "application/sdp"}, {"If-Match", "\"1\""}};
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("CONTENT-TYPE"), "application/sdp");
  EXPECT_EQ(r.header("Authorization"), nullptr);
}

TEST(HttpMessage, PathAndQuery) {
  HttpRequest r;
  r.target = "/whep/demo?token=abc&x=1&flag";
  EXPECT_EQ(r.path(), "/whep/demo");
  EXPECT_EQ(r.query(), "token=abc&x=1&flag");
  EXPECT_EQ(r.query_param("token"), "abc");
  EXPECT_EQ(r.query_param("x"), "1");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("missing"), "");
  r.target = "/whip";
  EXPECT_EQ(r.path(), "/whip");
  EXPECT_EQ(r.query(), "");
}

TEST(HttpMessage, ProblemDetailsEscapeTheDetail) {
  auto p = HttpResponse::problem(415, "expected \"application/sdp\"\n");
  EXPECT_EQ(p.status, 415);
  ASSERT_NE(p.header("content-type"), nullptr);
  EXPECT_EQ(*p.header("content-type"), "application/problem+json");
  EXPECT_EQ(p.body,
            "{\"type\":\"about:blank\",\"title\":\"Unsupported Media Type\",\"status\":415,"
            "\"detail\":\"expected \\\"application/sdp\\\"\\u000a\"}");
}

TEST(HttpMessage, SetHeaderReplaces) {
  HttpResponse r;
  r.set_header("ETag", "\"a\"");
  r.set_header("etag", "\"b\"");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].value, "\"b\"");
}

}  // namespace
}  // namespace cellrtc::server
