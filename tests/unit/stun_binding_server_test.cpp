#include "core/stun/binding_server.h"

#include <gtest/gtest.h>

#include "core/common/random.h"
#include "core/stun/channel_data.h"
#include "core/stun/stun_message.h"

namespace cellrtc::stun {
namespace {

SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}

TEST(BindingServer, AnswersBindingRequestWithXorMappedAddress) {
  SeededRandom rng(1);
  BindingServer server;
  for (const char* from : {"203.0.113.9:51000", "[2001:db8::42]:3478"}) {
    const TransactionId tid = random_transaction_id(rng);
    const Bytes req = MessageBuilder(Method::binding, Class::request, tid).finish(true);
    auto resp = server.handle(addr(from), req);
    ASSERT_TRUE(resp) << from;
    auto m = Message::parse(*resp);
    ASSERT_TRUE(m) << m.error().reason;
    EXPECT_EQ(m->method(), Method::binding);
    EXPECT_EQ(m->cls(), Class::success_response);
    EXPECT_EQ(m->transaction_id(), tid);
    EXPECT_EQ(m->xor_mapped_address(), addr(from));
    EXPECT_EQ(m->software(), "cellrtc");
    EXPECT_TRUE(m->has_fingerprint());
    EXPECT_FALSE(m->has_message_integrity());
  }
}

TEST(BindingServer, AnswersRequestWithoutFingerprintAndWithIntegrity) {
  // No authentication (RFC 8489 section 7.3): MESSAGE-INTEGRITY is not checked.
  BindingServer server;
  MessageBuilder b(Method::binding, Class::request, TransactionId{9});
  b.add_username("a:b").add_priority(1).add_ice_controlling(2).add_use_candidate();
  const Bytes req = std::move(b).finish_with_integrity(as_bytes("pw"), false);
  auto resp = server.handle(addr("192.0.2.1:1"), req);
  ASSERT_TRUE(resp);
  EXPECT_EQ(Message::parse(*resp)->cls(), Class::success_response);
}

TEST(BindingServer, UnknownComprehensionRequiredGets420) {
  BindingServer server;
  MessageBuilder b(Method::binding, Class::request, TransactionId{1, 2});
  b.add_raw(0x0031, {}).add_raw(0x8031, {}).add_raw(0x7001, {});
  auto resp = server.handle(addr("192.0.2.1:1"), std::move(b).finish(true));
  ASSERT_TRUE(resp);
  auto m = Message::parse(*resp);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->cls(), Class::error_response);
  EXPECT_EQ(m->method(), Method::binding);
  EXPECT_EQ(m->transaction_id(), (TransactionId{1, 2}));
  ASSERT_TRUE(m->error_code());
  EXPECT_EQ(m->error_code()->code, error::kUnknownAttribute);
  EXPECT_EQ(m->unknown_attributes(), (std::vector<uint16_t>{0x0031, 0x7001}));
  EXPECT_FALSE(m->xor_mapped_address());
  EXPECT_TRUE(m->has_fingerprint());
}

TEST(BindingServer, OtherMethodsGet400) {
  BindingServer server;
  MessageBuilder b(Method::allocate, Class::request, TransactionId{3});
  b.add_requested_transport(17);
  auto resp = server.handle(addr("192.0.2.1:1"), std::move(b).finish());
  ASSERT_TRUE(resp);
  auto m = Message::parse(*resp);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method(), Method::allocate);
  EXPECT_EQ(m->cls(), Class::error_response);
  EXPECT_EQ(m->error_code()->code, error::kBadRequest);
}

TEST(BindingServer, IgnoresIndicationsResponsesAndNonStun) {
  BindingServer server;
  const SocketAddress from = addr("192.0.2.1:1");
  EXPECT_FALSE(server.handle(
      from, MessageBuilder(Method::binding, Class::indication, TransactionId{}).finish(true)));
  EXPECT_FALSE(server.handle(
      from, MessageBuilder(Method::binding, Class::success_response, TransactionId{}).finish()));
  EXPECT_FALSE(server.handle(
      from, MessageBuilder(Method::binding, Class::error_response, TransactionId{}).finish()));
  EXPECT_FALSE(server.handle(from, {}));
  const uint8_t dtls[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(server.handle(from, dtls));
  EXPECT_FALSE(server.handle(from, encode_channel_data(0x4000, dtls, true)));
}

TEST(BindingServer, IgnoresRequestWithBadFingerprint) {
  BindingServer server;
  Bytes req = MessageBuilder(Method::binding, Class::request, TransactionId{}).finish(true);
  req.back() ^= 1;
  EXPECT_FALSE(server.handle(addr("192.0.2.1:1"), req));
}

TEST(BindingServer, CustomSoftware) {
  BindingServer server("lab stun 1");
  auto resp =
      server.handle(addr("192.0.2.1:1"),
                    MessageBuilder(Method::binding, Class::request, TransactionId{}).finish());
  ASSERT_TRUE(resp);
  EXPECT_EQ(Message::parse(*resp)->software(), "lab stun 1");
}

}  // namespace
}  // namespace cellrtc::stun
