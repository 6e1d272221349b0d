#include "nvs_store_esp.h"

#include <string>

#include "esp_err.h"

namespace cellrtc::firmware::esp {

NvsStore::~NvsStore() {
  if (open_) nvs_close(handle_);
}

const char* NvsStore::open() {
  if (open_) return nullptr;
  const esp_err_t err = nvs_open(kNamespace, NVS_READWRITE, &handle_);
  if (err != ESP_OK) return esp_err_to_name(err);
  open_ = true;
  return nullptr;
}

Result<Bytes> NvsStore::read(std::string_view key, size_t max_size) {
  if (!open_) return Error{Errc::invalid_state, "NVS namespace not open"};
  if (key.empty() || key.size() > kMaxStoreKeyLength)
    return Error{Errc::invalid_argument, "NVS key empty or longer than 15 characters"};
  const std::string name(key);
  size_t length = 0;
  esp_err_t err = nvs_get_blob(handle_, name.c_str(), nullptr, &length);
  if (err == ESP_ERR_NVS_NOT_FOUND) return Error{Errc::not_found, "not in NVS"};
  if (err != ESP_OK) return Error{Errc::invalid_state, "NVS read failed"};
  if (length > max_size) return Error{Errc::limit_exceeded, "NVS value larger than expected"};
  Bytes out(length);
  err = nvs_get_blob(handle_, name.c_str(), out.data(), &length);
  if (err != ESP_OK) return Error{Errc::invalid_state, "NVS read failed"};
  out.resize(length);
  return out;
}

Status NvsStore::write(std::string_view key, ByteView value) {
  if (!open_) return Error{Errc::invalid_state, "NVS namespace not open"};
  if (key.empty() || key.size() > kMaxStoreKeyLength)
    return Error{Errc::invalid_argument, "NVS key empty or longer than 15 characters"};
  const std::string name(key);
  if (nvs_set_blob(handle_, name.c_str(), value.data(), value.size()) != ESP_OK)
    return Error{Errc::invalid_state, "NVS write failed (partition full?)"};
  if (nvs_commit(handle_) != ESP_OK) return Error{Errc::invalid_state, "NVS commit failed"};
  return {};
}

}  // namespace cellrtc::firmware::esp
