// An HTTP client's outcome as the publisher's answer: failures keep their kind (DNS, connect,
// TLS, timeout, cancelled) with the request in front, repeated headers stay in order, and
// nothing past the size limits is kept or passed on.
#include "firmware/app/http_outcome.h"

#include <gtest/gtest.h>

#include <string>

namespace cellrtc::firmware {
namespace {

whip::WhipRequest post() {
  return whip::publish_request("https://relay.example.net/whip", "tok", "v=0\r\n");
}

TEST(HttpOutcomeTest, ACompleteResponseKeepsItsHeadersInOrderAndItsBody) {
  ResponseCollector c;
  c.on_header("Location", "/whip/abc");
  c.on_header("ETag", "\"e1\"");
  c.on_header("Link", "<turn:t.example:3478>; rel=\"ice-server\"");
  c.on_header("Link", "<stun:s.example>; rel=\"ice-server\"");
  c.on_body("v=0\r\n");
  c.on_body("o=- 1 1 IN IP4 0.0.0.0\r\n");
  auto r = to_whip_result(post(), c.finish(201));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("location"), "/whip/abc");
  EXPECT_EQ(r->header("etag"), "\"e1\"");
  EXPECT_EQ(r->all("link"),
            "<turn:t.example:3478>; rel=\"ice-server\", <stun:s.example>; rel=\"ice-server\"");
  EXPECT_EQ(r->body, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n");
}

TEST(HttpOutcomeTest, TransportFailuresKeepTheirKindAndSayWhichRequest) {
  const std::pair<HttpFailure, whip::WhipErrorKind> cases[] = {
      {HttpFailure::dns, whip::WhipErrorKind::dns},
      {HttpFailure::connect, whip::WhipErrorKind::connect},
      {HttpFailure::tls, whip::WhipErrorKind::tls},
      {HttpFailure::timeout, whip::WhipErrorKind::timeout},
      {HttpFailure::network, whip::WhipErrorKind::network},
      {HttpFailure::cancelled, whip::WhipErrorKind::cancelled},
      {HttpFailure::invalid, whip::WhipErrorKind::invalid},
  };
  for (const auto& [failure, kind] : cases) {
    ResponseCollector c;
    c.on_header("Content-Type", "text/plain");  // what came before the failure is dropped
    auto r = to_whip_result(post(), c.fail(failure, "ESP_ERR_HTTP_CONNECT"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kind);
    EXPECT_EQ(r.error().status, 0);
    EXPECT_EQ(r.error().message, std::string("POST https://relay.example.net/whip: ") +
                                     whip::to_string(kind) + ": ESP_ERR_HTTP_CONNECT");
  }
  EXPECT_FALSE(to_whip_result(post(), ResponseCollector().fail(HttpFailure::cancelled, ""))
                   .error()
                   .retryable());
  EXPECT_TRUE(
      to_whip_result(post(), ResponseCollector().fail(HttpFailure::dns, "")).error().retryable());
}

TEST(HttpOutcomeTest, NoStatusLineIsABadResponse) {
  auto r = to_whip_result(post(), ResponseCollector().finish(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, whip::WhipErrorKind::bad_response);
  EXPECT_EQ(r.error().message, "POST https://relay.example.net/whip: " +
                                   std::string(whip::to_string(whip::WhipErrorKind::bad_response)) +
                                   ": no HTTP status");
  EXPECT_FALSE(to_whip_result(post(), ResponseCollector().finish(600)));
}

TEST(HttpOutcomeTest, ABodyPastTheLimitIsNotKeptAndIsTooLarge) {
  whip::WhipLimits limits;
  limits.max_response_bytes = 8;
  ResponseCollector c(limits);
  c.on_body("12345");
  c.on_body("678");  // exactly the limit
  HttpOutcome at_limit = c.finish(201);
  EXPECT_EQ(at_limit.response.body, "12345678");
  EXPECT_TRUE(to_whip_result(post(), at_limit, limits));

  ResponseCollector over(limits);
  over.on_body("12345");
  over.on_body("6789");
  over.on_body("0");  // even a byte that would fit again is refused once over
  HttpOutcome o = over.finish(201);
  EXPECT_EQ(o.response.body, "12345");
  auto r = to_whip_result(post(), std::move(o), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, whip::WhipErrorKind::too_large);
  EXPECT_EQ(r.error().status, 201);
}

TEST(HttpOutcomeTest, HeaderFieldsPastTheLimitAreNotKeptAndAreTooLarge) {
  whip::WhipLimits limits;
  limits.max_header_bytes = 32;
  ResponseCollector c(limits);
  c.on_header("ETag", "\"e1\"");              // 4 + 4 + 4 = 12 bytes
  c.on_header("Link", std::string(20, 'x'));  // 28: over
  c.on_header("X", "y");                      // would fit, refused after
  HttpOutcome o = c.finish(200);
  ASSERT_EQ(o.response.headers.size(), 1u);
  auto r = to_whip_result(post(), std::move(o), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, whip::WhipErrorKind::too_large);
}

}  // namespace
}  // namespace cellrtc::firmware
