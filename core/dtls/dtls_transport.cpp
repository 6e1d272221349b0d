#include "core/dtls/dtls_transport.h"

#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>

#include "core/common/crypto.h"
#include "core/dtls/mbedtls_compat.h"
#include "core/dtls/record.h"

namespace cellrtc::dtls {

const char* to_string(DtlsState state) {
  switch (state) {
    case DtlsState::new_:
      return "new";
    case DtlsState::handshaking:
      return "handshaking";
    case DtlsState::connected:
      return "connected";
    case DtlsState::closed:
      return "closed";
    case DtlsState::failed:
      return "failed";
  }
  return "?";
}

namespace {

// The suites WebRTC peers offer for ECDSA certificates, ours first (the server picks in its own
// order): AES-128-GCM is what browsers negotiate; ChaCha20-Poly1305 is faster where AES has no
// hardware help; AES-128-CBC-SHA is the RFC 8827 section 6.5 mandatory-to-implement fallback for
// older stacks.
const int kCipherSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
#if defined(MBEDTLS_CHACHAPOLY_C)
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    0,
};

uint32_t to_ms(Duration d) {
  auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 1, UINT32_MAX));
}

}  // namespace

struct DtlsTransport::Impl {
  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
};

DtlsTransport::DtlsTransport(DtlsConfig config, Random& rng)
    : config_(std::move(config)),
      rng_(rng),
      impl_(std::make_unique<Impl>()),
      reassembler_(ClientHelloReassemblerConfig{
          // The rebuilt record must fit mbedTLS's input buffer whole.
          std::min(config_.max_client_hello,
                   static_cast<size_t>(MBEDTLS_SSL_IN_CONTENT_LEN) - kHandshakeHeaderSize),
          config_.client_hello_timeout}) {}

DtlsTransport::~DtlsTransport() = default;

Status DtlsTransport::start(Instant now) {
  if (state_ != DtlsState::new_)
    return Error{Errc::invalid_state, "DTLS transport already started"};
  if (!config_.certificate) return Error{Errc::invalid_argument, "DTLS needs a certificate"};
  if (config_.remote_fingerprint.empty() && !config_.allow_any_fingerprint)
    return Error{Errc::invalid_argument, "no remote fingerprint to verify the peer against"};
  if (config_.mtu < 256 || config_.mtu > 16384)
    return Error{Errc::invalid_argument, "DTLS MTU outside 256..16384"};
  now_ = now;
  if (compat::init_crypto() != 0)
    return Error{Errc::crypto, "crypto library initialisation failed"};

  mbedtls_ssl_config* conf = &impl_->conf;
  bool server = config_.role == DtlsRole::server;
  if (mbedtls_ssl_config_defaults(conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                  MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
    return Error{Errc::crypto, "mbedTLS configuration failed"};
  mbedtls_ssl_conf_rng(conf, &DtlsTransport::rng, &rng_);
  compat::conf_dtls12_only(conf);
  compat::conf_groups(conf);
  mbedtls_ssl_conf_ciphersuites(conf, kCipherSuites);
  if (mbedtls_ssl_conf_own_cert(conf, config_.certificate->mbedtls_certificate(),
                                config_.certificate->mbedtls_key()) != 0)
    return Error{Errc::crypto, "mbedTLS refused our certificate"};
  // Peer authentication is by fingerprint (RFC 8827 section 6.5), in verify(), which accepts
  // the self-signed certificate whose SHA-256 matches and fails any other. The server requires a
  // certificate (REQUIRED fails a client that sends none); REQUIRED needs a trust chain, for
  // which our own certificate stands in: nothing chains to it, verify() decides. The client
  // uses OPTIONAL (a server always sends one with ECDSA suites) and checks that verify() ran.
  mbedtls_ssl_conf_authmode(conf,
                            server ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL);
  if (server) mbedtls_ssl_conf_ca_chain(conf, config_.certificate->mbedtls_certificate(), nullptr);
  mbedtls_ssl_conf_verify(conf, &DtlsTransport::verify, this);
  mbedtls_ssl_conf_handshake_timeout(conf, to_ms(config_.handshake_timeout_min),
                                     to_ms(config_.handshake_timeout_max));
  if (config_.negotiate_srtp_profile) {
#if defined(MBEDTLS_SSL_DTLS_SRTP)
    // RFC 5764 section 4.1.1: offered (client) or selected (server); no keys are exported.
    static const mbedtls_ssl_srtp_profile kSrtpProfiles[] = {
        MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80, MBEDTLS_TLS_SRTP_UNSET};
    if (mbedtls_ssl_conf_dtls_srtp_protection_profiles(conf, kSrtpProfiles) != 0)
      return Error{Errc::crypto, "mbedTLS refused the SRTP profile list"};
#else
    return Error{Errc::unsupported, "this mbedTLS is built without DTLS-SRTP (use_srtp)"};
#endif
  }
#if defined(MBEDTLS_SSL_DTLS_HELLO_VERIFY)
  // No HelloVerifyRequest (RFC 6347 section 4.2.1 makes the cookie exchange optional): ICE's
  // connectivity checks have already proven the peer's address (RFC 8445 section 2.2), and the
  // exchange would cost a round trip on a link where one can take a second.
  if (server) mbedtls_ssl_conf_dtls_cookies(conf, nullptr, nullptr, nullptr);
#endif

  mbedtls_ssl_context* ssl = &impl_->ssl;
  if (mbedtls_ssl_setup(ssl, conf) != 0)
    return Error{Errc::crypto, "mbedTLS setup failed (out of memory?)"};
  // Toward a self-signed peer there is no name to check; saying so explicitly keeps mbedTLS
  // versions that insist on a hostname for certificate verification from failing the client.
  if (!server) (void)mbedtls_ssl_set_hostname(ssl, nullptr);
  mbedtls_ssl_set_bio(ssl, this, &DtlsTransport::bio_send, &DtlsTransport::bio_recv, nullptr);
  mbedtls_ssl_set_timer_cb(ssl, this, &DtlsTransport::timer_set, &DtlsTransport::timer_get);
  mbedtls_ssl_set_mtu(ssl, static_cast<uint16_t>(config_.mtu));

  state_ = DtlsState::handshaking;
  stats_.handshake_started = now;
  // Datagrams that came before start() were kept raw; now that the role is set up they go the
  // way every datagram goes (through the ClientHello reassembler in the server role).
  std::deque<Bytes> early;
  early.swap(input_);
  for (const Bytes& d : early)
    queue_input(d);
  drive();
  return {};
}

void DtlsTransport::queue_input(ByteView datagram) {
  if (config_.role == DtlsRole::server && state_ == DtlsState::handshaking) {
    if (auto rewritten = reassembler_.process(now_, datagram)) {
      if (!rewritten->empty()) input_.push_back(std::move(*rewritten));
      return;
    }
  }
  input_.emplace_back(datagram.begin(), datagram.end());
}

void DtlsTransport::handle_datagram(Instant now, ByteView datagram) {
  now_ = now;
  if (!is_dtls_datagram(datagram)) {
    ++stats_.not_dtls;
    return;
  }
  ++stats_.datagrams_received;
  stats_.bytes_received += datagram.size();
  if (!stats_.first_datagram) stats_.first_datagram = now;
  if (state_ == DtlsState::new_) {
    if (input_.size() >= config_.max_early_datagrams) {
      ++stats_.dropped;
      return;
    }
    input_.emplace_back(datagram.begin(), datagram.end());
    return;
  }
  if (state_ != DtlsState::handshaking && state_ != DtlsState::connected) {
    ++stats_.dropped;
    return;
  }
  queue_input(datagram);
  drive();
}

void DtlsTransport::handle_timeout(Instant now) {
  now_ = now;
  reassembler_.expire(now);
  if (state_ == DtlsState::handshaking) drive();
}

void DtlsTransport::drive() {
  burst_start_ = output_.size();
  if (state_ == DtlsState::handshaking) {
    int ret = mbedtls_ssl_handshake(&impl_->ssl);
    if (ret == 0) {
      count_flight();
      on_handshake_done();
      if (state_ != DtlsState::connected) return;
    } else if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
      count_flight();
      return;
    } else {
      count_flight();
      if (fingerprint_mismatch_) {
        fail("remote certificate does not match the fingerprint from the SDP", ret);
      } else if (ret == MBEDTLS_ERR_SSL_TIMEOUT) {
        fail("DTLS handshake timed out: no answer to the last retransmission", ret);
      } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        fail("peer sent a fatal alert during the DTLS handshake", ret);
      } else if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
        fail("peer sent no certificate", ret);
      } else if (compat::is_no_common_parameters(ret)) {
        fail("no DTLS cipher suite or key exchange group in common with the peer", ret);
      } else {
        fail("DTLS handshake failed", ret);
      }
      return;
    }
  }
  if (state_ == DtlsState::connected) {
    read_application_data();
    count_flight();  // a repeated final flight, answering the peer's retransmission
  }
}

void DtlsTransport::on_handshake_done() {
  // RFC 8827 section 6.5: the peer must have presented a certificate, and verify() must have
  // matched it; a server's missing certificate or a client's that mbedTLS let through without
  // calling us ends here.
  if (!peer_verified_) {
    mbedtls_ssl_send_alert_message(&impl_->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                   MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    fail("peer sent no certificate", 0);
    return;
  }
  state_ = DtlsState::connected;
  stats_.handshake_completed = now_;
  const char* suite = mbedtls_ssl_get_ciphersuite(&impl_->ssl);
  events_.push_back(event::Connected{remote_fingerprint_, suite ? suite : ""});
}

void DtlsTransport::read_application_data() {
  // One event per record: mbedTLS hands a record out in pieces when the buffer is smaller,
  // and says how much of it is left.
  Bytes record;
  unsigned char buf[512];
  while (state_ == DtlsState::connected) {
    int ret = mbedtls_ssl_read(&impl_->ssl, buf, sizeof(buf));
    if (ret > 0) {
      record.insert(record.end(), buf, buf + ret);
      if (mbedtls_ssl_get_bytes_avail(&impl_->ssl) > 0) continue;
      events_.push_back(event::Data{std::move(record)});
      record = Bytes();
      continue;
    }
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      // RFC 5246 section 7.2.1: answer with our own close_notify.
      (void)mbedtls_ssl_close_notify(&impl_->ssl);
      state_ = DtlsState::closed;
      events_.push_back(event::Closed{});
      return;
    }
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
      fail("peer sent a fatal alert", ret);
    } else {
      fail("DTLS connection failed", ret);
    }
    return;
  }
}

void DtlsTransport::fail(const char* reason, int tls_error) {
  state_ = DtlsState::failed;
  input_.clear();
  events_.push_back(event::Failed{reason, tls_error});
}

void DtlsTransport::count_flight() {
  // A flight is what one call produced that carries handshake messages or ChangeCipherSpec. It
  // repeats an earlier one when it holds a plaintext handshake message_seq we already sent, or a
  // second ChangeCipherSpec (encrypted Finished cannot be read, but always follows one).
  bool handshake = false, repeated = false, ccs = false;
  std::optional<uint16_t> highest = highest_message_seq_;
  for (size_t i = burst_start_; i < output_.size(); ++i) {
    RecordReader records(output_[i]);
    while (auto r = records.next()) {
      if (!*r) break;
      const Record& rec = r->value();
      if (rec.header.content_type == static_cast<uint8_t>(ContentType::change_cipher_spec)) {
        handshake = ccs = true;
        if (sent_change_cipher_spec_) repeated = true;
      } else if (rec.header.content_type == static_cast<uint8_t>(ContentType::handshake)) {
        handshake = true;
        if (rec.header.epoch != 0) continue;
        HandshakeReader fragments(rec.payload);
        while (auto f = fragments.next()) {
          if (!*f) break;
          uint16_t seq = f->value().message_seq;
          if (highest_message_seq_ && seq <= *highest_message_seq_) repeated = true;
          if (!highest || seq > *highest) highest = seq;
        }
      }
    }
  }
  burst_start_ = output_.size();
  if (!handshake) return;
  ++stats_.flights_sent;
  if (repeated) ++stats_.retransmissions;
  highest_message_seq_ = highest;
  if (ccs) sent_change_cipher_spec_ = true;
}

std::optional<Bytes> DtlsTransport::poll_transmit() {
  if (output_.empty()) return std::nullopt;
  Bytes d = std::move(output_.front());
  output_.pop_front();
  if (burst_start_ > 0) --burst_start_;
  return d;
}

std::optional<DtlsEvent> DtlsTransport::poll_event() {
  if (events_.empty()) return std::nullopt;
  DtlsEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Instant> DtlsTransport::next_timeout() const {
  std::optional<Instant> t;
  if (state_ == DtlsState::handshaking && timer_fin_ms_ > 0)
    t = timer_start_ + milliseconds(timer_fin_ms_);
  if (state_ == DtlsState::handshaking) t = earliest(t, reassembler_.deadline());
  return t;
}

Status DtlsTransport::send(Instant now, ByteView app_data) {
  now_ = now;
  if (state_ != DtlsState::connected) return Error{Errc::invalid_state, "DTLS is not connected"};
  auto limit = max_payload();
  if (!limit || app_data.size() > *limit)
    return Error{Errc::limit_exceeded, "application data larger than one record in the MTU"};
  burst_start_ = output_.size();
  int ret = mbedtls_ssl_write(&impl_->ssl, app_data.data(), app_data.size());
  if (ret < 0) {
    fail("DTLS write failed", ret);
    return Error{Errc::crypto, "DTLS write failed"};
  }
  return {};
}

void DtlsTransport::close(Instant now) {
  now_ = now;
  if (state_ == DtlsState::handshaking || state_ == DtlsState::connected)
    (void)mbedtls_ssl_close_notify(&impl_->ssl);
  if (state_ != DtlsState::failed) state_ = DtlsState::closed;
  input_.clear();
  timer_fin_ms_ = 0;
}

std::optional<size_t> DtlsTransport::max_payload() const {
  if (state_ != DtlsState::connected) return std::nullopt;
  int n = mbedtls_ssl_get_max_out_record_payload(&impl_->ssl);
  if (n <= 0) return std::nullopt;
  return static_cast<size_t>(n);
}

const DtlsStats& DtlsTransport::stats() const {
  stats_.client_hello = reassembler_.stats();
  return stats_;
}

// --- mbedTLS callbacks

int DtlsTransport::bio_send(void* ctx, const unsigned char* buf, size_t len) {
  auto* self = static_cast<DtlsTransport*>(ctx);
  self->output_.emplace_back(buf, buf + len);
  ++self->stats_.datagrams_sent;
  self->stats_.bytes_sent += len;
  return static_cast<int>(len);
}

int DtlsTransport::bio_recv(void* ctx, unsigned char* buf, size_t len) {
  auto* self = static_cast<DtlsTransport*>(ctx);
  while (!self->input_.empty()) {
    Bytes d = std::move(self->input_.front());
    self->input_.pop_front();
    // A datagram larger than mbedTLS's buffer cannot be read whole; DTLS discards what it cannot
    // use (RFC 6347 section 4.1.2.7), so skip it and hand over the next one.
    if (d.size() > len) continue;
    std::copy(d.begin(), d.end(), buf);
    return static_cast<int>(d.size());
  }
  return MBEDTLS_ERR_SSL_WANT_READ;
}

void DtlsTransport::timer_set(void* ctx, uint32_t int_ms, uint32_t fin_ms) {
  auto* self = static_cast<DtlsTransport*>(ctx);
  self->timer_start_ = self->now_;
  self->timer_int_ms_ = int_ms;
  self->timer_fin_ms_ = fin_ms;
}

int DtlsTransport::timer_get(void* ctx) {
  // mbedtls_ssl_get_timer_t: -1 cancelled, 0 none expired, 1 intermediate, 2 final.
  auto* self = static_cast<DtlsTransport*>(ctx);
  if (self->timer_fin_ms_ == 0) return -1;
  Duration elapsed = self->now_ - self->timer_start_;
  if (elapsed >= milliseconds(self->timer_fin_ms_)) return 2;
  if (elapsed >= milliseconds(self->timer_int_ms_)) return 1;
  return 0;
}

int DtlsTransport::verify(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  auto* self = static_cast<DtlsTransport*>(ctx);
  if (depth > 0) {
    // Certificates above the peer's own mean nothing here (no CA in WebRTC).
    *flags = 0;
    return 0;
  }
  self->remote_fingerprint_ = format_fingerprint(sha256({crt->raw.p, crt->raw.len}));
  if (!self->config_.allow_any_fingerprint &&
      !fingerprints_equal(self->remote_fingerprint_, self->config_.remote_fingerprint)) {
    self->fingerprint_mismatch_ = true;
    // Any error other than "verification failed" (which VERIFY_OPTIONAL would forgive) ends the
    // handshake, and mbedTLS sends a fatal alert (access_denied for BADCERT_OTHER).
    *flags = MBEDTLS_X509_BADCERT_OTHER;
    return MBEDTLS_ERR_X509_FATAL_ERROR;
  }
  // Self-signed and not chained to anything: expected (RFC 8827 section 6.5); the fingerprint
  // is the trust.
  *flags = 0;
  self->peer_verified_ = true;
  return 0;
}

int DtlsTransport::rng(void* ctx, unsigned char* out, size_t len) {
  static_cast<Random*>(ctx)->fill(std::span<uint8_t>(out, len));
  return 0;
}

}  // namespace cellrtc::dtls
