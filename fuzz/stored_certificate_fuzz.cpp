// The stored DTLS identity (Certificate::import_der) is read from flash at every boot, and flash
// can hold anything: a torn write, an older format, bit rot. Any bytes must give a certificate
// that passes the identity checks or a clear error; a certificate read back must store and
// read again as the same identity.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/dtls/certificate.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cellrtc::dtls::Certificate;
  auto cert = Certificate::import_der(cellrtc::ByteView(data, size));
  if (!cert) {
    check(cert.error().reason != nullptr && cert.error().reason[0] != '\0');
    return 0;
  }
  check(cert->fingerprint_sha256().size() == 95);
  check(cert->der().size() <= Certificate::kMaxStoredCertificateDer);
  auto stored = cert->export_der();
  check(stored.ok());
  auto again = Certificate::import_der(*stored);
  check(again.ok());
  check(again->fingerprint_sha256() == cert->fingerprint_sha256());
  check(again->key_pem() == cert->key_pem());
  return 0;
}
