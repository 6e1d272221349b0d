// A TLS 1.2 client over a byte stream (RFC 5246), sans-IO, on mbedTLS: what `turns:` URIs need
// (RFC 8656 section 3.1: TURN over TLS over TCP) and any other TLS stream the core speaks.
//
//   TlsClientConfig config;
//   config.ca_pem = read_file("/etc/cellrtc/turn-ca.pem");  // trust anchors, PEM
//   config.server_name = "turn.example.net";               // SNI and the name checked
//   TlsClient tls(config, rng);
//   tls.start(now);                         // ClientHello
//   tls.handle_input(now, socket_bytes);    // whatever the TCP socket delivered
//   tls.write(plaintext);                   // queued until the handshake completes (bounded)
//   while (auto b = tls.poll_transmit()) socket.write(*b);
//   while (auto e = tls.poll_event()) ...   // Connected, Data, Closed, Failed
//   tls.close(now);                         // close_notify
//
// As core/dtls does, the object drives mbedTLS through callbacks: the bio reads from an input
// buffer filled by handle_input and writes to an output queue drained by poll_transmit; the RNG
// draws from the injected Random. Over a stream TLS has no retransmission timer, so there is
// no next_timeout: the owner bounds the handshake with its own deadline.
//
// Verification (RFC 5280 path validation by mbedTLS, RFC 6125 name check): the server's chain
// must lead to a certificate in ca_pem, and its certificate must name server_name (subjectAltName
// dNSName, or the CN when there is no subjectAltName). Validity dates are checked against
// `now_unix_s` when the owner knows the wall-clock time, and not at all otherwise (a device
// without a real-time clock cannot tell; the core reads no clock, and the verdict of mbedTLS's
// own date check, where the library is built with one, is replaced in the verify callback).
// The name must be a DNS name: mbedTLS 2.28 does not match IP addresses in certificates.
//
// Not here: client certificates, session resumption, renegotiation, TLS 1.3, ALPN.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/time.h"

struct mbedtls_x509_crt;

namespace cellrtc::tls {

enum class TlsState : uint8_t { new_, handshaking, connected, closed, failed };
const char* to_string(TlsState state);

struct TlsClientConfig {
  // One or more PEM certificates the server's chain must end in. Required.
  std::string ca_pem;
  // Sent as SNI (RFC 6066 section 3) and matched against the server's certificate. Required:
  // a certificate is worth nothing without a name to hold it to.
  std::string server_name;
  // Unix time (seconds, UTC) for the validity check; nullopt skips it (see above).
  std::optional<int64_t> now_unix_s;
  // Plaintext written before the handshake completes is kept up to this many bytes.
  size_t max_pending_plaintext = 64 * 1024;
  // Received ciphertext not yet consumed by mbedTLS, at most (a record is at most 16 KB + 2 KB).
  size_t max_buffered_input = 64 * 1024;
};

namespace event {
struct Connected {
  std::string cipher_suite;
};
struct Data {
  Bytes data;
};
struct Closed {};  // the server sent close_notify
struct Failed {
  const char* reason;
  int tls_error = 0;          // mbedTLS's error code, 0 when none
  uint32_t verify_flags = 0;  // MBEDTLS_X509_BADCERT_* when certificate verification failed
};
}  // namespace event

using TlsEvent = std::variant<event::Connected, event::Data, event::Closed, event::Failed>;

class TlsClient {
 public:
  // `rng` must outlive the client.
  TlsClient(TlsClientConfig config, Random& rng);
  ~TlsClient();
  // mbedTLS holds pointers to the object: it cannot move.
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Parses the CA, sets mbedTLS up and queues the ClientHello. Fails on a bad configuration
  // (no or unparseable CA, no server name) or when mbedTLS cannot allocate.
  Status start(Instant now);
  void handle_input(Instant now, ByteView bytes);
  // Encrypts application data (queued, bounded, before Connected). Fails after the end.
  Status write(ByteView plaintext);
  std::optional<Bytes> poll_transmit();
  std::optional<TlsEvent> poll_event();
  // Sends close_notify and ends the client; no event follows.
  void close(Instant now);

  TlsState state() const { return state_; }

 private:
  struct Impl;
  static int bio_send(void* ctx, const unsigned char* buf, size_t len);
  static int bio_recv(void* ctx, unsigned char* buf, size_t len);
  static int verify(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags);
  static int rng(void* ctx, unsigned char* out, size_t len);

  void drive();
  void read_application_data();
  Status write_now(ByteView plaintext);
  void fail(const char* reason, int tls_error, uint32_t verify_flags = 0);

  TlsClientConfig config_;
  Random& rng_;
  std::unique_ptr<Impl> impl_;
  TlsState state_ = TlsState::new_;
  Bytes input_;
  size_t input_pos_ = 0;
  std::deque<Bytes> output_;
  std::deque<TlsEvent> events_;
  Bytes pending_plaintext_;
};

}  // namespace cellrtc::tls
