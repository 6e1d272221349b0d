// TURN over TCP/TLS framing (RFC 8656 section 12.5) on arbitrary bytes: the stream from a TURN
// server is untrusted. The first input byte picks how the rest is cut into reads; the framer
// must hold at most max_frame bytes, hand out only whole frames whose length matches their
// header, and a TurnClient fed the same reads (after an Allocate) must stay consistent.
#include <cstdint>
#include <cstdlib>

#include "core/common/random.h"
#include "core/stun/channel_data.h"
#include "core/turn/stream_framer.h"
#include "core/turn/turn_client.h"

namespace cellrtc::turn {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void run(ByteView input) {
  if (input.empty()) return;
  const size_t chunk = static_cast<size_t>(input[0] % 64) + 1;
  ByteView stream = input.subspan(1);

  StreamFramerConfig config;
  config.max_frame = 256;
  config.max_queued_frames = 16;
  StreamFramer framer(config);

  SeededRandom rng(1);
  TurnClientConfig client_config;
  client_config.transport = TurnTransport::tcp;
  client_config.credentials = {"1700000000:fuzz", "password"};
  client_config.framing = config;
  TurnClient client(client_config, rng);
  const Instant now = Instant::from_us(1);
  check(client.allocate(now).ok());
  while (client.poll_transmit()) {
  }

  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    ByteView piece = stream.subspan(pos, std::min(chunk, stream.size() - pos));
    client.handle_input(now, piece);
    while (client.poll_transmit()) {
    }
    while (client.poll_event()) {
    }
    if (!framer.failed()) {
      auto s = framer.push(piece);
      check(s.ok() != framer.failed());
    }
    check(framer.buffered() <= config.max_frame);
    while (auto frame = framer.next()) {
      check(frame->bytes.size() >= 4 && frame->bytes.size() <= config.max_frame);
      auto length = stun::stream_frame_length(frame->bytes);
      check(length.ok() && *length && **length == frame->bytes.size());
      if (frame->kind == FrameKind::channel_data) {
        check(stun::parse_channel_data(frame->bytes).ok());
      }
    }
  }
  client.handle_timeout(now + seconds(60));
}

}  // namespace
}  // namespace cellrtc::turn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::turn::run(cellrtc::ByteView(data, size));
  return 0;
}
