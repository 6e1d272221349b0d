#include "firmware/app/device_identity.h"

#include <algorithm>
#include <utility>

namespace cellrtc::firmware {

const char* to_string(IdentityOrigin origin) {
  switch (origin) {
    case IdentityOrigin::stored:
      return "stored";
    case IdentityOrigin::made_first:
      return "made (none stored)";
    case IdentityOrigin::made_for_unreadable:
      return "made (stored one unreadable)";
    case IdentityOrigin::made_for_expiring:
      return "made (stored one expiring)";
  }
  return "?";
}

namespace {

// The stored form's largest size: magic, two lengths and the two limits.
constexpr size_t kMaxStoredIdentity =
    4 + 2 + dtls::Certificate::kMaxStoredCertificateDer + 2 + dtls::Certificate::kMaxStoredKeyDer;
constexpr int64_t kYear = 365 * 86400;

}  // namespace

Result<DeviceIdentity> load_or_make_identity(KeyValueStore& store, Random& rng,
                                             std::optional<int64_t> unix_now,
                                             std::string_view common_name) {
  const int64_t clock = unix_now.value_or(0);
  const bool clock_known = clock >= kEarliestWallClock;

  IdentityOrigin origin = IdentityOrigin::made_first;
  const char* unreadable = nullptr;
  auto stored = store.read(kIdentityStoreKey, kMaxStoredIdentity);
  if (stored) {
    auto cert = dtls::Certificate::import_der(*stored);
    if (!cert) {
      origin = IdentityOrigin::made_for_unreadable;
      unreadable = cert.error().reason;
    } else if (clock_known && cert->not_after() - clock < kIdentityRenewBefore) {
      origin = IdentityOrigin::made_for_expiring;
    } else {
      return DeviceIdentity{std::move(*cert), IdentityOrigin::stored, nullptr, {}};
    }
  } else if (stored.error().code != Errc::not_found) {
    origin = IdentityOrigin::made_for_unreadable;
    unreadable = stored.error().reason;
  }

  // The default validity (2025 to 2100) unless the clock is known and lies outside it.
  dtls::CertificateValidity validity;
  if (clock_known) {
    validity.not_before = std::min(validity.not_before, clock - 86400);
    validity.not_after = std::max(validity.not_after, clock + 75 * kYear);
  }
  auto made = dtls::Certificate::generate(rng, common_name, validity);
  if (!made) return made.error();
  DeviceIdentity identity{std::move(*made), origin, unreadable, {}};
  auto bytes = identity.certificate.export_der();
  identity.saved = bytes ? store.write(kIdentityStoreKey, *bytes) : Status(bytes.error());
  return identity;
}

}  // namespace cellrtc::firmware
