// An immutable byte buffer held by reference: one message handed to many senders (a relayed
// frame going to every viewer) without a copy per sender. Whoever holds a SharedBytes may read
// it and nobody may change it; the bytes are freed when the last holder lets go.
#pragma once

#include <memory>

#include "core/common/bytes.h"

namespace cellrtc {

using SharedBytes = std::shared_ptr<const Bytes>;

// One copy of `data`, to be shared from then on (buffer and reference count in one allocation).
inline SharedBytes make_shared_bytes(ByteView data) {
  return std::make_shared<const Bytes>(data.begin(), data.end());
}
// Takes `data` over without copying it.
inline SharedBytes make_shared_bytes(Bytes&& data) {
  return std::make_shared<const Bytes>(std::move(data));
}

}  // namespace cellrtc
