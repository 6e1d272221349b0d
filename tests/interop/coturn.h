// coturn (Debian's /usr/bin/turnserver) as a STUN/TURN server for interop tests, on
// 127.0.0.1 only, on a port picked at runtime, with a generated configuration:
//
//   std::string error;
//   auto coturn = CoturnServer::start({}, &error);  // waits until it answers a Binding request
//   ASSERT_TRUE(coturn) << error;
//   SocketAddress server = coturn->address();         // 127.0.0.1:<port>, UDP and TCP
//   auto [username, password] = coturn->rest_credentials("device-1");  // for TURN tests
//   // ~CoturnServer: SIGTERM, bounded wait, SIGKILL; its temporary config is removed.
//
// Configuration: listening-ip and relay-ip 127.0.0.1; no DTLS, CLI or web admin, and no TLS
// unless CoturnOptions carry a certificate and key (then TLS on its own port); TURN REST
// API authentication (use-auth-secret with a static secret) in a fixed realm; no multicast
// peers; no database, pid file or log under /var. coturn refuses peers on loopback addresses
// by default, which blocks relaying between two loopback agents: TURN relay tests set
// CoturnOptions::allow_loopback_peers. The log (coturn's stdout and stderr) stays in the build
// tree (interop_log_path) and log_tail() gives its end for assertion messages.
//
// A missing /usr/bin/turnserver is an error, never a skip: scripts/setup.sh installs coturn.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/common/socket_address.h"
#include "interop/child_process.h"

namespace cellrtc::interop {

struct CoturnOptions {
  std::string binary = "/usr/bin/turnserver";
  std::string realm = "cellrtc.test";
  std::string static_auth_secret = "cellrtc-interop-secret";
  // --allow-loopback-peers: needed only when a TURN allocation relays to a 127.x peer.
  bool allow_loopback_peers = false;
  // Relay ports coturn allocates from (a narrow range keeps tests off other tests' ports).
  uint16_t min_relay_port = 49152;
  uint16_t max_relay_port = 65535;
  bool verbose = false;  // coturn's --verbose, for debugging a test
  // --stale-nonce: a nonce lives this long (seconds), then requests get 438 and the client
  // authenticates again with a new one; 0 leaves coturn's default (nonces do not expire).
  uint32_t stale_nonce_s = 0;
  // TURN over TLS (turns:): a certificate and its key in PEM. When both are set coturn also
  // listens for TLS on a second port (tls_address()); otherwise TLS stays off.
  std::string tls_cert_pem{};
  std::string tls_key_pem{};
  // How long start() waits for coturn to answer a STUN Binding request, per attempt.
  std::chrono::milliseconds startup_timeout{5000};
};

class CoturnServer {
 public:
  // Picks a free port, writes the configuration, starts coturn and waits until it answers a
  // STUN Binding request on 127.0.0.1:<port>. Retries with another port (3 attempts) if coturn
  // exits early, e.g. because another process took the port in between. On failure returns
  // nullptr and sets *error, including the end of coturn's log.
  static std::unique_ptr<CoturnServer> start(const CoturnOptions& options, std::string* error);

  CoturnServer(const CoturnServer&) = delete;
  CoturnServer& operator=(const CoturnServer&) = delete;
  ~CoturnServer();

  // The STUN/TURN listening address (UDP and TCP): 127.0.0.1:<port>.
  SocketAddress address() const { return address_; }
  uint16_t port() const { return address_.port(); }
  // The TLS listening address (127.0.0.1:<port>) when CoturnOptions set a certificate.
  SocketAddress tls_address() const { return tls_address_; }
  const std::string& realm() const { return options_.realm; }
  const std::string& static_auth_secret() const { return options_.static_auth_secret; }

  // TURN REST API credentials (draft-uberti-behave-turn-rest, as coturn implements it):
  // username "<unix expiry time>:<user>", password base64(HMAC-SHA1(secret, username)).
  std::pair<std::string, std::string> rest_credentials(
      std::string_view user, std::chrono::seconds lifetime = std::chrono::hours(1)) const;

  bool running() { return process_->running(); }
  const std::string& log_path() const { return process_->log_path(); }
  std::string log_tail(size_t max_bytes = 4096) const { return process_->log_tail(max_bytes); }

 private:
  CoturnServer(CoturnOptions options, SocketAddress address, SocketAddress tls_address,
               std::string config_dir, std::unique_ptr<ChildProcess> process)
      : options_(std::move(options)),
        address_(address),
        tls_address_(tls_address),
        config_dir_(std::move(config_dir)),
        process_(std::move(process)) {}

  CoturnOptions options_;
  SocketAddress address_;
  SocketAddress tls_address_;
  std::string config_dir_;
  std::unique_ptr<ChildProcess> process_;
};

// Sends STUN Binding requests (built by hand, RFC 8489 section 5: 20-byte header, no
// attributes) from a fresh UDP socket on 127.0.0.1 to `server` until a success response with
// the same transaction id comes back, or `timeout` passes. Independent of the core's STUN codec
// so that a fixture never depends on the code under test.
bool answers_stun_binding(const SocketAddress& server, std::chrono::milliseconds timeout);

// A port on 127.0.0.1 that is free for both UDP and TCP right now (bound to port 0, then
// closed). Another process can take it before it is used: callers retry.
std::optional<uint16_t> pick_free_loopback_port();

}  // namespace cellrtc::interop
