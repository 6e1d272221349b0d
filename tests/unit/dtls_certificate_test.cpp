#include <gtest/gtest.h>

#include <string>

#include "core/common/random.h"
#include "core/dtls/certificate.h"

namespace cellrtc::dtls {
namespace {

// A P-256 certificate and key made with OpenSSL 3.0 (`openssl ecparam -name prime256v1 -genkey`,
// `openssl req -x509 -new -subj /CN=cellrtc-fixture -days 36500 -sha256`), and the fingerprint
// `openssl x509 -noout -fingerprint -sha256` printed for it.
constexpr char kFixtureCert[] = R"(-----BEGIN CERTIFICATE-----
MIIBjDCCATGgAwIBAgIUDslWtCn8DpAIdP4nTCSf52ZBUv4wCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPY2VsbHJ0Yy1maXh0dXJlMCAXDTI2MTEyNDEzMTExMFoYDzIx
MjYxMDMxMTMxMTEwWjAaMRgwFgYDVQQDDA9jZWxscnRjLWZpeHR1cmUwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAT9TgLaiUsufek54I8mKFH2GUwZJ0YFTMIlxQNq
D0tW2fuOjbLGPVd3hzRJp1TR+ANjAf3n7LcTwpnhDEOFrQD/o1MwUTAdBgNVHQ4E
FgQUjp73BANpAFASCZvYqk1PXUJbmdkwHwYDVR0jBBgwFoAUjp73BANpAFASCZvY
qk1PXUJbmdkwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA1apT
G4Y6Ev3bxQqcjICB16R3GR6Fj9tsSllW01rr7uMCIQDU33vlnbTkaPY3I/cjiRFl
mJeyzdaIFTk/Bzn/0D9kiw==
-----END CERTIFICATE-----
)";
constexpr char kFixtureKeySec1[] = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJDtCgfYjAjwEZJsuXOe1PO9EmeXw4OhiJPLNIRWL9OUoAoGCCqGSM49
AwEHoUQDQgAE/U4C2olLLn3pOeCPJihR9hlMGSdGBUzCJcUDag9LVtn7jo2yxj1X
d4c0SadU0fgDYwH95+y3E8KZ4QxDha0A/w==
-----END EC PRIVATE KEY-----
)";
constexpr char kFixtureKeyPkcs8[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkO0KB9iMCPARkmy5
c57U870SZ5fDg6GIk8s0hFYv05ShRANCAAT9TgLaiUsufek54I8mKFH2GUwZJ0YF
TMIlxQNqD0tW2fuOjbLGPVd3hzRJp1TR+ANjAf3n7LcTwpnhDEOFrQD/
-----END PRIVATE KEY-----
)";
constexpr char kFixtureFingerprint[] =
    "87:58:0B:25:E3:8F:7D:58:BF:1B:98:B1:10:15:6D:77:6E:05:CB:0D:9A:39:FE:B3:65:A2:E1:70:F3:9E:"
    "77:4A";

bool is_fingerprint_format(const std::string& fp) {
  if (fp.size() != 95) return false;
  for (size_t i = 0; i < fp.size(); ++i) {
    char c = fp[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

TEST(DtlsCertificate, FingerprintOfAnOpenSslCertificateMatchesOpenSsl) {
  auto cert = Certificate::from_pem(kFixtureCert, kFixtureKeySec1);
  ASSERT_TRUE(cert) << cert.error().reason;
  EXPECT_EQ(cert->fingerprint_sha256(), kFixtureFingerprint);
  auto pkcs8 = Certificate::from_pem(kFixtureCert, kFixtureKeyPkcs8);
  ASSERT_TRUE(pkcs8) << pkcs8.error().reason;
  EXPECT_EQ(pkcs8->fingerprint_sha256(), kFixtureFingerprint);
}

TEST(DtlsCertificate, GeneratedCertificateHasP256KeyAndRfc8122Fingerprint) {
  SeededRandom rng(7);
  auto cert = Certificate::generate(rng, "cellrtc-device");
  ASSERT_TRUE(cert) << cert.error().reason;
  EXPECT_TRUE(is_fingerprint_format(cert->fingerprint_sha256())) << cert->fingerprint_sha256();
  EXPECT_NE(cert->cert_pem().find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(cert->key_pem().find("PRIVATE KEY-----"), std::string::npos);
  EXPECT_GT(cert->der().size(), 200u);
  EXPECT_LT(cert->der().size(), 600u);
}

TEST(DtlsCertificate, PemRoundTripKeepsTheIdentity) {
  SeededRandom rng(8);
  auto cert = Certificate::generate(rng, "cellrtc-device");
  ASSERT_TRUE(cert);
  auto again = Certificate::from_pem(cert->cert_pem(), cert->key_pem());
  ASSERT_TRUE(again) << again.error().reason;
  EXPECT_EQ(again->fingerprint_sha256(), cert->fingerprint_sha256());
  EXPECT_EQ(again->cert_pem(), cert->cert_pem());
  EXPECT_TRUE(
      std::equal(again->der().begin(), again->der().end(), cert->der().begin(), cert->der().end()));
}

TEST(DtlsCertificate, SameSeedSameCertificate) {
  SeededRandom a(9), b(9);
  auto ca = Certificate::generate(a, "x");
  auto cb = Certificate::generate(b, "x");
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->fingerprint_sha256(), cb->fingerprint_sha256());
  SeededRandom c(10);
  auto cc = Certificate::generate(c, "x");
  ASSERT_TRUE(cc);
  EXPECT_NE(cc->fingerprint_sha256(), ca->fingerprint_sha256());
}

TEST(DtlsCertificate, RejectsMismatchedOrBrokenPem) {
  SeededRandom rng(11);
  auto other = Certificate::generate(rng, "other");
  ASSERT_TRUE(other);
  auto mismatched = Certificate::from_pem(kFixtureCert, other->key_pem());
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().code, Errc::invalid_argument);
  EXPECT_FALSE(Certificate::from_pem("not a pem", kFixtureKeySec1));
  EXPECT_FALSE(Certificate::from_pem(kFixtureCert, "not a key"));
}

TEST(DtlsCertificate, RejectsBadNamesAndValidity) {
  SeededRandom rng(12);
  EXPECT_FALSE(Certificate::generate(rng, ""));
  EXPECT_FALSE(Certificate::generate(rng, "a,O=evil"));
  EXPECT_FALSE(Certificate::generate(rng, std::string(65, 'a')));
  EXPECT_FALSE(Certificate::generate(rng, "x", CertificateValidity{100, 50}));
  EXPECT_FALSE(Certificate::generate(rng, "x", CertificateValidity{-1, 50}));
  // Past 2049 X.509 switches to GeneralizedTime; mbedTLS writes either.
  EXPECT_TRUE(Certificate::generate(rng, "x", CertificateValidity{0, 4102444800}));
}

TEST(DtlsCertificate, ValidityReadsBackAsUnixTime) {
  auto fixture = Certificate::from_pem(kFixtureCert, kFixtureKeySec1);
  ASSERT_TRUE(fixture);
  EXPECT_EQ(fixture->not_before(), 1795525870);  // 2026-11-24T13:11:10Z (UTCTime)
  EXPECT_EQ(fixture->not_after(), 4949125870);   // 2126-10-31T13:11:10Z (GeneralizedTime)
  SeededRandom rng(13);
  auto made = Certificate::generate(rng, "x", CertificateValidity{1767225599, 1769904000});
  ASSERT_TRUE(made);
  EXPECT_EQ(made->not_before(), 1767225599);  // 2025-12-31T23:59:59Z
  EXPECT_EQ(made->not_after(), 1769904000);   // 2026-02-01T00:00:00Z
}

TEST(DtlsCertificate, StoredFormRoundTripKeepsTheIdentity) {
  SeededRandom rng(14);
  auto cert = Certificate::generate(rng, "cellrtc-device");
  ASSERT_TRUE(cert);
  auto stored = cert->export_der();
  ASSERT_TRUE(stored) << stored.error().reason;
  EXPECT_LT(stored->size(), 600u);
  auto again = Certificate::import_der(*stored);
  ASSERT_TRUE(again) << again.error().reason;
  EXPECT_EQ(again->fingerprint_sha256(), cert->fingerprint_sha256());
  EXPECT_EQ(again->cert_pem(), cert->cert_pem());
  EXPECT_EQ(again->key_pem(), cert->key_pem());
  // An OpenSSL key (PKCS#8 on the way in) is stored as SEC1 and reads back the same.
  auto fixture = Certificate::from_pem(kFixtureCert, kFixtureKeyPkcs8);
  ASSERT_TRUE(fixture);
  auto fixture_stored = fixture->export_der();
  ASSERT_TRUE(fixture_stored);
  auto fixture_again = Certificate::import_der(*fixture_stored);
  ASSERT_TRUE(fixture_again) << fixture_again.error().reason;
  EXPECT_EQ(fixture_again->fingerprint_sha256(), kFixtureFingerprint);
}

TEST(DtlsCertificate, StoredFormRejectsTruncatedExtendedAndForeignBytes) {
  SeededRandom rng(15);
  auto cert = Certificate::generate(rng, "cellrtc-device");
  ASSERT_TRUE(cert);
  const Bytes stored = cert->export_der().value();
  for (size_t len = 0; len < stored.size(); ++len) {
    auto cut = Certificate::import_der(ByteView(stored.data(), len));
    EXPECT_FALSE(cut) << "prefix of " << len << " bytes";
  }
  Bytes longer = stored;
  longer.push_back(0);
  auto extended = Certificate::import_der(longer);
  ASSERT_FALSE(extended);
  EXPECT_EQ(extended.error().code, Errc::malformed);

  Bytes pem(cert->cert_pem().begin(), cert->cert_pem().end());
  EXPECT_FALSE(Certificate::import_der(pem));  // not the stored format at all

  Bytes bad_length = stored;
  bad_length[4] = 0xff;  // a certificate longer than the limit
  auto over = Certificate::import_der(bad_length);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::limit_exceeded);
}

TEST(DtlsCertificate, StoredFormRejectsAKeyOfAnotherCertificate) {
  SeededRandom rng(16);
  auto a = Certificate::generate(rng, "a");
  auto b = Certificate::generate(rng, "b");
  ASSERT_TRUE(a && b);
  const Bytes sa = a->export_der().value();
  const Bytes sb = b->export_der().value();
  // a's certificate with b's key: same layout, so swap the key part.
  const size_t a_key_at = 4 + 2 + a->der().size();
  const size_t b_key_at = 4 + 2 + b->der().size();
  Bytes mixed(sa.begin(), sa.begin() + static_cast<std::ptrdiff_t>(a_key_at));
  mixed.insert(mixed.end(), sb.begin() + static_cast<std::ptrdiff_t>(b_key_at), sb.end());
  auto imported = Certificate::import_der(mixed);
  ASSERT_FALSE(imported);
  EXPECT_EQ(imported.error().code, Errc::invalid_argument);

  Bytes flipped = sa;
  flipped[a_key_at + 12] ^= 0x01;  // a bit of the private scalar
  EXPECT_FALSE(Certificate::import_der(flipped));
}

TEST(DtlsCertificate, FingerprintFormattingAndComparison) {
  const uint8_t digest[] = {0xab, 0x01, 0xff};
  EXPECT_EQ(format_fingerprint(digest), "AB:01:FF");
  EXPECT_TRUE(fingerprints_equal("AB:01:FF", "ab:01:ff"));
  EXPECT_TRUE(fingerprints_equal(kFixtureFingerprint, std::string(kFixtureFingerprint)));
  EXPECT_FALSE(fingerprints_equal("AB:01:FF", "AB:01:FE"));
  EXPECT_FALSE(fingerprints_equal("AB:01:FF", "AB:01:F"));
  EXPECT_FALSE(fingerprints_equal("AB-01-FF", "AB-01-FF"));
  EXPECT_FALSE(fingerprints_equal("", ""));
  EXPECT_FALSE(fingerprints_equal("GG:01:FF", "GG:01:FF"));
}

}  // namespace
}  // namespace cellrtc::dtls
