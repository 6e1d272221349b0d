// TurnClient (RFC 8656) against a scripted server under virtual time: each test reads the
// requests the client sends and answers them the way a TURN server would, or does not.
#include "core/turn/turn_client.h"

#include <gtest/gtest.h>

#include "core/stun/channel_data.h"

namespace cellrtc::turn {
namespace {

using stun::Class;
using stun::Message;
using stun::MessageBuilder;
using stun::Method;

const SocketAddress kRelayed(IpAddress::v4(198, 51, 100, 7), 50000);
const SocketAddress kMapped(IpAddress::v4(203, 0, 113, 5), 41000);
const SocketAddress kPeer(IpAddress::v4(192, 0, 2, 10), 6000);
const SocketAddress kPeer2(IpAddress::v4(192, 0, 2, 11), 6001);

// The server's side of the long-term credential mechanism (RFC 8489 section 9.2).
struct ScriptedServer {
  std::string realm = "cellrtc.test";
  std::string nonce = "nonce-1";
  std::string username = "1700000000:cam1";
  std::string password = "secret-password";

  Md5Digest key() const { return stun::long_term_key(username, realm, password); }

  Bytes challenge(const Message& req, uint16_t code = stun::error::kUnauthorized) const {
    return std::move(MessageBuilder::response_to(req, Class::error_response)
                         .add_error_code(code, code == stun::error::kStaleNonce ? "Stale Nonce"
                                                                                : "Unauthorized")
                         .add_realm(realm)
                         .add_nonce(nonce))
        .finish(true);
  }
  Bytes error(const Message& req, uint16_t code, std::string_view reason) const {
    return std::move(
               MessageBuilder::response_to(req, Class::error_response).add_error_code(code, reason))
        .finish_with_integrity(key());
  }
  Bytes allocate_ok(const Message& req, uint32_t lifetime = 600) const {
    return std::move(MessageBuilder::response_to(req, Class::success_response)
                         .add_xor_relayed_address(kRelayed)
                         .add_xor_mapped_address(kMapped)
                         .add_lifetime(lifetime))
        .finish_with_integrity(key());
  }
  Bytes refresh_ok(const Message& req, uint32_t lifetime) const {
    return std::move(
               MessageBuilder::response_to(req, Class::success_response).add_lifetime(lifetime))
        .finish_with_integrity(key());
  }
  Bytes ok(const Message& req) const {
    return std::move(MessageBuilder::response_to(req, Class::success_response))
        .finish_with_integrity(key());
  }
  // Checks that a request carries this server's credentials (RFC 8489 section 9.2.4).
  bool authenticated(const Message& req) const {
    return req.username() == username && req.realm() == realm && req.nonce() == nonce &&
           req.check_integrity(key());
  }
};

class TurnClientTest : public ::testing::Test {
 protected:
  TurnClientConfig config(TurnTransport transport = TurnTransport::udp) {
    TurnClientConfig c;
    c.transport = transport;
    c.credentials = {server.username, server.password};
    return c;
  }

  // The one message the client has to send now.
  Message take(TurnClient& c) {
    auto out = c.poll_transmit();
    EXPECT_TRUE(out.has_value()) << "client sent nothing";
    if (!out) return Message();
    EXPECT_FALSE(c.poll_transmit().has_value()) << "client sent more than one message";
    auto m = Message::parse(*out);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().reason);
    return m.ok() ? *m : Message();
  }

  std::vector<TurnEvent> events(TurnClient& c) {
    std::vector<TurnEvent> out;
    while (auto e = c.poll_event())
      out.push_back(std::move(*e));
    return out;
  }

  // Allocate through the 401 challenge; leaves the client allocated at `now`.
  void allocate(TurnClient& c, uint32_t lifetime = 600) {
    ASSERT_TRUE(c.allocate(now).ok());
    Message first = take(c);
    ASSERT_FALSE(first.has_message_integrity());
    c.handle_input(now, server.challenge(first));
    Message second = take(c);
    ASSERT_TRUE(server.authenticated(second));
    c.handle_input(now, server.allocate_ok(second, lifetime));
    ASSERT_EQ(c.state(), TurnState::allocated);
    (void)events(c);
  }

  // Runs the client's timers until `until`, answering nothing; returns what it sent.
  std::vector<std::pair<Instant, Bytes>> run_until(TurnClient& c, Instant until) {
    std::vector<std::pair<Instant, Bytes>> sent;
    for (int i = 0; i < 10000; ++i) {
      auto t = c.next_timeout();
      if (!t || *t > until) break;
      now = std::max(now, *t);
      c.handle_timeout(now);
      while (auto b = c.poll_transmit())
        sent.emplace_back(now, std::move(*b));
    }
    now = until;
    c.handle_timeout(now);
    while (auto b = c.poll_transmit())
      sent.emplace_back(now, std::move(*b));
    return sent;
  }

  ScriptedServer server;
  SeededRandom rng{7};
  Instant now = Instant::from_us(1'000'000);
};

TEST_F(TurnClientTest, AllocatesWithLongTermCredentialsAfterThe401Challenge) {
  TurnClient c(config(), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  EXPECT_EQ(c.state(), TurnState::allocating);
  Message first = take(c);
  EXPECT_EQ(first.method(), Method::allocate);
  EXPECT_EQ(first.cls(), Class::request);
  EXPECT_EQ(first.requested_transport(), 17);  // UDP relay, RFC 8656 section 7.1
  EXPECT_EQ(first.lifetime(), 600u);
  EXPECT_FALSE(first.has_message_integrity());
  EXPECT_TRUE(first.has_fingerprint());

  c.handle_input(now, server.challenge(first));
  Message second = take(c);
  EXPECT_EQ(second.method(), Method::allocate);
  EXPECT_NE(second.transaction_id(), first.transaction_id());
  EXPECT_TRUE(server.authenticated(second));

  c.handle_input(now, server.allocate_ok(second, 300));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  auto* allocated = std::get_if<event::Allocated>(&ev[0]);
  ASSERT_NE(allocated, nullptr);
  EXPECT_EQ(allocated->relayed, kRelayed);
  EXPECT_EQ(allocated->mapped, kMapped);
  EXPECT_EQ(allocated->lifetime_s, 300u);
  EXPECT_EQ(c.state(), TurnState::allocated);
  EXPECT_EQ(c.relayed_address(), kRelayed);
  EXPECT_EQ(c.allocation_expires(), now + seconds(300));
}

TEST_F(TurnClientTest, ASecond401MeansTheCredentialsAreRefused) {
  TurnClient c(config(), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  c.handle_input(now, server.challenge(take(c)));
  EXPECT_FALSE(c.poll_transmit().has_value());
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  auto* err = std::get_if<event::TurnError>(&ev[0]);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->kind, TurnErrorKind::unauthorized);
  EXPECT_EQ(err->stun_code, 401);
  EXPECT_TRUE(err->fatal);
  EXPECT_EQ(c.state(), TurnState::failed);
  EXPECT_FALSE(c.next_timeout().has_value());
}

TEST_F(TurnClientTest, StaleNonceIsRetriedWithTheNewNonce) {
  TurnClient c(config(), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  Message authed = take(c);
  server.nonce = "nonce-2";
  c.handle_input(now, server.challenge(authed, stun::error::kStaleNonce));
  Message retry = take(c);
  EXPECT_EQ(retry.nonce(), "nonce-2");
  EXPECT_TRUE(server.authenticated(retry));
  c.handle_input(now, server.allocate_ok(retry));
  EXPECT_EQ(c.state(), TurnState::allocated);
}

TEST_F(TurnClientTest, StaleNonceRetriesAreBounded) {
  TurnClientConfig cfg = config();
  cfg.max_stale_nonce_retries = 2;
  TurnClient c(cfg, rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  for (int i = 0; i < 2; ++i) {
    server.nonce = "nonce-loop-" + std::to_string(i);
    c.handle_input(now, server.challenge(take(c), stun::error::kStaleNonce));
    ASSERT_EQ(c.state(), TurnState::allocating) << i;
  }
  c.handle_input(now, server.challenge(take(c), stun::error::kStaleNonce));
  EXPECT_FALSE(c.poll_transmit().has_value());
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::stale_nonce_loop);
  EXPECT_EQ(c.state(), TurnState::failed);
}

TEST_F(TurnClientTest, AllocationMismatchIsAClearError) {
  TurnClient c(config(), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  c.handle_input(now,
                 server.error(take(c), stun::error::kAllocationMismatch, "Allocation Mismatch"));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  const auto& err = std::get<event::TurnError>(ev[0]);
  EXPECT_EQ(err.kind, TurnErrorKind::allocation_mismatch);
  EXPECT_EQ(err.stun_code, 437);
  EXPECT_NE(err.reason.find("new local port"), std::string::npos) << err.reason;
  EXPECT_NE(err.reason.find("Allocation Mismatch"), std::string::npos) << err.reason;
  EXPECT_EQ(c.state(), TurnState::failed);
  // A new attempt is allowed (from a new local port, which is the runtime's business).
  EXPECT_TRUE(c.allocate(now).ok());
}

TEST_F(TurnClientTest, QuotaReachedIsRetriedWithBackoffThenFails) {
  TurnClientConfig cfg = config();
  cfg.max_quota_retries = 2;
  cfg.quota_backoff = {seconds(5), seconds(60), 0.0};
  TurnClient c(cfg, rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  Duration expected_wait = seconds(5);
  for (int i = 0; i < 2; ++i) {
    c.handle_input(now, server.error(take(c), stun::error::kAllocationQuotaReached, "Quota"));
    auto ev = events(c);
    ASSERT_EQ(ev.size(), 1u);
    const auto& err = std::get<event::TurnError>(ev[0]);
    EXPECT_EQ(err.kind, TurnErrorKind::quota_reached);
    EXPECT_FALSE(err.fatal);
    EXPECT_EQ(c.state(), TurnState::allocating);
    ASSERT_EQ(c.next_timeout(), now + expected_wait);
    // Nothing before the backoff ends.
    c.handle_timeout(now + expected_wait - milliseconds(1));
    EXPECT_FALSE(c.poll_transmit().has_value());
    now += expected_wait;
    c.handle_timeout(now);
    expected_wait *= 2;
  }
  c.handle_input(now, server.error(take(c), stun::error::kAllocationQuotaReached, "Quota"));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::get<event::TurnError>(ev[0]).fatal);
  EXPECT_EQ(c.state(), TurnState::failed);
}

TEST_F(TurnClientTest, RefreshesAMinuteBeforeExpiryAndAtThreeQuartersOfShortLifetimes) {
  TurnClient c(config(), rng);
  allocate(c, 600);
  const Instant allocated_at = now;
  // Nothing is sent before lifetime - 60 s.
  auto sent = run_until(c, allocated_at + seconds(540) - milliseconds(1));
  EXPECT_TRUE(sent.empty());
  sent = run_until(c, allocated_at + seconds(540));
  ASSERT_EQ(sent.size(), 1u);
  auto refresh = Message::parse(sent[0].second);
  ASSERT_TRUE(refresh.ok());
  EXPECT_EQ(refresh->method(), Method::refresh);
  EXPECT_EQ(refresh->lifetime(), 600u);
  EXPECT_TRUE(server.authenticated(*refresh));
  // The server grants 120 s: the next refresh comes at 90 s (3/4), before the 60 s margin.
  c.handle_input(now, server.refresh_ok(*refresh, 120));
  EXPECT_EQ(c.stats().refreshes, 1u);
  EXPECT_EQ(c.allocation_expires(), now + seconds(120));
  EXPECT_EQ(c.next_timeout(), now + seconds(90));
}

TEST_F(TurnClientTest, StaleNonceOnRefreshKeepsTheAllocation) {
  TurnClient c(config(), rng);
  allocate(c);
  auto sent = run_until(c, now + seconds(540));
  ASSERT_EQ(sent.size(), 1u);
  auto refresh = Message::parse(sent[0].second);
  ASSERT_TRUE(refresh.ok());
  server.nonce = "nonce-after-expiry";
  c.handle_input(now, server.challenge(*refresh, stun::error::kStaleNonce));
  Message retry = take(c);
  EXPECT_EQ(retry.method(), Method::refresh);
  EXPECT_TRUE(server.authenticated(retry));
  c.handle_input(now, server.refresh_ok(retry, 600));
  EXPECT_EQ(c.state(), TurnState::allocated);
  EXPECT_TRUE(events(c).empty());
}

TEST_F(TurnClientTest, AllocationExpiresWhenRefreshesGoUnanswered) {
  TurnClient c(config(), rng);
  allocate(c, 600);
  const Instant expiry = now + seconds(600);
  auto sent = run_until(c, expiry - milliseconds(1));
  EXPECT_GE(sent.size(), 8u);  // a refresh and its retransmissions, then another
  EXPECT_EQ(c.state(), TurnState::allocated);
  EXPECT_TRUE(events(c).empty());
  (void)run_until(c, expiry);
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::allocation_expired);
  EXPECT_EQ(c.state(), TurnState::failed);
  EXPECT_FALSE(c.next_timeout().has_value());
}

TEST_F(TurnClientTest, RetransmitsOverUdpWithDoublingRtoThenTimesOut) {
  TurnClient c(config(), rng);
  const Instant start = now;
  ASSERT_TRUE(c.allocate(now).ok());
  std::vector<Instant> times{now};
  (void)take(c);
  auto sent = run_until(c, start + seconds(60));
  for (auto& [t, b] : sent)
    times.push_back(t);
  // RFC 8489 section 6.2.1: 0, 500, 1500, 3500, 7500, 15500, 31500 ms; fail at 39500 ms.
  std::vector<int64_t> expected_ms{0, 500, 1500, 3500, 7500, 15500, 31500};
  ASSERT_EQ(times.size(), expected_ms.size());
  for (size_t i = 0; i < times.size(); ++i)
    EXPECT_EQ((times[i] - start).count(), expected_ms[i] * 1000) << i;
  EXPECT_EQ(c.stats().retransmissions, 6u);
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::timeout);
}

TEST_F(TurnClientTest, SendsOnceOverTcpAndTimesOutAfter39500Ms) {
  TurnClient c(config(TurnTransport::tcp), rng);
  const Instant start = now;
  ASSERT_TRUE(c.allocate(now).ok());
  (void)take(c);
  EXPECT_EQ(c.next_timeout(), start + milliseconds(39500));
  auto sent = run_until(c, start + milliseconds(39499));
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(c.state(), TurnState::allocating);
  (void)run_until(c, start + milliseconds(39500));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::timeout);
}

TEST_F(TurnClientTest, IgnoresSuccessResponsesWithoutValidIntegrity) {
  TurnClient c(config(), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  Message authed = take(c);
  // A response keyed with another password, and one with no MESSAGE-INTEGRITY at all.
  ScriptedServer forger = server;
  forger.password = "guess";
  c.handle_input(now, forger.allocate_ok(authed));
  c.handle_input(now, std::move(MessageBuilder::response_to(authed, Class::success_response)
                                    .add_xor_relayed_address(kRelayed))
                          .finish(true));
  EXPECT_EQ(c.state(), TurnState::allocating);
  EXPECT_EQ(c.stats().dropped_inputs, 2u);
  c.handle_input(now, server.allocate_ok(authed));
  EXPECT_EQ(c.state(), TurnState::allocated);
}

TEST_F(TurnClientTest, PermissionsAreCreatedAndRefreshedEveryFourMinutes) {
  TurnClient c(config(), rng);
  allocate(c);
  ASSERT_TRUE(c.create_permission(now, kPeer.ip()).ok());
  Message req = take(c);
  EXPECT_EQ(req.method(), Method::create_permission);
  ASSERT_EQ(req.xor_peer_addresses().size(), 1u);
  EXPECT_EQ(req.xor_peer_addresses()[0].ip(), kPeer.ip());
  EXPECT_TRUE(server.authenticated(req));
  EXPECT_FALSE(c.has_permission(kPeer.ip()));
  c.handle_input(now, server.ok(req));
  EXPECT_TRUE(c.has_permission(kPeer.ip()));
  const Instant granted = now;
  EXPECT_TRUE(run_until(c, granted + seconds(240) - milliseconds(1)).empty());
  auto sent = run_until(c, granted + seconds(240));
  ASSERT_EQ(sent.size(), 1u);
  auto again = Message::parse(sent[0].second);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->method(), Method::create_permission);
  EXPECT_EQ(again->xor_peer_addresses()[0].ip(), kPeer.ip());
}

TEST_F(TurnClientTest, ChannelsAreBoundAndRefreshedEveryNineMinutes) {
  TurnClientConfig cfg = config();
  TurnClient c(cfg, rng);
  allocate(c, 3600);
  ASSERT_TRUE(c.bind_channel(now, kPeer).ok());
  Message req = take(c);
  EXPECT_EQ(req.method(), Method::channel_bind);
  EXPECT_EQ(req.channel_number(), 0x4000);
  ASSERT_EQ(req.xor_peer_addresses().size(), 1u);
  EXPECT_EQ(req.xor_peer_addresses()[0], kPeer);
  c.handle_input(now, server.ok(req));
  EXPECT_EQ(c.channel_for(kPeer), 0x4000);
  // RFC 8656 section 11.2: the binding installed the permission too.
  EXPECT_TRUE(c.has_permission(kPeer.ip()));
  const Instant bound = now;
  // Permission refreshes at 4 and 8 minutes, the channel at 9; each answered when sent.
  std::vector<std::pair<Method, int64_t>> seen;
  std::vector<Bytes> sent;
  for (int64_t at : {240, 480, 540}) {
    for (auto& [t, b] : run_until(c, bound + seconds(at))) {
      auto m = Message::parse(b);
      ASSERT_TRUE(m.ok());
      seen.emplace_back(m->method(), std::chrono::duration_cast<seconds>(t - bound).count());
      c.handle_input(now, server.ok(*m));
      sent.push_back(b);
    }
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(Method::create_permission, int64_t{240}));
  EXPECT_EQ(seen[1], std::make_pair(Method::create_permission, int64_t{480}));
  EXPECT_EQ(seen[2], std::make_pair(Method::channel_bind, int64_t{540}));
  auto rebind = Message::parse(sent[2]);
  EXPECT_EQ(rebind->channel_number(), 0x4000);
  EXPECT_EQ(c.channel_for(kPeer), 0x4000);
}

TEST_F(TurnClientTest, DataWaitsForThePermissionThenGoesAsSendIndicationThenChannelData) {
  TurnClient c(config(), rng);
  allocate(c);
  const Bytes hello{'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(c.send_to(now, kPeer, hello).ok());
  // CreatePermission and ChannelBind go out; the data waits.
  std::vector<Message> reqs;
  while (auto b = c.poll_transmit()) {
    auto m = Message::parse(*b);
    ASSERT_TRUE(m.ok());
    reqs.push_back(*m);
  }
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method(), Method::create_permission);
  EXPECT_EQ(reqs[1].method(), Method::channel_bind);
  c.handle_input(now, server.ok(reqs[0]));
  Message send = take(c);
  EXPECT_EQ(send.method(), Method::send);
  EXPECT_EQ(send.cls(), Class::indication);
  ASSERT_EQ(send.xor_peer_addresses().size(), 1u);
  EXPECT_EQ(send.xor_peer_addresses()[0], kPeer);
  ASSERT_TRUE(send.data().has_value());
  EXPECT_EQ(Bytes(send.data()->begin(), send.data()->end()), hello);

  c.handle_input(now, server.ok(reqs[1]));
  ASSERT_TRUE(c.send_to(now, kPeer, hello).ok());
  auto out = c.poll_transmit();
  ASSERT_TRUE(out.has_value());
  // Over UDP ChannelData goes without padding: 4 + 5 bytes.
  EXPECT_EQ(out->size(), 9u);
  auto cd = stun::parse_channel_data(*out);
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(cd->channel, 0x4000);
  EXPECT_EQ(c.stats().send_indications, 1u);
  EXPECT_EQ(c.stats().channel_data_sent, 1u);
}

TEST_F(TurnClientTest, PendingDataIsBounded) {
  TurnClientConfig cfg = config();
  cfg.max_pending_per_peer = 2;
  cfg.use_channels = false;
  TurnClient c(cfg, rng);
  allocate(c);
  const Bytes d{1, 2, 3};
  EXPECT_TRUE(c.send_to(now, kPeer, d).ok());
  EXPECT_TRUE(c.send_to(now, kPeer, d).ok());
  auto third = c.send_to(now, kPeer, d);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, Errc::limit_exceeded);
}

TEST_F(TurnClientTest, DeliversDataIndicationsAndChannelDataAsPeerData) {
  TurnClient c(config(), rng);
  allocate(c);
  ASSERT_TRUE(c.bind_channel(now, kPeer2).ok());
  c.handle_input(now, server.ok(take(c)));

  auto data = std::move(MessageBuilder(Method::data, Class::indication, stun::TransactionId{})
                            .add_xor_peer_address(kPeer)
                            .add_data(Bytes{9, 8, 7}))
                  .finish(true);
  c.handle_input(now, data);
  c.handle_input(now, stun::encode_channel_data(0x4000, Bytes{1, 2}, true));
  // A channel nobody bound is dropped.
  c.handle_input(now, stun::encode_channel_data(0x4001, Bytes{3}, false));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 2u);
  const auto& a = std::get<event::PeerData>(ev[0]);
  EXPECT_EQ(a.peer, kPeer);
  EXPECT_EQ(a.data, (Bytes{9, 8, 7}));
  const auto& b = std::get<event::PeerData>(ev[1]);
  EXPECT_EQ(b.peer, kPeer2);
  EXPECT_EQ(b.data, (Bytes{1, 2}));
  EXPECT_EQ(c.stats().dropped_inputs, 1u);
}

TEST_F(TurnClientTest, CloseSendsRefreshWithLifetimeZero) {
  TurnClient c(config(), rng);
  allocate(c);
  c.close(now);
  EXPECT_EQ(c.state(), TurnState::closing);
  Message req = take(c);
  EXPECT_EQ(req.method(), Method::refresh);
  EXPECT_EQ(req.lifetime(), 0u);
  EXPECT_TRUE(server.authenticated(req));
  c.handle_input(now, server.refresh_ok(req, 0));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<event::Closed>(ev[0]));
  EXPECT_EQ(c.state(), TurnState::idle);
  EXPECT_FALSE(c.next_timeout().has_value());
}

TEST_F(TurnClientTest, CloseEndsEvenWhenTheServerDoesNotAnswer) {
  TurnClient c(config(), rng);
  allocate(c);
  c.close(now);
  (void)take(c);
  (void)run_until(c, now + seconds(40));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<event::Closed>(ev[0]));
  EXPECT_EQ(c.state(), TurnState::idle);
}

TEST_F(TurnClientTest, ReplacedCredentialsServeTheNextAllocation) {
  TurnClient c(config(), rng);
  allocate(c);
  c.close(now);
  c.handle_input(now, server.refresh_ok(take(c), 0));
  server.username = "1800000000:cam1";
  server.password = "new-password";
  c.set_credentials({server.username, server.password});
  ASSERT_TRUE(c.allocate(now).ok());
  // The realm and nonce are known: the first Allocate is authenticated with the new key.
  Message req = take(c);
  EXPECT_TRUE(server.authenticated(req));
  c.handle_input(now, server.allocate_ok(req));
  EXPECT_EQ(c.state(), TurnState::allocated);
}

TEST_F(TurnClientTest, ExpiredCredentialsEndTheAllocationAtRefresh) {
  TurnClient c(config(), rng);
  allocate(c);
  auto sent = run_until(c, now + seconds(540));
  ASSERT_EQ(sent.size(), 1u);
  auto refresh = Message::parse(sent[0].second);
  // An authenticated request answered with 401: the REST credentials are no longer valid.
  c.handle_input(now, server.challenge(*refresh));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::unauthorized);
  EXPECT_EQ(c.state(), TurnState::failed);
}

TEST_F(TurnClientTest, ReadsResponsesSplitAndMergedOnAStream) {
  TurnClient c(config(TurnTransport::tcp), rng);
  ASSERT_TRUE(c.allocate(now).ok());
  c.handle_input(now, server.challenge(take(c)));
  Message req = take(c);
  Bytes ok = server.allocate_ok(req);
  // One byte at a time.
  for (uint8_t b : ok)
    c.handle_input(now, ByteView(&b, 1));
  EXPECT_EQ(c.state(), TurnState::allocated);
  ASSERT_TRUE(c.bind_channel(now, kPeer).ok());
  Message bind = take(c);
  // The response and a ChannelData (padded, RFC 8656 section 12.5) in one read.
  Bytes merged = server.ok(bind);
  Bytes cd = stun::encode_channel_data(0x4000, Bytes{1, 2, 3, 4, 5}, true);
  merged.insert(merged.end(), cd.begin(), cd.end());
  (void)events(c);
  c.handle_input(now, merged);
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::PeerData>(ev[0]).data, (Bytes{1, 2, 3, 4, 5}));
  // Sending pads ChannelData on a stream.
  ASSERT_TRUE(c.send_to(now, kPeer, Bytes{1, 2, 3, 4, 5}).ok());
  auto out = c.poll_transmit();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->size(), 12u);
}

TEST_F(TurnClientTest, GarbageOnTheStreamFailsTheAllocation) {
  TurnClient c(config(TurnTransport::tls), rng);
  allocate(c);
  c.handle_input(now, Bytes{0xFF, 0x00, 0x00, 0x00});
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::stream);
  EXPECT_EQ(c.state(), TurnState::failed);
  EXPECT_FALSE(c.allocate(now).ok());
}

TEST_F(TurnClientTest, TheAllocationEndsWithItsTcpConnection) {
  TurnClient c(config(TurnTransport::tcp), rng);
  allocate(c);
  c.handle_connection_closed(now);
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<event::TurnError>(ev[0]).kind, TurnErrorKind::stream);
  EXPECT_EQ(c.state(), TurnState::failed);
  EXPECT_FALSE(c.next_timeout().has_value());

  TurnClient closing(config(TurnTransport::tls), rng);
  allocate(closing);
  closing.close(now);
  (void)take(closing);
  closing.handle_connection_closed(now);
  ev = events(closing);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<event::Closed>(ev[0]));
}

TEST_F(TurnClientTest, ARefusedPermissionLeavesTheAllocationInPlace) {
  TurnClient c(config(), rng);
  allocate(c);
  ASSERT_TRUE(c.create_permission(now, kPeer.ip()).ok());
  c.handle_input(now, server.error(take(c), stun::error::kForbidden, "Forbidden IP"));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  const auto& err = std::get<event::TurnError>(ev[0]);
  EXPECT_EQ(err.kind, TurnErrorKind::permission_failed);
  EXPECT_EQ(err.stun_code, 403);
  EXPECT_FALSE(err.fatal);
  EXPECT_EQ(err.peer, kPeer.ip());
  EXPECT_FALSE(c.has_permission(kPeer.ip()));
  EXPECT_EQ(c.state(), TurnState::allocated);
  // It can be asked for again.
  ASSERT_TRUE(c.create_permission(now, kPeer.ip()).ok());
  c.handle_input(now, server.ok(take(c)));
  EXPECT_TRUE(c.has_permission(kPeer.ip()));
}

TEST_F(TurnClientTest, A437ToRefreshMeansTheAllocationIsGone) {
  TurnClient c(config(), rng);
  allocate(c);
  auto sent = run_until(c, now + seconds(540));
  ASSERT_EQ(sent.size(), 1u);
  auto refresh = Message::parse(sent[0].second);
  ASSERT_TRUE(refresh.ok());
  c.handle_input(now, server.error(*refresh, stun::error::kAllocationMismatch, "Mismatch"));
  auto ev = events(c);
  ASSERT_EQ(ev.size(), 1u);
  const auto& err = std::get<event::TurnError>(ev[0]);
  EXPECT_EQ(err.kind, TurnErrorKind::allocation_mismatch);
  EXPECT_NE(err.reason.find("no longer exists"), std::string::npos) << err.reason;
  EXPECT_EQ(c.state(), TurnState::failed);
}

TEST_F(TurnClientTest, ApiMisuseIsRefused) {
  TurnClient c(config(), rng);
  EXPECT_EQ(c.send_to(now, kPeer, Bytes{1}).error().code, Errc::invalid_state);
  EXPECT_EQ(c.create_permission(now, kPeer.ip()).error().code, Errc::invalid_state);
  ASSERT_TRUE(c.allocate(now).ok());
  EXPECT_EQ(c.allocate(now).error().code, Errc::invalid_state);
  TurnClientConfig anonymous = config();
  anonymous.credentials = {};
  TurnClient d(anonymous, rng);
  EXPECT_EQ(d.allocate(now).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace cellrtc::turn
