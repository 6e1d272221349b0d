// Small values the device keeps across reboots (its DTLS identity), as a port: NVS on the
// device (the "cellrtc" namespace, firmware/esp32s3/main/nvs_store_esp.h), a map in tests.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::firmware {

// NVS allows keys of at most 15 characters; every store takes what NVS takes.
constexpr size_t kMaxStoreKeyLength = 15;

class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  // The value under `key`; Errc::not_found when there is none, another error when the
  // storage failed. At most `max_size` bytes: a larger value is Errc::limit_exceeded.
  virtual Result<Bytes> read(std::string_view key, size_t max_size) = 0;
  // Replaces the value under `key`, durably (committed) before it returns success.
  virtual Status write(std::string_view key, ByteView value) = 0;
};

}  // namespace cellrtc::firmware
