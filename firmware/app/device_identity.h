// The device's DTLS identity (certificate and key) kept across reboots, so the fingerprint a
// viewer or the server has seen (RFC 8122 a=fingerprint) stays the same and a boot spends no
// key generation: read from the store, checked, used; made and stored when the store has none,
// holds one that does not read back as a valid identity, or holds one that expires within
// kIdentityRenewBefore of a known wall-clock time (docs/firmware.md, "DTLS identity").
//
//   auto id = load_or_make_identity(store, rng, wall_clock_or_nullopt);
//   if (id) use(id->certificate);   // id->origin, id->saved for the log
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "firmware/app/key_value_store.h"

namespace cellrtc::firmware {

constexpr std::string_view kIdentityStoreKey = "dtls_identity";
// RFC 8827 section 6.5 lets a fingerprint live long (WebRTC peers check the fingerprint, not
// the validity); a certificate is still replaced before it expires, 30 days ahead.
constexpr int64_t kIdentityRenewBefore = 30 * 86400;
// A wall clock before 2025-01-01 has not been set (the board starts in 1970 until SNTP): the
// stored identity's validity is not judged against it.
constexpr int64_t kEarliestWallClock = 1735689600;

enum class IdentityOrigin : uint8_t {
  stored,               // read back from the store
  made_first,           // the store had none
  made_for_unreadable,  // the stored one failed to read or to pass the checks
  made_for_expiring,    // the stored one expires within kIdentityRenewBefore
};
const char* to_string(IdentityOrigin origin);

struct DeviceIdentity {
  dtls::Certificate certificate;
  IdentityOrigin origin = IdentityOrigin::stored;
  // Why the stored identity was not used (made_for_unreadable): the store's or the reader's
  // error.
  const char* unreadable_reason = nullptr;
  // For a made identity: whether storing it worked (if not, the next boot makes another).
  Status saved;
};

// `unix_now`: the wall clock in Unix seconds when known; nullopt (or a time before
// kEarliestWallClock) when not. Fails only when no certificate could be made at all.
Result<DeviceIdentity> load_or_make_identity(KeyValueStore& store, Random& rng,
                                             std::optional<int64_t> unix_now,
                                             std::string_view common_name = "cellrtc-device");

}  // namespace cellrtc::firmware
