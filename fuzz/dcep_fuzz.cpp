// parse_dcep on arbitrary bytes (the payload of every PPID 50 message the peer sends). Beyond
// memory safety it checks the codec's contract: an OPEN that parses encodes to bytes that
// parse back to the same message and encode identically, and survives the trip through
// ChannelParameters; the first four bytes also go through classify_ppid.
#include <cstdint>
#include <cstdlib>

#include "core/datachannel/dcep.h"

using namespace cellrtc;
using namespace cellrtc::datachannel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView input(data, size);
  if (size >= 4) {
    auto kind = classify_ppid(load_be32(data));
    if (!kind.ok() && kind.error().reason == nullptr) std::abort();
  }
  auto parsed = parse_dcep(input);
  if (!parsed.ok()) {
    if (parsed.error().reason == nullptr || parsed.error().reason[0] == '\0') std::abort();
    return 0;
  }
  if (std::holds_alternative<DataChannelAck>(*parsed)) {
    if (encode_ack() != Bytes(input.begin(), input.end())) std::abort();
    return 0;
  }
  const auto& open = std::get<DataChannelOpen>(*parsed);
  auto encoded = encode_open(open);
  if (!encoded.ok()) std::abort();
  auto again = parse_dcep(*encoded);
  if (!again.ok() || !std::holds_alternative<DataChannelOpen>(*again)) std::abort();
  if (!(std::get<DataChannelOpen>(*again) == open)) std::abort();
  auto twice = encode_open(std::get<DataChannelOpen>(*again));
  if (!twice.ok() || *twice != *encoded) std::abort();

  ChannelParameters params = from_open_message(open, 1);
  if (!validate(params).ok()) std::abort();
  auto back = to_open_message(params);
  if (!back.ok() || !(*back == open)) std::abort();
  return 0;
}
