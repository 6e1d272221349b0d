// The DTLS identity of an endpoint: an ECDSA P-256 key and a self-signed X.509 certificate, as
// WebRTC uses them (RFC 8827 section 6.5: the certificate is not checked against any CA; its
// SHA-256 fingerprint travels in the SDP's a=fingerprint, RFC 8122, and the peer compares).
//
//   SeededRandom rng(1);  // an OS-backed Random in products
//   auto cert = Certificate::generate(rng, "cellrtc-device", CertificateValidity{});
//   store(cert->export_der().value());                  // generate once, keep across boots
//   auto again = Certificate::import_der(stored);        // or from_pem(cert_pem, key_pem)
//   sdp += "a=fingerprint:sha-256 " + again->fingerprint_sha256() + "\r\n";
//
// Generating costs a P-256 key generation and one signature (tens of milliseconds on an
// ESP32-S3); a device should generate once and keep it in flash (export_der, about 550 bytes).
// Move-only; one certificate may serve any number of DtlsTransports on the same thread (mbedTLS
// caches a table in the key while signing, so it must not be used from two threads at once).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"

struct mbedtls_x509_crt;
struct mbedtls_pk_context;

namespace cellrtc::dtls {

// Validity as Unix times (seconds, UTC). The core reads no clock: the caller passes what it
// knows. WebRTC peers ignore validity (only the fingerprint counts), so a device without a
// real-time clock can keep the defaults.
struct CertificateValidity {
  int64_t not_before = 1735689600;  // 2025-01-01T00:00:00Z
  int64_t not_after = 4102444800;   // 2100-01-01T00:00:00Z
};

class Certificate {
 public:
  // A new P-256 key and a self-signed certificate "CN=<common_name>" (no ',', '=', '+', '\\'
  // or '"'; 1..64 characters), SHA-256 ECDSA signature, random 63-bit serial.
  static Result<Certificate> generate(Random& rng, std::string_view common_name,
                                      const CertificateValidity& validity = {});
  // A certificate and its private key (PKCS#8, SEC1 or any form mbedTLS reads, unencrypted).
  // Fails unless the key is an EC key on P-256 that matches the certificate.
  static Result<Certificate> from_pem(std::string_view cert_pem, std::string_view key_pem);

  // The certificate and its key in one compact form for storage (flash), about 550 bytes:
  // "CRK1", then the certificate's DER and the key's DER (SEC1, RFC 5915), each after its
  // length as 16 bits big-endian. The key is in clear: store it where only the device reads.
  Result<Bytes> export_der() const;
  // Reads what export_der wrote, as untrusted bytes (flash may hold anything: an older format,
  // a torn write, bit rot): every length is checked against the limits below and the input's
  // end, nothing may follow, and the pair must pass from_pem's checks (P-256, key matches).
  static Result<Certificate> import_der(ByteView stored);
  static constexpr size_t kMaxStoredCertificateDer = 1536;
  static constexpr size_t kMaxStoredKeyDer = 256;

  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;
  ~Certificate();

  const std::string& cert_pem() const;
  const std::string& key_pem() const;
  ByteView der() const;
  // RFC 8122 section 5 / RFC 4572: SHA-256 of the DER certificate as uppercase hex pairs
  // separated by colons, "AB:CD:...:EF" (95 characters).
  const std::string& fingerprint_sha256() const;
  // The certificate's validity (RFC 5280 section 4.1.2.5) as Unix seconds, UTC.
  int64_t not_before() const;
  int64_t not_after() const;

  // For the transport: mbedTLS objects (non-const because mbedTLS's API takes them so).
  mbedtls_x509_crt* mbedtls_certificate() const;
  mbedtls_pk_context* mbedtls_key() const;

  struct Impl;  // opaque: defined in certificate.cpp

 private:
  explicit Certificate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "AB:CD:..." for any digest: uppercase hex pairs separated by colons.
std::string format_fingerprint(ByteView digest);
// Compares two fingerprints in the RFC 8122 form, ignoring letter case (RFC 8122 section 5
// writes UHEX, but peers send lowercase too). Anything that is not hex pairs and colons on
// either side compares unequal.
bool fingerprints_equal(std::string_view a, std::string_view b);

}  // namespace cellrtc::dtls
