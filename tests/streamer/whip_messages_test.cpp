// core/whip: requests built as values, responses classified, Locations resolved (RFC 3986
// section 5.4's examples), limits.
#include "core/whip/whip_messages.h"

#include <gtest/gtest.h>

#include "core/whip/whip_url.h"

namespace cellrtc::whip {
namespace {

TEST(WhipUrl, ResolvesReferencesAsRfc3986Section54) {
  // RFC 3986 section 5.4.1 and 5.4.2, with http as the scheme.
  const char* base = "http://a/b/c/d;p?q";
  struct Case {
    const char* ref;
    const char* want;
  } cases[] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g/"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"g/../h", "http://a/b/c/h"},
      {"https://other:8443/whip/1", "https://other:8443/whip/1"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(resolve_url(base, c.ref).value_or("nullopt"), c.want) << c.ref;
  EXPECT_FALSE(resolve_url(base, "ftp://x/y"));
  EXPECT_FALSE(resolve_url(base, "http:no-host"));
  EXPECT_FALSE(resolve_url(base, "/a b"));
  EXPECT_FALSE(resolve_url(base, std::string(kMaxUrlLength + 1, 'x')));
  EXPECT_FALSE(resolve_url("not a url", "/g"));
}

TEST(WhipUrl, EndpointAndHost) {
  EXPECT_EQ(whip_endpoint("http://h:8080"), "http://h:8080/whip");
  EXPECT_EQ(whip_endpoint("http://h:8080/"), "http://h:8080/whip");
  EXPECT_EQ(whip_endpoint("https://h/api/publish"), "https://h/api/publish");
  EXPECT_EQ(url_host("http://[::1]:8080/whip"), "::1");
  EXPECT_EQ(url_host("https://user@cam.example.net/whip"), "cam.example.net");
}

TEST(WhipMessages, RequestsCarryTheirHeaders) {
  auto post = publish_request("http://h/whip", "tok", "v=0\r\n");
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(post.headers, (std::vector<HttpHeader>{{"Content-Type", "application/sdp"},
                                                   {"Authorization", "Bearer tok"}}));
  WhipSession s;
  s.resource_url = "http://h/whip/1";
  s.etag = "\"e1\"";
  auto trickle = trickle_request(s, "", "a=candidate:x");
  EXPECT_EQ(trickle.method, "PATCH");
  EXPECT_EQ(trickle.headers,
            (std::vector<HttpHeader>{{"Content-Type", "application/trickle-ice-sdpfrag"},
                                     {"If-Match", "\"e1\""}}));
  EXPECT_FALSE(ice_restart_request(s, "tok", "v=0\r\nm=application 9 x\r\na=mid:0\r\n"));
  auto end = end_request(s, "tok");
  EXPECT_EQ(end.method, "DELETE");
  EXPECT_EQ(end.url, "http://h/whip/1");
  EXPECT_TRUE(end.body.empty());
}

TEST(WhipMessages, ResponsesAreClassified) {
  auto post = publish_request("http://h/whip", "tok", "v=0\r\n");
  HttpResponse r;
  r.status = 403;
  r.body = R"({"type":"about:blank","title":"Forbidden","detail":"token revoked"})";
  auto s = parse_publish_response(post, r);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, WhipErrorKind::unauthorized);
  EXPECT_FALSE(s.error().retryable());
  EXPECT_EQ(s.error().message,
            "POST http://h/whip: HTTP 403 Forbidden: token revoked (check the device token)");

  r = {};
  r.status = 200;  // WHIP answers 201
  r.body = "v=0\r\n";
  EXPECT_EQ(parse_publish_response(post, r).error().kind, WhipErrorKind::http);

  r.status = 201;
  r.headers = {{"location", "/whip/7"},
               {"ETag", "\"x\""},
               {"Link", "<stun:s.example>; rel=\"ice-server\""},
               {"Link",
                "<turn:t.example?transport=tcp>; rel=\"ice-server\"; username=\"u\"; "
                "credential=\"c\", <https://h/doc>; rel=\"help\""}};
  auto ok = parse_publish_response(post, r);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->resource_url, "http://h/whip/7");
  EXPECT_EQ(ok->etag, "\"x\"");
  EXPECT_EQ(ok->ice_servers, (std::vector<IceServer>{{"stun:s.example", "", ""},
                                                     {"turn:t.example?transport=tcp", "u", "c"}}));

  r.body = std::string(100, 'v');
  auto big = parse_publish_response(post, r, WhipLimits{64, 1024});
  EXPECT_EQ(big.error().kind, WhipErrorKind::too_large);
  r.body = "v=0\r\n";
  EXPECT_EQ(parse_publish_response(post, r, WhipLimits{1024, 40}).error().kind,
            WhipErrorKind::too_large);

  auto end = end_request(*ok, "tok");
  r = {};
  r.status = 404;
  EXPECT_EQ(parse_end_response(end, r).value(), false);  // gone already: done
  r.status = 500;
  EXPECT_EQ(parse_end_response(end, r).error().message,
            "DELETE http://h/whip/7: HTTP 500 Internal Server Error");
}

}  // namespace
}  // namespace cellrtc::whip
