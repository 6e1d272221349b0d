// ChannelData parsing, stream framing and first-byte demultiplexing on arbitrary bytes (TURN
// server traffic and anything arriving on the media 5-tuple is untrusted). The input is read
// both as one datagram and as a byte stream cut into frames by stream_frame_length.
#include <cstdint>
#include <cstdlib>

#include "core/stun/channel_data.h"
#include "core/stun/demux.h"
#include "core/stun/stun_message.h"

namespace cellrtc::stun {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void datagram(ByteView input) {
  const PacketKind kind = classify_packet(input);
  auto cd = parse_channel_data(input);
  if (cd.ok()) {
    check(kind == PacketKind::channel_data);
    check(cd->channel >= kMinChannel && cd->channel <= kMaxChannel);
    check(cd->data.data() == input.data() + 4);
    check(input.size() - 4 - cd->data.size() < 4);
    // Re-encoding gives back the input up to its padding.
    Bytes again = encode_channel_data(cd->channel, cd->data, false);
    check(again.size() <= input.size());
    for (size_t i = 0; i < again.size(); ++i)
      check(again[i] == input[i]);
  } else {
    check(cd.error().reason != nullptr && cd.error().reason[0] != '\0');
  }
  // RFC 7983 section 7 demultiplexes only first bytes 0..3 as STUN, which is why methods
  // 0x100..0xFFF are reserved (IANA STUN methods registry): a message parses with any first
  // byte 0..63, and is classified as STUN exactly when its method is below 0x100.
  if (auto m = Message::parse(input); m.ok())
    check((kind == PacketKind::stun) == (m->raw_method() < 0x100));
}

void stream(ByteView input) {
  size_t pos = 0;
  while (pos < input.size()) {
    ByteView rest = input.subspan(pos);
    auto len = stream_frame_length(rest);
    if (!len.ok() || !*len) return;
    const size_t n = **len;
    check(n >= 4);
    if (n > rest.size()) return;
    ByteView frame = rest.first(n);
    if ((frame[0] & 0xC0) == 0) {
      (void)Message::parse(frame);
    } else {
      auto cd = parse_channel_data(frame);
      // A complete stream frame whose channel is in range always parses.
      check(cd.ok());
    }
    pos += n;
  }
}

void run(ByteView input) {
  datagram(input);
  stream(input);
}

}  // namespace
}  // namespace cellrtc::stun

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::stun::run(cellrtc::ByteView(data, size));
  return 0;
}
