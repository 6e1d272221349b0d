#include "core/common/crypto.h"

#include <mbedtls/md.h>

namespace cellrtc {
namespace {

template <size_t N>
std::array<uint8_t, N> digest(mbedtls_md_type_t type, ByteView data) {
  std::array<uint8_t, N> out{};
  mbedtls_md(mbedtls_md_info_from_type(type), data.data(), data.size(), out.data());
  return out;
}

}  // namespace

Sha1Digest hmac_sha1(ByteView key, ByteView data) {
  Sha1Digest out{};
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), key.data(), key.size(), data.data(),
                  data.size(), out.data());
  return out;
}

Sha256Digest sha256(ByteView data) {
  return digest<32>(MBEDTLS_MD_SHA256, data);
}
Md5Digest md5(ByteView data) {
  return digest<16>(MBEDTLS_MD_MD5, data);
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace cellrtc
