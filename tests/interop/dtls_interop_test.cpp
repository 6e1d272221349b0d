// Our DTLS transport against OpenSSL's (Debian's `openssl s_server` / `s_client`, 3.0), on
// loopback, through real UDP sockets on the POSIX runtime. OpenSSL makes its own P-256 identity
// (`openssl req`) and reports its fingerprint (`openssl x509 -fingerprint`); we check it the way
// WebRTC does. OpenSSL with a small MTU cuts its ClientHello into fragments, which our server
// must reassemble.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtls/certificate.h"
#include "core/dtls/dtls_transport.h"
#include "interop/child_process.h"
#include "interop/coturn.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/dtls_endpoint.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using dtls::Certificate;
using dtls::DtlsConfig;
using dtls::DtlsRole;
using dtls::DtlsState;
using testing::DtlsEndpoint;

constexpr char kOpenSsl[] = "/usr/bin/openssl";

// A temporary directory, removed with its contents at the end of the test.
struct TempDir {
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "cellrtc-dtls-XXXXXX").string();
    if (::mkdtemp(t.data())) path = t;
  }
  ~TempDir() {
    if (!path.empty()) std::filesystem::remove_all(path);
  }
  std::string file(const char* name) const { return path + "/" + name; }
  std::string path;
};

// Runs a short OpenSSL command to its end; its stdout lines.
std::optional<std::vector<std::string>> run_openssl(const std::vector<std::string>& args,
                                                    std::string* error) {
  auto child = ChildProcess::spawn(
      {.program = kOpenSsl, .args = args, .log_path = interop_log_path("openssl-tools.log")},
      error);
  if (!child) return std::nullopt;
  std::vector<std::string> lines;
  while (auto line = child->read_line(10s))
    lines.push_back(*line);
  auto status = child->wait(10s);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    *error = "openssl " + args[0] + " failed: " + child->log_tail();
    return std::nullopt;
  }
  return lines;
}

// OpenSSL's identity: an ECDSA P-256 key and a self-signed certificate it made, and the SHA-256
// fingerprint it computes for it.
struct OpenSslIdentity {
  std::string cert_path;
  std::string key_path;
  std::string fingerprint;
};

std::optional<OpenSslIdentity> make_openssl_identity(const TempDir& dir, std::string* error) {
  OpenSslIdentity id{dir.file("openssl-cert.pem"), dir.file("openssl-key.pem"), ""};
  if (!run_openssl(
          {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-subj", "/CN=openssl-peer", "-days", "2", "-keyout", id.key_path, "-out", id.cert_path},
          error))
    return std::nullopt;
  auto lines =
      run_openssl({"x509", "-in", id.cert_path, "-noout", "-fingerprint", "-sha256"}, error);
  if (!lines || lines->empty()) return std::nullopt;
  // "sha256 Fingerprint=AB:CD:..." (OpenSSL 3.0) or "SHA256 Fingerprint=..." (1.1).
  auto eq = lines->front().find('=');
  if (eq == std::string::npos) {
    *error = "unexpected fingerprint line: " + lines->front();
    return std::nullopt;
  }
  id.fingerprint = lines->front().substr(eq + 1);
  return id;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}

// Our transport on one 127.0.0.1 socket, driven by an event loop.
struct LoopbackDtls {
  LoopbackDtls(const Certificate& cert, DtlsRole role, std::string remote_fingerprint,
               std::optional<SocketAddress> peer)
      : endpoint(make_config(cert, role, std::move(remote_fingerprint)), rng, SocketAddress(),
                 peer) {
    loop = std::move(runtime::EventLoop::create().value());
    driver = std::make_unique<runtime::EndpointDriver>(*loop, endpoint);
    auto bound = driver->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
    EXPECT_TRUE(bound.ok());
    address = *bound;
    endpoint.set_local(address);
  }
  static DtlsConfig make_config(const Certificate& cert, DtlsRole role, std::string fingerprint) {
    DtlsConfig c;
    c.role = role;
    c.certificate = &cert;
    c.remote_fingerprint = std::move(fingerprint);
    return c;
  }
  void start() {
    EXPECT_TRUE(endpoint.transport.start(loop->now()).ok());
    endpoint.drain(loop->now());
    driver->wake();
  }
  bool run_until(const std::function<bool()>& done, Duration limit) {
    return loop->run_until(done, loop->now() + limit);
  }
  bool connected() const { return endpoint.transport.state() == DtlsState::connected; }
  bool ended() const {
    auto s = endpoint.transport.state();
    return s == DtlsState::failed || s == DtlsState::closed;
  }
  void send(std::string_view text) {
    EXPECT_TRUE(endpoint.transport.send(loop->now(), as_bytes(text)).ok());
    driver->wake();
  }
  std::string received_text() const {
    std::string all;
    for (const Bytes& b : endpoint.received)
      all.append(b.begin(), b.end());
    return all;
  }

  runtime::OsRandom rng;
  DtlsEndpoint endpoint;
  std::unique_ptr<runtime::EventLoop> loop;
  std::unique_ptr<runtime::EndpointDriver> driver;
  SocketAddress address;
};

// Reads the child's stdout until a line equal to `want` (other output is skipped).
bool read_until_line(ChildProcess& child, const std::string& want, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto line = child.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now()));
    if (!line) return false;
    if (*line == want) return true;
  }
  return false;
}

class DtlsInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path.empty());
    std::string error;
    auto id = make_openssl_identity(dir, &error);
    ASSERT_TRUE(id) << error;
    openssl = *id;
    ours = std::make_unique<Certificate>(Certificate::generate(rng, "cellrtc-interop").value());
    ASSERT_TRUE(write_file(dir.file("cellrtc-cert.pem"), ours->cert_pem()));
    // OpenSSL's fingerprint of our certificate equals ours (RFC 8122 form).
    auto lines = run_openssl(
        {"x509", "-in", dir.file("cellrtc-cert.pem"), "-noout", "-fingerprint", "-sha256"}, &error);
    ASSERT_TRUE(lines && !lines->empty()) << error;
    EXPECT_EQ(lines->front().substr(lines->front().find('=') + 1), ours->fingerprint_sha256());
  }

  std::unique_ptr<ChildProcess> start_s_client(const SocketAddress& server,
                                               std::vector<std::string> extra) {
    std::vector<std::string> args = {"s_client", "-dtls1_2",
                                     "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                     "-quiet",   "-no_ign_eof"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    auto child = ChildProcess::spawn(
        {.program = kOpenSsl, .args = args, .log_path = interop_log_path("openssl-s_client.log")},
        &error);
    EXPECT_TRUE(child) << error;
    return child;
  }

  // OpenSSL as the client, us as the server: handshake, a line each way, close_notify from
  // OpenSSL (stdin EOF). Returns our server for further checks.
  std::unique_ptr<LoopbackDtls> openssl_client_to_our_server(std::vector<std::string> extra) {
    auto us =
        std::make_unique<LoopbackDtls>(*ours, DtlsRole::server, openssl.fingerprint, std::nullopt);
    us->start();
    extra.insert(extra.end(), {"-cert", openssl.cert_path, "-key", openssl.key_path});
    auto client = start_s_client(us->address, extra);
    if (!client) return us;
    EXPECT_TRUE(us->run_until([&] { return us->connected() || us->ended(); }, seconds(10)))
        << client->log_tail();
    EXPECT_TRUE(us->connected()) << (us->endpoint.failure ? us->endpoint.failure->reason : "")
                                 << "\n"
                                 << client->log_tail();
    if (!us->connected()) return us;
    EXPECT_EQ(us->endpoint.remote_fingerprint, openssl.fingerprint);

    us->send("hello from cellrtc\n");
    EXPECT_TRUE(read_until_line(*client, "hello from cellrtc", 5s)) << client->log_tail();
    EXPECT_TRUE(client->write_line("hello from openssl"));
    EXPECT_TRUE(us->run_until([&] { return !us->endpoint.received.empty(); }, seconds(5)));
    EXPECT_EQ(us->received_text(), "hello from openssl\n");

    client->close_stdin();  // s_client sends close_notify and exits
    EXPECT_TRUE(us->run_until([&] { return us->endpoint.closed; }, seconds(5)))
        << client->log_tail();
    EXPECT_EQ(us->endpoint.transport.state(), DtlsState::closed);
    return us;
  }

  TempDir dir;
  runtime::OsRandom rng;
  OpenSslIdentity openssl;
  std::unique_ptr<Certificate> ours;
};

TEST_F(DtlsInterop, OurClientAgainstOpenSslServer) {
  std::string error;
  std::unique_ptr<ChildProcess> server;
  SocketAddress server_address;
  for (int attempt = 0; attempt < 3 && !server; ++attempt) {
    auto port = pick_free_loopback_port();
    ASSERT_TRUE(port);
    server_address = SocketAddress(IpAddress::loopback_v4(), *port);
    // -verify 1 asks for our certificate (WebRTC is mutually authenticated); OpenSSL reports
    // that it is self-signed and carries on, as it should without a CA.
    server = ChildProcess::spawn(
        {.program = kOpenSsl,
         .args = {"s_server", "-dtls1_2", "-accept", "127.0.0.1:" + std::to_string(*port), "-cert",
                  openssl.cert_path, "-key", openssl.key_path, "-verify", "1", "-naccept", "1"},
         .log_path = interop_log_path("openssl-s_server.log")},
        &error);
    ASSERT_TRUE(server) << error;
    if (!read_until_line(*server, "ACCEPT", 5s)) server.reset();  // port taken: try another
  }
  ASSERT_TRUE(server);

  LoopbackDtls us(*ours, DtlsRole::client, openssl.fingerprint, server_address);
  us.start();
  ASSERT_TRUE(us.run_until([&] { return us.connected() || us.ended(); }, seconds(10)))
      << server->log_tail();
  ASSERT_TRUE(us.connected()) << (us.endpoint.failure ? us.endpoint.failure->reason : "") << "\n"
                              << server->log_tail();
  EXPECT_EQ(us.endpoint.remote_fingerprint, openssl.fingerprint);
  std::printf("[ interop ] our client vs s_server: %s, %u flights, %.1f ms\n",
              us.endpoint.cipher_suite.c_str(), us.endpoint.transport.stats().flights_sent,
              static_cast<double>((*us.endpoint.transport.stats().handshake_completed -
                                   *us.endpoint.transport.stats().handshake_started)
                                      .count()) /
                  1000.0);

  us.send("hello from cellrtc\n");
  EXPECT_TRUE(read_until_line(*server, "hello from cellrtc", 5s)) << server->log_tail();
  EXPECT_TRUE(server->write_line("hello from openssl"));
  EXPECT_TRUE(us.run_until([&] { return !us.endpoint.received.empty(); }, seconds(5)));
  EXPECT_EQ(us.received_text(), "hello from openssl\n");

  // Our close_notify ends OpenSSL's connection (-naccept 1: it exits).
  us.endpoint.transport.close(us.loop->now());
  us.driver->wake();
  auto status = server->wait(5s);
  ASSERT_TRUE(status) << server->log_tail();
  EXPECT_TRUE(read_until_line(*server, "CONNECTION CLOSED", 1s) || server->stdout_closed());
}

TEST_F(DtlsInterop, OpenSslClientAgainstOurServer) {
  auto us = openssl_client_to_our_server({});
  EXPECT_EQ(us->endpoint.cipher_suite, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
}

TEST_F(DtlsInterop, OpenSslClientWithSmallMtuSendsAFragmentedClientHello) {
  // OpenSSL's own DTLS 1.2 ClientHello (180 bytes) fits its smallest MTU (256, leaving 228 per
  // datagram); every cipher suite it has and a long server name make it 406 bytes, which it
  // then sends as two fragments in two datagrams, as aiortc and post-quantum browsers do. mbedTLS
  // alone would reject it.
  std::string long_name = std::string(60, 'a') + "." + std::string(60, 'b') + ".example";
  auto us =
      openssl_client_to_our_server({"-mtu", "256", "-cipher", "ALL", "-servername", long_name});
  const auto& stats = us->endpoint.transport.stats();
  std::printf("[ interop ] s_client -mtu 256: ClientHello in %llu fragments, reassembled %llu\n",
              static_cast<unsigned long long>(stats.client_hello.fragments),
              static_cast<unsigned long long>(stats.client_hello.reassembled));
  EXPECT_GE(stats.client_hello.fragments, 2u);
  EXPECT_EQ(us->endpoint.cipher_suite, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
  EXPECT_GE(stats.client_hello.reassembled, 1u);
}

TEST_F(DtlsInterop, OpenSslClientWithoutCertificateIsRefused) {
  LoopbackDtls us(*ours, DtlsRole::server, openssl.fingerprint, std::nullopt);
  us.start();
  auto client = start_s_client(us.address, {});
  ASSERT_TRUE(client);
  ASSERT_TRUE(us.run_until([&] { return us.ended(); }, seconds(10))) << client->log_tail();
  ASSERT_TRUE(us.endpoint.failure);
  EXPECT_STREQ(us.endpoint.failure->reason, "peer sent no certificate");
  EXPECT_FALSE(us.endpoint.connected_at);
}

TEST_F(DtlsInterop, OpenSslServerWithAnotherFingerprintIsRefused) {
  std::string error;
  auto port = pick_free_loopback_port();
  ASSERT_TRUE(port);
  auto server = ChildProcess::spawn(
      {.program = kOpenSsl,
       .args = {"s_server", "-dtls1_2", "-accept", "127.0.0.1:" + std::to_string(*port), "-cert",
                openssl.cert_path, "-key", openssl.key_path, "-naccept", "1"},
       .log_path = interop_log_path("openssl-s_server.log")},
      &error);
  ASSERT_TRUE(server) << error;
  ASSERT_TRUE(read_until_line(*server, "ACCEPT", 5s)) << server->log_tail();
  // We expect our own fingerprint, as if the SDP had been tampered with.
  LoopbackDtls us(*ours, DtlsRole::client, ours->fingerprint_sha256(),
                  SocketAddress(IpAddress::loopback_v4(), *port));
  us.start();
  ASSERT_TRUE(us.run_until([&] { return us.ended(); }, seconds(10))) << server->log_tail();
  ASSERT_TRUE(us.endpoint.failure);
  EXPECT_NE(std::string(us.endpoint.failure->reason).find("fingerprint"), std::string::npos);
  EXPECT_EQ(us.endpoint.transport.remote_fingerprint(), openssl.fingerprint);
}

}  // namespace
}  // namespace cellrtc::interop
