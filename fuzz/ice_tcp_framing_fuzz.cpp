// ICE-TCP framing (RFC 4571, RFC 6544 section 3) on arbitrary bytes: an ICE-TCP connection's
// stream is untrusted. The first input byte picks how the rest is cut into reads; the framer
// must hold at most max_frame + 2 bytes and a bounded queue, hand out only whole non-empty
// frames no longer than max_frame that re-frame to the bytes they came from, and the
// first-bytes test must agree with a STUN parse of a whole first frame.
#include <cstdint>
#include <cstdlib>

#include "core/ice/tcp_framing.h"
#include "core/stun/stun_message.h"

namespace cellrtc::ice {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void run(ByteView input) {
  if (input.empty()) return;
  const size_t chunk = static_cast<size_t>(input[0] % 64) + 1;
  ByteView stream = input.subspan(1);

  Rfc4571FramerConfig config;
  config.max_frame = 512;
  config.max_queued_frames = 8;
  Rfc4571Framer framer(config);

  if (starts_with_framed_stun(stream)) {
    // The prefix test promises a STUN header whose length agrees with the frame.
    const size_t frame = (static_cast<size_t>(stream[0]) << 8) | stream[1];
    check(frame >= 20 && frame % 4 == 0);
    check(stun::looks_like_stun(stream.subspan(2, std::min(frame, stream.size() - 2))) ||
          stream.size() - 2 < frame);
  }

  size_t consumed = 0;
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    ByteView piece = stream.subspan(pos, std::min(chunk, stream.size() - pos));
    if (framer.failed()) break;
    auto s = framer.push(piece);
    check(s.ok() != framer.failed());
    check(framer.buffered() <= config.max_frame + 2);
    check(framer.queued() <= config.max_queued_frames);
    while (auto frame = framer.next()) {
      check(!frame->empty() && frame->size() <= config.max_frame);
      auto again = frame_rfc4571(*frame);
      check(again.ok() && again->size() == frame->size() + 2);
      (void)stun::Message::parse(*frame);
      consumed += again->size();
    }
  }
  check(consumed <= stream.size());
}

}  // namespace
}  // namespace cellrtc::ice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::ice::run(cellrtc::ByteView(data, size));
  return 0;
}
