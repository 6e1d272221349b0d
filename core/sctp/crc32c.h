// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 section 6.8 and appendix B).
#pragma once

#include <cstdint>

#include "core/common/bytes.h"

namespace cellrtc::sctp {

// The CRC32c of `data` (reflected, initial value and final xor 0xFFFFFFFF), continuing from
// `crc` (a previous result) for data given in pieces.
uint32_t crc32c(ByteView data, uint32_t crc = 0);

// RFC 9260 appendix B: the checksum field holds the CRC computed with the field zeroed,
// least significant byte first.
uint32_t sctp_checksum(ByteView packet);
void write_sctp_checksum(Bytes& packet);
bool verify_sctp_checksum(ByteView packet);

}  // namespace cellrtc::sctp
