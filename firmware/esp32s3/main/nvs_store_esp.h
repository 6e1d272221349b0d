// The KeyValueStore port on NVS (nvs_flash, ESP-IDF v5.4): blobs in the "cellrtc" namespace of
// the default NVS partition. app_main initialises the partition (nvs_flash_init) first.
#pragma once

#include "firmware/app/key_value_store.h"
#include "nvs.h"

namespace cellrtc::firmware::esp {

class NvsStore final : public KeyValueStore {
 public:
  static constexpr const char* kNamespace = "cellrtc";
  ~NvsStore() override;
  // Opens the namespace for reading and writing; an error name for the log, or null.
  const char* open();

  Result<Bytes> read(std::string_view key, size_t max_size) override;
  Status write(std::string_view key, ByteView value) override;

 private:
  nvs_handle_t handle_ = 0;
  bool open_ = false;
};

}  // namespace cellrtc::firmware::esp
