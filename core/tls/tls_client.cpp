#include "core/tls/tls_client.h"

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>

// The 2.28/3.x differences cellrtc meets are gathered in one header, shared with core/dtls
// (TLS 1.2 and DTLS 1.2 take the same version and group settings).
#include "core/dtls/mbedtls_compat.h"

namespace cellrtc::tls {

const char* to_string(TlsState state) {
  switch (state) {
    case TlsState::new_:
      return "new";
    case TlsState::handshaking:
      return "handshaking";
    case TlsState::connected:
      return "connected";
    case TlsState::closed:
      return "closed";
    case TlsState::failed:
      return "failed";
  }
  return "?";
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse of the
// usual era algorithm); month 1..12.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t unix_seconds(const mbedtls_x509_time& t) {
  return days_from_civil(t.year, t.mon, t.day) * 86400 + int64_t{t.hour} * 3600 +
         int64_t{t.min} * 60 + t.sec;
}

const char* verify_reason(uint32_t flags) {
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
    return "the server's certificate does not name the expected server";
  if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
    return "the server's certificate is outside its validity period";
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
    return "the server's certificate does not chain to the configured CA";
  if (flags & MBEDTLS_X509_BADCERT_MISSING) return "the server sent no certificate";
  return "the server's certificate failed verification";
}

}  // namespace

struct TlsClient::Impl {
  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_x509_crt_init(&ca);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  mbedtls_x509_crt ca;
};

TlsClient::TlsClient(TlsClientConfig config, Random& rng)
    : config_(std::move(config)), rng_(rng), impl_(std::make_unique<Impl>()) {}

TlsClient::~TlsClient() = default;

Status TlsClient::start(Instant now) {
  (void)now;
  if (state_ != TlsState::new_) return Error{Errc::invalid_state, "TLS client already started"};
  if (config_.server_name.empty())
    return Error{Errc::invalid_argument, "TLS needs the server's name to verify it"};
  if (config_.ca_pem.empty())
    return Error{Errc::invalid_argument, "TLS needs a CA certificate to verify the server"};
  if (dtls::compat::init_crypto() != 0)
    return Error{Errc::crypto, "crypto library initialisation failed"};
  // mbedtls_x509_crt_parse takes PEM with its terminating NUL counted in the length.
  std::string pem = config_.ca_pem;
  int ret = mbedtls_x509_crt_parse(&impl_->ca, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                   pem.size() + 1);
  if (ret != 0) return Error{Errc::invalid_argument, "the CA PEM holds no usable certificate"};

  mbedtls_ssl_config* conf = &impl_->conf;
  if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0)
    return Error{Errc::crypto, "mbedTLS configuration failed"};
  mbedtls_ssl_conf_rng(conf, &TlsClient::rng, &rng_);
  dtls::compat::conf_dtls12_only(conf);  // TLS 1.2: the same version numbers
  dtls::compat::conf_groups(conf);
  // RFC 8656 section 3.1 / RFC 6125: the server must prove its name with a certificate from a
  // CA we trust; REQUIRED ends the handshake otherwise.
  mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, &impl_->ca, nullptr);
  mbedtls_ssl_conf_verify(conf, &TlsClient::verify, this);

  mbedtls_ssl_context* ssl = &impl_->ssl;
  if (mbedtls_ssl_setup(ssl, conf) != 0)
    return Error{Errc::crypto, "mbedTLS setup failed (out of memory?)"};
  // SNI and the name the certificate must carry.
  if (mbedtls_ssl_set_hostname(ssl, config_.server_name.c_str()) != 0)
    return Error{Errc::invalid_argument, "server name refused by mbedTLS (too long?)"};
  mbedtls_ssl_set_bio(ssl, this, &TlsClient::bio_send, &TlsClient::bio_recv, nullptr);
  state_ = TlsState::handshaking;
  drive();
  return {};
}

void TlsClient::handle_input(Instant now, ByteView bytes) {
  (void)now;
  if (state_ != TlsState::handshaking && state_ != TlsState::connected) return;
  // Drop what mbedTLS has consumed, then append; bounded so a peer cannot make us hold more.
  if (input_pos_ > 0) {
    input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(input_pos_));
    input_pos_ = 0;
  }
  if (input_.size() + bytes.size() > config_.max_buffered_input) {
    fail("TLS input buffer overflow", 0);
    return;
  }
  input_.insert(input_.end(), bytes.begin(), bytes.end());
  drive();
}

void TlsClient::drive() {
  if (state_ == TlsState::handshaking) {
    int ret = mbedtls_ssl_handshake(&impl_->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (ret != 0) {
      const uint32_t flags = mbedtls_ssl_get_verify_result(&impl_->ssl);
      if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != uint32_t(-1)) {
        fail(verify_reason(flags), ret, flags);
      } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        fail("the server sent a fatal alert during the TLS handshake", ret);
      } else {
        fail("TLS handshake failed", ret);
      }
      return;
    }
    state_ = TlsState::connected;
    const char* suite = mbedtls_ssl_get_ciphersuite(&impl_->ssl);
    events_.push_back(event::Connected{suite ? suite : ""});
    if (!pending_plaintext_.empty()) {
      Bytes pending = std::move(pending_plaintext_);
      pending_plaintext_.clear();
      if (!write_now(pending)) return;
    }
  }
  if (state_ == TlsState::connected) read_application_data();
}

void TlsClient::read_application_data() {
  unsigned char buf[2048];
  while (state_ == TlsState::connected) {
    int ret = mbedtls_ssl_read(&impl_->ssl, buf, sizeof(buf));
    if (ret > 0) {
      // A stream: pieces need not keep record boundaries.
      events_.push_back(event::Data{Bytes(buf, buf + ret)});
      continue;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      // RFC 5246 section 7.2.1: answer close_notify with our own.
      (void)mbedtls_ssl_close_notify(&impl_->ssl);
      state_ = TlsState::closed;
      events_.push_back(event::Closed{});
      return;
    }
    fail(ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE ? "the server sent a fatal alert"
                                                    : "TLS connection failed",
         ret);
    return;
  }
}

Status TlsClient::write(ByteView plaintext) {
  if (state_ == TlsState::new_ || state_ == TlsState::handshaking) {
    if (pending_plaintext_.size() + plaintext.size() > config_.max_pending_plaintext)
      return Error{Errc::limit_exceeded, "too much data waiting for the TLS handshake"};
    pending_plaintext_.insert(pending_plaintext_.end(), plaintext.begin(), plaintext.end());
    return {};
  }
  if (state_ != TlsState::connected) return Error{Errc::invalid_state, "TLS is not connected"};
  return write_now(plaintext);
}

Status TlsClient::write_now(ByteView plaintext) {
  // mbedtls_ssl_write takes at most one record's worth per call.
  while (!plaintext.empty()) {
    int ret = mbedtls_ssl_write(&impl_->ssl, plaintext.data(), plaintext.size());
    if (ret <= 0) {
      fail("TLS write failed", ret);
      return Error{Errc::crypto, "TLS write failed"};
    }
    plaintext = plaintext.subspan(static_cast<size_t>(ret));
  }
  return {};
}

std::optional<Bytes> TlsClient::poll_transmit() {
  if (output_.empty()) return std::nullopt;
  Bytes b = std::move(output_.front());
  output_.pop_front();
  return b;
}

std::optional<TlsEvent> TlsClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  TlsEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void TlsClient::close(Instant now) {
  (void)now;
  if (state_ == TlsState::connected) (void)mbedtls_ssl_close_notify(&impl_->ssl);
  if (state_ != TlsState::failed) state_ = TlsState::closed;
  input_.clear();
  input_pos_ = 0;
  pending_plaintext_.clear();
}

void TlsClient::fail(const char* reason, int tls_error, uint32_t verify_flags) {
  state_ = TlsState::failed;
  input_.clear();
  input_pos_ = 0;
  pending_plaintext_.clear();
  events_.push_back(event::Failed{reason, tls_error, verify_flags});
}

// --- mbedTLS callbacks

int TlsClient::bio_send(void* ctx, const unsigned char* buf, size_t len) {
  auto* self = static_cast<TlsClient*>(ctx);
  self->output_.emplace_back(buf, buf + len);
  return static_cast<int>(len);
}

int TlsClient::bio_recv(void* ctx, unsigned char* buf, size_t len) {
  auto* self = static_cast<TlsClient*>(ctx);
  const size_t available = self->input_.size() - self->input_pos_;
  if (available == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  const size_t n = std::min(len, available);
  std::copy_n(self->input_.begin() + static_cast<ptrdiff_t>(self->input_pos_), n, buf);
  self->input_pos_ += n;
  return static_cast<int>(n);
}

int TlsClient::verify(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  (void)depth;
  auto* self = static_cast<TlsClient*>(ctx);
  // Validity dates: mbedTLS's verdict (from its own clock, where it has one) is replaced by the
  // owner's time, or dropped when the owner has none (see the header).
  *flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
  if (self->config_.now_unix_s) {
    const int64_t now = *self->config_.now_unix_s;
    if (now < unix_seconds(crt->valid_from)) *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    if (now > unix_seconds(crt->valid_to)) *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
  }
  return 0;
}

int TlsClient::rng(void* ctx, unsigned char* out, size_t len) {
  static_cast<Random*>(ctx)->fill(std::span<uint8_t>(out, len));
  return 0;
}

}  // namespace cellrtc::tls
