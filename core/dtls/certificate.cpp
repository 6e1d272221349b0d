#include "core/dtls/certificate.h"

#include <mbedtls/ecp.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <array>
#include <iterator>

#include "core/common/crypto.h"
#include "core/dtls/mbedtls_compat.h"

namespace cellrtc::dtls {

struct Certificate::Impl {
  Impl() {
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&key);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  std::string cert_pem;
  std::string key_pem;
  std::string fingerprint;
};

namespace {

int rng_callback(void* ctx, unsigned char* out, size_t len) {
  static_cast<Random*>(ctx)->fill(std::span<uint8_t>(out, len));
  return 0;
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian), after H. Hinnant's published
// algorithm "civil_from_days".
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

// mbedTLS's X.509 writer wants "YYYYMMDDhhmmss".
bool x509_time(int64_t unix_seconds, std::array<char, 15>& out) {
  if (unix_seconds < 0) return false;
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y > 9999) return false;
  // Fixed-width decimal fields, written by hand (no printf on the device).
  auto put = [&out](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, y, 4);
  put(4, m, 2);
  put(6, d, 2);
  put(8, secs / 3600, 2);
  put(10, secs / 60 % 60, 2);
  put(12, secs % 60, 2);
  out[14] = '\0';
  return true;
}

bool valid_common_name(std::string_view cn) {
  if (cn.empty() || cn.size() > 64) return false;
  for (char c : cn) {
    if (c == ',' || c == '=' || c == '+' || c == '\\' || c == '"' || c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

// P-256 is what WebRTC peers expect of an ECDSA certificate (RFC 8827 section 6.5); a key on
// another curve would also fail our own key-exchange group list.
bool is_p256_key(mbedtls_pk_context* pk) {
  return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
         compat::ec_group_id(pk) == MBEDTLS_ECP_DP_SECP256R1;
}

// The PEM forms (for callers that keep or hand on PEM text) and the fingerprint of a parsed
// certificate and key.
Status write_pem_forms(Certificate::Impl& impl) {
  std::string pem(2048, '\0');
  size_t olen = 0;
  static const char kBegin[] = "-----BEGIN CERTIFICATE-----\n";
  static const char kEnd[] = "-----END CERTIFICATE-----\n";
  if (mbedtls_pem_write_buffer(kBegin, kEnd, impl.crt.raw.p, impl.crt.raw.len,
                               reinterpret_cast<unsigned char*>(pem.data()), pem.size(),
                               &olen) != 0)
    return Error{Errc::crypto, "writing the certificate PEM failed"};
  pem.resize(olen > 0 ? olen - 1 : 0);  // olen counts the terminating NUL
  impl.cert_pem = std::move(pem);

  std::string key_pem(1024, '\0');
  if (mbedtls_pk_write_key_pem(&impl.key, reinterpret_cast<unsigned char*>(key_pem.data()),
                               key_pem.size()) != 0)
    return Error{Errc::crypto, "writing the key PEM failed"};
  key_pem.resize(std::char_traits<char>::length(key_pem.c_str()));
  impl.key_pem = std::move(key_pem);

  impl.fingerprint = format_fingerprint(sha256({impl.crt.raw.p, impl.crt.raw.len}));
  return {};
}

// A parsed certificate and key are a usable DTLS identity: both P-256, the key the
// certificate's. `blinding` serves mbedTLS 3.x's blinding in the pair check.
Status check_identity(Certificate::Impl& impl, Random& blinding) {
  if (!is_p256_key(&impl.key) || !is_p256_key(&impl.crt.pk))
    return Error{Errc::unsupported, "certificate key is not ECDSA P-256"};
  if (compat::pk_check_pair(&impl.crt.pk, &impl.key, rng_callback, &blinding) != 0)
    return Error{Errc::invalid_argument, "private key does not match the certificate"};
  return {};
}

// Days from 1970-01-01 to a civil date (proleptic Gregorian), the inverse of civil_from_days
// (H. Hinnant's "days_from_civil").
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t unix_time_of(const mbedtls_x509_time& t) {
  return days_from_civil(t.year, static_cast<unsigned>(t.mon), static_cast<unsigned>(t.day)) *
             86400 +
         t.hour * 3600 + t.min * 60 + t.sec;
}

constexpr uint8_t kStoredMagic[4] = {'C', 'R', 'K', '1'};

uint16_t read_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

}  // namespace

Certificate::Certificate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Certificate::Certificate(Certificate&&) noexcept = default;
Certificate& Certificate::operator=(Certificate&&) noexcept = default;
Certificate::~Certificate() = default;

const std::string& Certificate::cert_pem() const {
  return impl_->cert_pem;
}
const std::string& Certificate::key_pem() const {
  return impl_->key_pem;
}
ByteView Certificate::der() const {
  return {impl_->crt.raw.p, impl_->crt.raw.len};
}
const std::string& Certificate::fingerprint_sha256() const {
  return impl_->fingerprint;
}
int64_t Certificate::not_before() const {
  return unix_time_of(impl_->crt.valid_from);
}
int64_t Certificate::not_after() const {
  return unix_time_of(impl_->crt.valid_to);
}
mbedtls_x509_crt* Certificate::mbedtls_certificate() const {
  return &impl_->crt;
}
mbedtls_pk_context* Certificate::mbedtls_key() const {
  return &impl_->key;
}

Result<Certificate> Certificate::generate(Random& rng, std::string_view common_name,
                                          const CertificateValidity& validity) {
  if (!valid_common_name(common_name))
    return Error{Errc::invalid_argument, "certificate common name empty, too long or with , = +"};
  std::array<char, 15> not_before{}, not_after{};
  if (!x509_time(validity.not_before, not_before) || !x509_time(validity.not_after, not_after) ||
      validity.not_after <= validity.not_before)
    return Error{Errc::invalid_argument, "certificate validity out of range"};

  auto impl = std::make_unique<Impl>();
  mbedtls_pk_context& key = impl->key;
  if (mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), rng_callback, &rng) != 0)
    return Error{Errc::crypto, "P-256 key generation failed"};

  std::string subject = "CN=" + std::string(common_name);
  // A positive 63-bit serial (RFC 5280 section 4.1.2.2: positive, at most 20 octets).
  std::array<uint8_t, 8> serial{};
  rng.fill(serial);
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x01);

  mbedtls_x509write_cert writer;
  mbedtls_x509write_crt_init(&writer);
  mbedtls_x509write_crt_set_version(&writer, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&writer, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&writer, &key);
  mbedtls_x509write_crt_set_issuer_key(&writer, &key);
  int ret = mbedtls_x509write_crt_set_subject_name(&writer, subject.c_str());
  if (ret == 0) ret = mbedtls_x509write_crt_set_issuer_name(&writer, subject.c_str());
  if (ret == 0) ret = compat::x509write_crt_set_serial(&writer, serial.data(), serial.size());
  if (ret == 0)
    ret = mbedtls_x509write_crt_set_validity(&writer, not_before.data(), not_after.data());
  // A DER certificate of a P-256 key with a short name is about 400 bytes; the PEM is about
  // 600. mbedTLS writes DER at the end of the buffer.
  Bytes der(1024);
  int der_len = ret == 0
                    ? mbedtls_x509write_crt_der(&writer, der.data(), der.size(), rng_callback, &rng)
                    : ret;
  mbedtls_x509write_crt_free(&writer);
  if (der_len <= 0) return Error{Errc::crypto, "writing the self-signed certificate failed"};

  if (mbedtls_x509_crt_parse_der(&impl->crt, der.data() + der.size() - der_len,
                                 static_cast<size_t>(der_len)) != 0)
    return Error{Errc::crypto, "the certificate just written does not parse"};

  if (Status s = write_pem_forms(*impl); !s) return s.error();
  return Certificate(std::move(impl));
}

Result<Certificate> Certificate::from_pem(std::string_view cert_pem, std::string_view key_pem) {
  auto impl = std::make_unique<Impl>();
  // mbedTLS recognises PEM by the terminating NUL it must see in the length it is given.
  std::string cert(cert_pem), key(key_pem);
  if (mbedtls_x509_crt_parse(&impl->crt, reinterpret_cast<const unsigned char*>(cert.c_str()),
                             cert.size() + 1) != 0)
    return Error{Errc::malformed, "certificate PEM does not parse"};
  // The key parser wants an RNG in 3.x (for blinding); any Random will do for that.
  SeededRandom blinding(0x636572742d6b6579ull);
  if (compat::pk_parse_key(&impl->key, reinterpret_cast<const unsigned char*>(key.c_str()),
                           key.size() + 1, rng_callback, &blinding) != 0)
    return Error{Errc::malformed, "private key PEM does not parse (or is encrypted)"};
  if (Status s = check_identity(*impl, blinding); !s) return s.error();
  impl->cert_pem = std::move(cert);
  impl->key_pem = std::move(key);
  impl->fingerprint = format_fingerprint(sha256({impl->crt.raw.p, impl->crt.raw.len}));
  return Certificate(std::move(impl));
}

Result<Bytes> Certificate::export_der() const {
  // mbedTLS writes the key's DER at the end of the buffer; a P-256 SEC1 key is 121 bytes.
  std::array<uint8_t, kMaxStoredKeyDer> key{};
  const int key_len = mbedtls_pk_write_key_der(&impl_->key, key.data(), key.size());
  const size_t cert_len = impl_->crt.raw.len;
  if (key_len <= 0 || cert_len > kMaxStoredCertificateDer)
    return Error{Errc::crypto, "writing the key DER failed"};
  Bytes out;
  out.reserve(sizeof(kStoredMagic) + 4 + cert_len + static_cast<size_t>(key_len));
  out.insert(out.end(), std::begin(kStoredMagic), std::end(kStoredMagic));
  out.push_back(static_cast<uint8_t>(cert_len >> 8));
  out.push_back(static_cast<uint8_t>(cert_len));
  out.insert(out.end(), impl_->crt.raw.p, impl_->crt.raw.p + cert_len);
  out.push_back(static_cast<uint8_t>(key_len >> 8));
  out.push_back(static_cast<uint8_t>(key_len));
  out.insert(out.end(), key.end() - key_len, key.end());
  return out;
}

Result<Certificate> Certificate::import_der(ByteView stored) {
  if (stored.size() < sizeof(kStoredMagic) + 2 ||
      !std::equal(std::begin(kStoredMagic), std::end(kStoredMagic), stored.begin()))
    return Error{Errc::malformed, "stored certificate: not the CRK1 format"};
  ByteView rest = stored.subspan(sizeof(kStoredMagic));
  const size_t cert_len = read_u16(rest.data());
  if (cert_len == 0 || cert_len > kMaxStoredCertificateDer)
    return Error{Errc::limit_exceeded, "stored certificate: certificate length out of range"};
  if (rest.size() < 2 + cert_len + 2)
    return Error{Errc::truncated, "stored certificate: ends inside the certificate"};
  const ByteView cert_der = rest.subspan(2, cert_len);
  rest = rest.subspan(2 + cert_len);
  const size_t key_len = read_u16(rest.data());
  if (key_len == 0 || key_len > kMaxStoredKeyDer)
    return Error{Errc::limit_exceeded, "stored certificate: key length out of range"};
  if (rest.size() < 2 + key_len)
    return Error{Errc::truncated, "stored certificate: ends inside the key"};
  if (rest.size() > 2 + key_len)
    return Error{Errc::malformed, "stored certificate: bytes after the key"};
  const ByteView key_der = rest.subspan(2, key_len);

  auto impl = std::make_unique<Impl>();
  if (mbedtls_x509_crt_parse_der(&impl->crt, cert_der.data(), cert_der.size()) != 0)
    return Error{Errc::malformed, "stored certificate: certificate DER does not parse"};
  SeededRandom blinding(0x636572742d6b6579ull);
  // DER without a trailing NUL: mbedTLS does not try PEM on it.
  if (compat::pk_parse_key(&impl->key, key_der.data(), key_der.size(), rng_callback, &blinding) !=
      0)
    return Error{Errc::malformed, "stored certificate: key DER does not parse"};
  if (Status s = check_identity(*impl, blinding); !s) return s.error();
  if (Status s = write_pem_forms(*impl); !s) return s.error();
  return Certificate(std::move(impl));
}

std::string format_fingerprint(ByteView digest) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(digest.size() * 3);
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

bool fingerprints_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  auto upper = [](char c) { return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c; };
  for (size_t i = 0; i < a.size(); ++i) {
    bool colon = i % 3 == 2;
    if (colon) {
      if (a[i] != ':' || b[i] != ':') return false;
    } else if (!hex(a[i]) || !hex(b[i]) || upper(a[i]) != upper(b[i])) {
      return false;
    }
  }
  return a.size() % 3 == 2;
}

}  // namespace cellrtc::dtls
