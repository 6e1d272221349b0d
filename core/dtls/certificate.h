// The DTLS identity of an endpoint: an ECDSA P-256 key and a self-signed X.509 certificate, as
// WebRTC uses them (RFC 8827 section 6.5: the certificate is not checked against any CA; its
// SHA-256 fingerprint travels in the SDP's a=fingerprint, RFC 8122, and the peer compares).
//
//   SeededRandom rng(1);  // an OS-backed Random in products
//   auto cert = Certificate::generate(rng, "cellrtc-device", CertificateValidity{});
//   store(cert->cert_pem(), cert->key_pem());           // generate once, keep across boots
//   auto again = Certificate::from_pem(cert_pem, key_pem);
//   sdp += "a=fingerprint:sha-256 " + again->fingerprint_sha256() + "\r\n";
//
// Generating costs a P-256 key generation and one signature (tens of milliseconds on an
// ESP32-S3); a device should generate once and keep the PEM in flash. Move-only; one
// certificate may serve any number of DtlsTransports on the same thread (mbedTLS caches a
// table in the key while signing, so it must not be used from two threads at once).
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

  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;
  ~Certificate();

  const std::string& cert_pem() const;
  const std::string& key_pem() const;
  ByteView der() const;
  // RFC 8122 section 5 / RFC 4572: SHA-256 of the DER certificate as uppercase hex pairs
  // separated by colons, "AB:CD:...:EF" (95 characters).
  const std::string& fingerprint_sha256() const;

  // For the transport: mbedTLS objects (non-const because mbedTLS's API takes them so).
  mbedtls_x509_crt* mbedtls_certificate() const;
  mbedtls_pk_context* mbedtls_key() const;

 private:
  struct Impl;
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
