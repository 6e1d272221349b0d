// TS 27.010 frames from an untrusted modem: the decoder on arbitrary bytes (split where the
// first byte says), every decoded frame re-encoded and decoded again to the same frame, DLCI 0
// payloads through the control-message decoder, and the same bytes into an open multiplexer.
#include <cstdint>
#include <cstdlib>

#include "modem/cmux_frame.h"
#include "modem/cmux_mux.h"

namespace cellrtc::modem::cmux {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void run(ByteView input) {
  if (input.empty()) return;
  const size_t split = input[0] % (input.size());
  input = input.subspan(1);
  Decoder d(256);
  d.push(input.subspan(0, std::min(split, input.size())));
  if (split < input.size()) d.push(input.subspan(split));
  while (auto f = d.poll()) {
    check(f->dlci < 64 && f->info.size() <= 256);
    auto again = encode(*f);
    check(again.ok());
    Decoder d2;
    d2.push(*again);
    auto g = d2.poll();
    check(g && g->dlci == f->dlci && g->cr == f->cr && g->type == f->type && g->pf == f->pf &&
          g->info == f->info);
    if (f->dlci == 0) {
      if (auto msgs = decode_control(f->info); msgs.ok()) {
        for (const auto& m : *msgs) {
          auto back = decode_control(encode_control(m));
          check(back.ok() && back->size() == 1 && (*back)[0].value == m.value);
        }
      }
    }
  }
  // An open multiplexer fed the same bytes: never more channels than configured, and every
  // output decodes.
  Mux mux;
  Instant now;
  mux.open(now);
  for (uint8_t dlci : {0, 1, 2}) {
    auto ua = encode(Frame{dlci, true, FrameType::ua, true, {}});
    mux.handle_bytes(now, *ua);
  }
  mux.handle_bytes(now, input);
  now += seconds(2);
  mux.handle_timeout(now);
  (void)mux.send(now, 1, input);
  Decoder out;
  while (auto b = mux.poll_transmit())
    out.push(*b);
  while (out.poll()) {
  }
  check(out.stats().bad_fcs == 0 && out.stats().missing_flag == 0);
  while (mux.poll_event()) {
  }
}

}  // namespace
}  // namespace cellrtc::modem::cmux

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::modem::cmux::run(cellrtc::ByteView(data, size));
  return 0;
}
