// The few primitives the core needs, on mbedTLS's generic message-digest API (the part of
// it that is the same in 2.28, Debian's, and 3.x, ESP-IDF's).
#pragma once

#include <array>
#include <cstdint>

#include "core/common/bytes.h"

namespace cellrtc {

using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;
using Md5Digest = std::array<uint8_t, 16>;

Sha1Digest hmac_sha1(ByteView key, ByteView data);
Sha256Digest sha256(ByteView data);
Md5Digest md5(ByteView data);

// Compares without an early exit, so the time taken says nothing about where a MAC differs.
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace cellrtc
