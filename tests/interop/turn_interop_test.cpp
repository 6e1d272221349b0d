// The core's TurnClient against a real coturn (Debian's turnserver, --use-auth-secret) on
// 127.0.0.1: allocation over UDP and TCP, data both ways between the relay and a peer socket
// (Send indication first, then ChannelData), deallocation, and the TURN REST credentials
// cellrtc-server issues: valid ones allocate, expired ones are refused.
//
// A small blocking driver moves bytes between the sans-IO client and a socket; every wait is
// bounded by a deadline, every loop by a count.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/turn/turn_client.h"
#include "interop/coturn.h"
#include "interop/turn_driver.h"
#include "server/turn_credentials.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using turn::TurnClient;
using turn::TurnClientConfig;
using turn::TurnEvent;
using turn::TurnState;
using turn::TurnTransport;

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Allocates, exchanges datagrams with a peer socket through the relay (before and after the
// channel binding), and closes.
void allocate_and_relay(TurnDriver& driver, TurnClient& client) {
  ASSERT_TRUE(client.allocate(driver.now()).ok());
  auto allocated = driver.wait_for<turn::event::Allocated>(10s);
  ASSERT_TRUE(allocated) << driver.describe();
  EXPECT_EQ(allocated->relayed.ip(), IpAddress::loopback_v4());
  EXPECT_NE(allocated->relayed.port(), 0);
  EXPECT_GT(allocated->lifetime_s, 0u);

  PeerSocket peer;
  ASSERT_TRUE(peer.open()) << "peer socket";
  // Three rounds: the first goes as a Send indication while the channel is being bound, later
  // ones as ChannelData; each round is answered by the peer and must come back as PeerData.
  for (int round = 0; round < 3; ++round) {
    const std::string ping = "ping-" + std::to_string(round);
    ASSERT_TRUE(client.send_to(driver.now(), peer.address(), as_bytes(ping)).ok());
    // Let the client's permission / channel requests and the data out.
    std::optional<std::pair<SocketAddress, std::string>> got;
    for (int i = 0; i < 100 && !got; ++i) {
      driver.pump(50ms);
      got = peer.receive(0ms);
    }
    ASSERT_TRUE(got) << "the peer got nothing in round " << round << "\n" << driver.describe();
    EXPECT_EQ(got->first, allocated->relayed);
    EXPECT_EQ(got->second, ping);

    const std::string pong = "pong-" + std::to_string(round);
    ASSERT_TRUE(peer.send(allocated->relayed, pong));
    auto data = driver.wait_for<turn::event::PeerData>(10s);
    ASSERT_TRUE(data) << "no data from the peer in round " << round << "\n" << driver.describe();
    EXPECT_EQ(data->peer, peer.address());
    EXPECT_EQ(std::string(as_chars(data->data)), pong);
    // Wait for the channel binding before the next round, so that round 2 is ChannelData.
    for (int i = 0; i < 100 && !client.channel_for(peer.address()); ++i)
      driver.pump(20ms);
  }
  EXPECT_TRUE(client.channel_for(peer.address()).has_value());
  EXPECT_GE(client.stats().send_indications, 1u);
  EXPECT_GE(client.stats().channel_data_sent, 1u);
  EXPECT_GE(client.stats().channel_data_received + client.stats().data_indications, 3u);

  client.close(driver.now());
  EXPECT_TRUE(driver.wait_for<turn::event::Closed>(10s)) << driver.describe();
  EXPECT_EQ(client.state(), TurnState::idle);
}

class TurnInterop : public ::testing::TestWithParam<TurnTransport> {
 protected:
  void SetUp() override {
    std::string error;
    CoturnOptions options;
    options.allow_loopback_peers = true;
    if (GetParam() == TurnTransport::tls) {
      auto tls = make_test_tls_identity("localhost");
      ASSERT_TRUE(tls) << "cannot make a TLS certificate";
      identity_ = *tls;
      options.tls_cert_pem = identity_.cert_pem;
      options.tls_key_pem = identity_.key_pem;
    }
    coturn_ = CoturnServer::start(options, &error);
    ASSERT_TRUE(coturn_) << error;
  }

  TurnClientConfig client_config(std::string username, std::string password) {
    TurnClientConfig c;
    c.transport = GetParam();
    c.credentials = {std::move(username), std::move(password)};
    return c;
  }

  std::unique_ptr<TurnDriver> driver(TurnClient& client) {
    TurnDriverOptions o;
    o.transport = GetParam();
    o.server = GetParam() == TurnTransport::tls ? coturn_->tls_address() : coturn_->address();
    o.ca_pem = identity_.cert_pem;
    o.server_name = "localhost";
    std::string error;
    auto d = TurnDriver::connect(o, client, &error);
    EXPECT_TRUE(d) << error;
    return d;
  }

  std::unique_ptr<CoturnServer> coturn_;
  TestTlsIdentity identity_;
  SeededRandom rng_{42};
};

TEST_P(TurnInterop, AllocatesAndRelaysDataBothWays) {
  auto [username, password] = coturn_->rest_credentials("turn-interop");
  TurnClient client(client_config(username, password), rng_);
  auto d = driver(client);
  ASSERT_TRUE(d);
  allocate_and_relay(*d, client);
  if (GetParam() == TurnTransport::tls) {
    ASSERT_TRUE(d->tls_connected()) << d->describe();
    EXPECT_FALSE(d->tls_connected()->cipher_suite.empty());
  }
}

TEST_P(TurnInterop, TheServersRestCredentialsWorkAndExpiredOnesAreRefused) {
  // Issued the way cellrtc-server issues them (server/turn_credentials.h).
  auto valid =
      server::turn_rest_credentials(coturn_->static_auth_secret(), unix_now_s() + 600, "cam1", {});
  {
    TurnClient client(client_config(valid.username, valid.credential), rng_);
    auto d = driver(client);
    ASSERT_TRUE(d);
    ASSERT_TRUE(client.allocate(d->now()).ok());
    auto allocated = d->wait_for<turn::event::Allocated>(10s);
    ASSERT_TRUE(allocated) << d->describe() << coturn_->log_tail();
    client.close(d->now());
    EXPECT_TRUE(d->wait_for<turn::event::Closed>(10s));
  }
  auto expired =
      server::turn_rest_credentials(coturn_->static_auth_secret(), unix_now_s() - 60, "cam1", {});
  {
    TurnClient client(client_config(expired.username, expired.credential), rng_);
    auto d = driver(client);
    ASSERT_TRUE(d);
    ASSERT_TRUE(client.allocate(d->now()).ok());
    auto error = d->wait_for<turn::event::TurnError>(10s);
    ASSERT_TRUE(error) << d->describe();
    EXPECT_EQ(error->kind, turn::TurnErrorKind::unauthorized) << error->reason;
    EXPECT_EQ(error->stun_code, 401);
    EXPECT_EQ(client.state(), TurnState::failed);
  }
}

// turns: with a certificate the client must refuse: signed by another CA, or naming another
// host. The allocation never starts (the TLS handshake fails before any TURN byte is sent).
class TurnInteropTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tls = make_test_tls_identity("localhost");
    ASSERT_TRUE(tls);
    identity_ = *tls;
    CoturnOptions options;
    options.tls_cert_pem = identity_.cert_pem;
    options.tls_key_pem = identity_.key_pem;
    std::string error;
    coturn_ = CoturnServer::start(options, &error);
    ASSERT_TRUE(coturn_) << error;
  }

  // Connects over TLS with this CA and name and tries to allocate; returns the TLS failure.
  std::optional<tls::event::Failed> try_tls(const std::string& ca_pem, const std::string& name,
                                            std::optional<int64_t> now_unix_s = std::nullopt) {
    auto [username, password] = coturn_->rest_credentials("tls-check");
    TurnClientConfig c;
    c.transport = TurnTransport::tls;
    c.credentials = {username, password};
    TurnClient client(c, rng_);
    TurnDriverOptions o;
    o.transport = TurnTransport::tls;
    o.server = coturn_->tls_address();
    o.ca_pem = ca_pem;
    o.server_name = name;
    o.tls_now_unix_s = now_unix_s;
    std::string error;
    auto d = TurnDriver::connect(o, client, &error);
    EXPECT_TRUE(d) << error;
    if (!d) return std::nullopt;
    EXPECT_TRUE(client.allocate(d->now()).ok());
    for (int i = 0; i < 200 && !d->tls_failure() && !d->tls_connected(); ++i)
      d->pump(std::chrono::milliseconds(20));
    EXPECT_FALSE(d->tls_connected()) << d->describe();
    // The failed connection ends the allocation attempt with a stream error.
    auto ended = d->wait_for<turn::event::TurnError>(std::chrono::milliseconds(1000));
    EXPECT_TRUE(ended && ended->kind == turn::TurnErrorKind::stream) << d->describe();
    EXPECT_EQ(client.state(), TurnState::failed);
    return d->tls_failure();
  }

  std::unique_ptr<CoturnServer> coturn_;
  TestTlsIdentity identity_;
  SeededRandom rng_{43};
};

TEST_F(TurnInteropTls, RefusesACertificateFromAnotherCa) {
  auto other = make_test_tls_identity("localhost", 6);
  ASSERT_TRUE(other);
  auto failure = try_tls(other->cert_pem, "localhost");
  ASSERT_TRUE(failure);
  EXPECT_NE(std::string(failure->reason).find("configured CA"), std::string::npos)
      << failure->reason;
}

TEST_F(TurnInteropTls, RefusesACertificateForAnotherName) {
  auto failure = try_tls(identity_.cert_pem, "turn.example.net");
  ASSERT_TRUE(failure);
  EXPECT_NE(std::string(failure->reason).find("does not name"), std::string::npos)
      << failure->reason;
}

TEST_F(TurnInteropTls, RefusesACertificateOutsideItsValidity) {
  // The test certificate is valid from 2025-01-01 to 2100-01-01 (dtls::CertificateValidity).
  for (int64_t when :
       {int64_t{1704067200} /* 2024-01-01 */, int64_t{4102531200} /* 2100-01-02 */}) {
    auto failure = try_tls(identity_.cert_pem, "localhost", when);
    ASSERT_TRUE(failure) << when;
    EXPECT_NE(std::string(failure->reason).find("validity"), std::string::npos)
        << when << ": " << failure->reason;
  }
}

// TURN REST credentials that expire while the allocation lives (cellrtc-server issues them for
// `turn.ttl`, an hour by default, and a camera streams for days). What coturn does: requests on
// the allocation go on being accepted after the expiry, even after a stale nonce (438) made the
// client authenticate again; the allocation keeps the username it was made with (a request
// with another one is refused with 441, RFC 8656 section 5), so the client never swaps it.
TEST(TurnInteropCredentials, AnAllocationOutlivesItsRestCredentials) {
  CoturnOptions options;
  options.allow_loopback_peers = true;
  options.stale_nonce_s = 1;  // every request after the expiry meets a new nonce first
  std::string error;
  auto coturn = CoturnServer::start(options, &error);
  ASSERT_TRUE(coturn) << error;
  const int64_t expiry = unix_now_s() + 2;
  auto credentials =
      server::turn_rest_credentials(coturn->static_auth_secret(), expiry, "cam1", {});
  SeededRandom rng(5);
  TurnClientConfig config;
  config.credentials = {credentials.username, credentials.credential};
  TurnClient client(config, rng);
  TurnDriverOptions o;
  o.server = coturn->address();
  auto d = TurnDriver::connect(o, client, &error);
  ASSERT_TRUE(d) << error;
  ASSERT_TRUE(client.allocate(d->now()).ok());
  auto allocated = d->wait_for<turn::event::Allocated>(10s);
  ASSERT_TRUE(allocated) << d->describe();

  // Past the expiry (whole seconds: wait until the clock is beyond it), then new requests on
  // the allocation: CreatePermission and ChannelBind, and data through the relay both ways.
  for (int i = 0; i < 300 && unix_now_s() <= expiry; ++i)
    d->pump(20ms);
  ASSERT_GT(unix_now_s(), expiry);
  PeerSocket peer;
  ASSERT_TRUE(peer.open());
  ASSERT_TRUE(client.send_to(d->now(), peer.address(), as_bytes(std::string("late"))).ok());
  std::optional<std::pair<SocketAddress, std::string>> got;
  for (int i = 0; i < 100 && !got; ++i) {
    d->pump(50ms);
    got = peer.receive(0ms);
  }
  ASSERT_TRUE(got) << d->describe() << coturn->log_tail();
  EXPECT_EQ(got->second, "late");
  ASSERT_TRUE(peer.send(allocated->relayed, "still-here"));
  auto data = d->wait_for<turn::event::PeerData>(10s);
  ASSERT_TRUE(data) << d->describe();
  EXPECT_EQ(std::string(as_chars(data->data)), "still-here");
  for (int i = 0; i < 100 && !client.channel_for(peer.address()); ++i)
    d->pump(20ms);
  EXPECT_TRUE(client.channel_for(peer.address())) << d->describe();
  EXPECT_EQ(client.state(), TurnState::allocated);
  for (const auto& e : d->take_events())
    EXPECT_FALSE(std::holds_alternative<turn::event::TurnError>(e)) << d->describe();

  // A new allocation with the expired credentials is refused.
  TurnClient late(config, rng);
  auto d2 = TurnDriver::connect(o, late, &error);
  ASSERT_TRUE(d2) << error;
  ASSERT_TRUE(late.allocate(d2->now()).ok());
  auto refused = d2->wait_for<turn::event::TurnError>(10s);
  ASSERT_TRUE(refused) << d2->describe();
  EXPECT_EQ(refused->stun_code, 401);
}

INSTANTIATE_TEST_SUITE_P(Transports, TurnInterop,
                         ::testing::Values(TurnTransport::udp, TurnTransport::tcp,
                                           TurnTransport::tls),
                         [](const auto& p) { return std::string(turn::to_string(p.param)); });

}  // namespace
}  // namespace cellrtc::interop
