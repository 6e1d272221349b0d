// DTLS 1.2 for WebRTC data channels (RFC 8827 section 6.5, RFC 8261), sans-IO, on mbedTLS.
//
//   auto cert = Certificate::generate(rng, "cellrtc-device").value();   // or from_pem()
//   DtlsConfig config;
//   config.role = DtlsRole::client;            // from a=setup (RFC 8842): active = client
//   config.certificate = &cert;
//   config.remote_fingerprint = "AB:CD:...";   // the peer's a=fingerprint:sha-256
//   DtlsTransport dtls(config, rng);
//   dtls.start(now);                           // the client sends its ClientHello
//   dtls.handle_datagram(now, bytes);          // DTLS records only (first byte 20..63)
//   dtls.handle_timeout(now);                  // when next_timeout() has passed
//   while (auto d = dtls.poll_transmit()) ...  // datagrams for the peer
//   while (auto e = dtls.poll_event()) ...     // Connected, Data, Closed, Failed
//   dtls.send(now, sctp_packet);               // one record each, after Connected
//   dtls.close(now);                           // close_notify
//
// The object owns mbedTLS's contexts and drives them through callbacks: the bio callbacks read
// from an input queue filled by handle_datagram and write to an output queue drained by
// poll_transmit; the timer callbacks answer from the `now` passed to the last call (virtual
// time, RFC 6347 section 4.2.4 retransmission); the RNG callback draws from the injected Random.
// No clock, socket, thread, exception, log or global state.
//
// Authentication as in WebRTC (RFC 8827 section 6.5, RFC 8122): both sides present self-signed
// certificates, and each checks the SHA-256 fingerprint of the other's against the one the SDP
// carried; no CA is involved. The server asks for the client's certificate and fails a client
// without one.
//
// In the server role a ClientHello fragmented over several records or datagrams is reassembled
// before mbedTLS sees it (ClientHelloReassembler: mbedTLS 2.28 rejects a fragmented one). The
// client role does not need this, which is one reason cellrtc answers a=setup:actpass with
// a=setup:active and takes the client role toward browsers (docs/dtls.md).
//
// Not here: SRTP key export (use_srtp can be negotiated, no keys are exported), DTLS 1.3,
// renegotiation, session resumption, connection ids.
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
#include "core/dtls/certificate.h"
#include "core/dtls/client_hello_reassembler.h"

namespace cellrtc::dtls {

enum class DtlsRole : uint8_t { client, server };
enum class DtlsState : uint8_t { new_, handshaking, connected, closed, failed };
const char* to_string(DtlsState state);

struct DtlsConfig {
  DtlsRole role = DtlsRole::client;
  // Our identity; must outlive the transport.
  const Certificate* certificate = nullptr;
  // The peer's SHA-256 fingerprint from its SDP (a=fingerprint:sha-256 AB:CD:...), compared
  // ignoring case. Empty fails start() unless allow_any_fingerprint, which is for tests.
  std::string remote_fingerprint;
  bool allow_any_fingerprint = false;
  // Largest datagram (UDP payload) we send: handshake messages are fragmented to it (RFC 6347
  // section 4.1.1.1) and application data must fit one record in it (max_payload()). 1200
  // keeps a datagram inside the IPv6 minimum MTU of 1280 with room for IP and UDP headers, and
  // inside what TURN over a cellular path carries without IP fragmentation.
  size_t mtu = 1200;
  // RFC 6347 section 4.2.4.1 retransmission timer: the first timeout, doubled per retransmission
  // up to the last one, after which the handshake fails. RFC 6347 suggests 1 s to start; 400 ms
  // is above the RTT of LTE (60-150 ms) and of most UMTS/EDGE paths (200-400 ms), so a lost
  // flight on the common links is repeated 600 ms sooner, while on a GPRS path (RTT near 1 s)
  // the cost of a needless first retransmission is one flight of under 1.5 KB. Doubling to
  // 12.8 s gives 6 transmissions over 25 s before giving up: longer than a cellular outage
  // usually lasts, shorter than ICE's 30 s consent timeout (RFC 7675), which would end the
  // session anyway.
  Duration handshake_timeout_min = milliseconds(400);
  Duration handshake_timeout_max = milliseconds(12800);
  // Server role: bounds on a ClientHello being reassembled from fragments.
  size_t max_client_hello = 16384;
  Duration client_hello_timeout = seconds(10);
  // Datagrams held before start() (a peer's ClientHello may beat our own ICE to connected);
  // more are dropped.
  size_t max_early_datagrams = 8;
  // Negotiate the use_srtp extension (RFC 5764 section 4.1.1) with SRTP_AES128_CM_HMAC_SHA1_80
  // although no SRTP keys are exported: for peers that end a handshake which selected no SRTP
  // profile even when only data channels are negotiated (Janus 1.1 does). Off by default.
  bool negotiate_srtp_profile = false;
};

namespace event {
// The handshake completed and the peer's certificate matched the expected fingerprint.
struct Connected {
  std::string remote_fingerprint;  // "AB:CD:..." of the certificate the peer presented
  std::string cipher_suite;        // mbedTLS's name for the negotiated suite
};
// One application-data record, whole (SCTP packets map one to one onto records).
struct Data {
  Bytes data;
};
// The peer sent close_notify (RFC 5246 section 7.2.1); we answered with ours.
struct Closed {};
struct Failed {
  const char* reason;  // a static, human-readable reason
  int tls_error = 0;   // mbedTLS's error code when it reported one, else 0
};
}  // namespace event

using DtlsEvent = std::variant<event::Connected, event::Data, event::Closed, event::Failed>;

struct DtlsStats {
  std::optional<Instant> handshake_started;    // start()
  std::optional<Instant> first_datagram;       // first DTLS datagram received
  std::optional<Instant> handshake_completed;  // Connected
  uint32_t flights_sent = 0;                   // handshake flights, retransmissions included
  uint32_t retransmissions = 0;                // flights that repeated an earlier one
  uint64_t datagrams_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t not_dtls = 0;  // datagrams refused by the first-byte check (RFC 7983)
  uint64_t dropped = 0;   // datagrams dropped before start (over max_early_datagrams) or after
                          // the end
  ClientHelloReassemblerStats client_hello;
};

class DtlsTransport {
 public:
  // `rng` must outlive the transport.
  DtlsTransport(DtlsConfig config, Random& rng);
  ~DtlsTransport();
  // mbedTLS holds pointers to the object: it cannot move.
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Sets mbedTLS up; the client sends its ClientHello. Fails on a bad configuration (no
  // certificate, no fingerprint, an MTU mbedTLS cannot use) or when mbedTLS cannot allocate.
  Status start(Instant now);
  // One received datagram. Only DTLS is taken (RFC 7983 section 7: first byte 20..63); the
  // caller demultiplexes STUN, TURN and anything else first. Before start() a few datagrams are
  // kept for it.
  void handle_datagram(Instant now, ByteView datagram);
  void handle_timeout(Instant now);
  std::optional<Bytes> poll_transmit();
  std::optional<DtlsEvent> poll_event();
  // The retransmission timer while handshaking, and the ClientHello reassembly deadline.
  std::optional<Instant> next_timeout() const;

  // Sends one application-data record. Fails before Connected or after the end, and when the
  // data does not fit one record in the MTU (max_payload()).
  Status send(Instant now, ByteView app_data);
  // Sends close_notify (RFC 5246 section 7.2.1) and ends the transport; no event follows.
  void close(Instant now);

  DtlsState state() const { return state_; }
  DtlsRole role() const { return config_.role; }
  // The largest application-data payload one record can carry in the MTU (depends on the
  // negotiated cipher suite: 1200 - 13 header - 8 nonce - 16 tag = 1163 with AES-GCM).
  std::optional<size_t> max_payload() const;
  const std::string& remote_fingerprint() const { return remote_fingerprint_; }
  const DtlsStats& stats() const;

 private:
  struct Impl;
  // mbedTLS callbacks.
  static int bio_send(void* ctx, const unsigned char* buf, size_t len);
  static int bio_recv(void* ctx, unsigned char* buf, size_t len);
  static void timer_set(void* ctx, uint32_t int_ms, uint32_t fin_ms);
  static int timer_get(void* ctx);
  static int verify(void* ctx, struct mbedtls_x509_crt* crt, int depth, uint32_t* flags);
  static int rng(void* ctx, unsigned char* out, size_t len);

  void drive();
  void read_application_data();
  void on_handshake_done();
  void fail(const char* reason, int tls_error);
  void count_flight();
  void queue_input(ByteView datagram);

  DtlsConfig config_;
  Random& rng_;
  std::unique_ptr<Impl> impl_;
  DtlsState state_ = DtlsState::new_;
  Instant now_;
  // Virtual-time timer (mbedtls_ssl_set_timer_cb semantics: fin_ms 0 = cancelled).
  Instant timer_start_;
  uint32_t timer_int_ms_ = 0;
  uint32_t timer_fin_ms_ = 0;

  std::deque<Bytes> input_;
  std::deque<Bytes> output_;
  std::deque<DtlsEvent> events_;
  size_t burst_start_ = 0;  // output_ index where this call's output begins (flight counting)
  ClientHelloReassembler reassembler_;

  std::string remote_fingerprint_;
  bool peer_verified_ = false;
  bool fingerprint_mismatch_ = false;
  // Flight counting: the highest plaintext handshake message_seq we sent, and whether we sent
  // ChangeCipherSpec; a flight that repeats either is a retransmission.
  std::optional<uint16_t> highest_message_seq_;
  bool sent_change_cipher_spec_ = false;
  mutable DtlsStats stats_;
};

}  // namespace cellrtc::dtls
