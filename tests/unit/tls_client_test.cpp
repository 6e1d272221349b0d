// tls::TlsClient without a server: configuration checks, the ClientHello with SNI, bounds, and
// what garbage from the server does. Handshakes with a real server (coturn) are in
// tests/interop/turn_interop_test.cpp.
#include "core/tls/tls_client.h"

#include <gtest/gtest.h>

#include "core/dtls/certificate.h"

namespace cellrtc::tls {
namespace {

class TlsClientTest : public ::testing::Test {
 protected:
  TlsClientConfig config() {
    TlsClientConfig c;
    SeededRandom cert_rng(3);
    auto cert = dtls::Certificate::generate(cert_rng, "turn.example.net");
    EXPECT_TRUE(cert.ok());
    if (cert) c.ca_pem = cert->cert_pem();
    c.server_name = "turn.example.net";
    return c;
  }
  Bytes drain(TlsClient& t) {
    Bytes out;
    while (auto b = t.poll_transmit())
      out.insert(out.end(), b->begin(), b->end());
    return out;
  }
  SeededRandom rng{11};
  Instant now = Instant::from_us(0);
};

TEST_F(TlsClientTest, SendsAClientHelloNamingTheServer) {
  TlsClient t(config(), rng);
  ASSERT_TRUE(t.start(now).ok());
  EXPECT_EQ(t.state(), TlsState::handshaking);
  Bytes hello = drain(t);
  ASSERT_GT(hello.size(), 50u);
  // RFC 5246 section 6.2.1: a handshake record (22), version 3.x; section 7.4.1.2: ClientHello.
  EXPECT_EQ(hello[0], 22);
  EXPECT_EQ(hello[1], 3);
  EXPECT_EQ(hello[5], 1);
  // RFC 6066 section 3: the server_name extension carries the host name.
  const std::string name = "turn.example.net";
  EXPECT_NE(std::search(hello.begin(), hello.end(), name.begin(), name.end()), hello.end());
}

TEST_F(TlsClientTest, RefusesAConfigurationItCannotVerifyWith) {
  TlsClientConfig no_name = config();
  no_name.server_name.clear();
  TlsClient a(no_name, rng);
  EXPECT_EQ(a.start(now).error().code, Errc::invalid_argument);

  TlsClientConfig no_ca = config();
  no_ca.ca_pem.clear();
  TlsClient b(no_ca, rng);
  EXPECT_EQ(b.start(now).error().code, Errc::invalid_argument);

  TlsClientConfig bad_ca = config();
  bad_ca.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  TlsClient c(bad_ca, rng);
  EXPECT_EQ(c.start(now).error().code, Errc::invalid_argument);

  TlsClient d(config(), rng);
  ASSERT_TRUE(d.start(now).ok());
  EXPECT_EQ(d.start(now).error().code, Errc::invalid_state);
}

TEST_F(TlsClientTest, FailsOnBytesThatAreNotTls) {
  TlsClient t(config(), rng);
  ASSERT_TRUE(t.start(now).ok());
  (void)drain(t);
  const std::string http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  t.handle_input(now, as_bytes(http));
  EXPECT_EQ(t.state(), TlsState::failed);
  auto e = t.poll_event();
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(std::holds_alternative<event::Failed>(*e));
  EXPECT_NE(std::get<event::Failed>(*e).tls_error, 0);
  EXPECT_EQ(t.write(as_bytes("x")).error().code, Errc::invalid_state);
}

TEST_F(TlsClientTest, BoundsDataWaitingForTheHandshakeAndInput) {
  TlsClientConfig c = config();
  c.max_pending_plaintext = 10;
  c.max_buffered_input = 100;
  TlsClient t(c, rng);
  ASSERT_TRUE(t.start(now).ok());
  EXPECT_TRUE(t.write(Bytes(10, 1)).ok());
  EXPECT_EQ(t.write(Bytes(1, 1)).error().code, Errc::limit_exceeded);
  // A record header announcing 16 KB, then more than the input bound of bytes.
  Bytes record{22, 3, 3, 0x40, 0x00};
  record.resize(200, 0);
  t.handle_input(now, record);
  EXPECT_EQ(t.state(), TlsState::failed);
}

TEST_F(TlsClientTest, CloseEndsWithoutEvents) {
  TlsClient t(config(), rng);
  ASSERT_TRUE(t.start(now).ok());
  (void)drain(t);
  t.close(now);
  EXPECT_EQ(t.state(), TlsState::closed);
  EXPECT_FALSE(t.poll_event().has_value());
}

}  // namespace
}  // namespace cellrtc::tls
