// The one place where mbedTLS 2.28 (Debian, the host build) and 3.x (ESP-IDF) differ in an API
// cellrtc uses. Everything else in core/dtls calls the API the two have in common. Include only
// from .cpp files: it pulls in mbedTLS headers.
#pragma once

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include <cstddef>
#include <cstdint>

#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

namespace cellrtc::dtls::compat {

using RngFunction = int (*)(void*, unsigned char*, size_t);

// 3.x takes an RNG for blinding; 2.28 does not.
inline int pk_parse_key(mbedtls_pk_context* pk, const unsigned char* key, size_t key_len,
                        [[maybe_unused]] RngFunction rng, [[maybe_unused]] void* rng_ctx) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_parse_key(pk, key, key_len, nullptr, 0, rng, rng_ctx);
#else
  return mbedtls_pk_parse_key(pk, key, key_len, nullptr, 0);
#endif
}

inline int pk_check_pair(const mbedtls_pk_context* pub, const mbedtls_pk_context* prv,
                         [[maybe_unused]] RngFunction rng, [[maybe_unused]] void* rng_ctx) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_check_pair(pub, prv, rng, rng_ctx);
#else
  return mbedtls_pk_check_pair(pub, prv);
#endif
}

// 3.4 added a raw-bytes serial setter and deprecated the bignum one.
inline int x509write_crt_set_serial(mbedtls_x509write_cert* crt, const uint8_t* serial,
                                    size_t len) {
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
  return mbedtls_x509write_crt_set_serial_raw(crt, const_cast<unsigned char*>(serial), len);
#else
  mbedtls_mpi mpi;
  mbedtls_mpi_init(&mpi);
  int ret = mbedtls_mpi_read_binary(&mpi, serial, len);
  if (ret == 0) ret = mbedtls_x509write_crt_set_serial(crt, &mpi);
  mbedtls_mpi_free(&mpi);
  return ret;
#endif
}

// The curve of an EC key (3.x made the keypair's fields private).
inline mbedtls_ecp_group_id ec_group_id(const mbedtls_pk_context* pk) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_ec(*pk)->MBEDTLS_PRIVATE(grp).id;
#else
  return mbedtls_pk_ec(*pk)->grp.id;
#endif
}

// DTLS 1.2 only (RFC 8827 section 6.5 asks for DTLS 1.2 or later; mbedTLS has no DTLS 1.3).
inline void conf_dtls12_only(mbedtls_ssl_config* conf) {
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

// Key exchange groups: x25519 first where the library has it (cheaper than P-256 in software
// and what browsers offer first), then P-256, which every WebRTC peer supports (RFC 8827
// section 6.5). 3.1 renamed curves to groups and switched to IANA ids.
inline void conf_groups(mbedtls_ssl_config* conf) {
#if MBEDTLS_VERSION_NUMBER >= 0x03010000
  static const uint16_t kGroups[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
#endif
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE
  };
  mbedtls_ssl_conf_groups(conf, kGroups);
#else
  static const mbedtls_ecp_group_id kCurves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_NONE
  };
  mbedtls_ssl_conf_curves(conf, kCurves);
#endif
}

// A handshake that found no cipher suite (or, in 3.x, no key exchange group) in common with the
// peer: 3.0 folded 2.28's own code for it into the general handshake-failure code.
inline bool is_no_common_parameters(int ret) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return ret == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE;
#else
  return ret == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN;
#endif
}

// 3.x routes TLS crypto through PSA when built with MBEDTLS_USE_PSA_CRYPTO, and 3.6 needs PSA
// for any TLS once TLS 1.3 is compiled in (its default configuration, an ESP-IDF option), even
// when only 1.2 is negotiated: initialise it once (idempotent) before a handshake whenever the
// library has it. Returns 0 on success.
inline int init_crypto() {
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
  return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
#else
  return 0;
#endif
}

}  // namespace cellrtc::dtls::compat
