// CRC-32 (ISO-HDLC, the one zlib and STUN FINGERPRINT use, RFC 8489 section 14.7).
#pragma once

#include <cstdint>

#include "core/common/bytes.h"

namespace cellrtc {

uint32_t crc32(ByteView data, uint32_t crc = 0);

}  // namespace cellrtc
