// The relay's reading of control-channel JSON (docs/protocol.md) on arbitrary text: nothing
// throws or crashes; a viewer command the relay would forward is itself a valid control
// message that rebuilds to the same text (so a device only ever sees these forms).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/control_messages.h"
#include "server/direct_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto msg = parse_control_message(text);
  if (!msg.ok()) return 0;
  if (size > kMaxControlMessageBytes) std::abort();
  (void)read_pong(*msg);
  if (auto t = read_ping_t(*msg)) (void)pong_json(*t, 1);
  (void)telemetry_event_json(*msg, "fuzz");
  // Direct mode: what a device sends back is bounded; an SDP forwarded in parts rejoins.
  (void)read_direct_state(*msg);
  (void)read_direct_error(*msg);
  if (auto part = read_direct_sdp_part(*msg); part.ok()) {
    if (part->sdp.size() > kMaxDirectSdpPartBytes || part->part >= part->parts) std::abort();
    DirectSdpAssembler assembler;
    std::string joined;
    for (const auto& text_part : direct_sdp_messages("direct-offer", part->id, part->sdp)) {
      if (text_part.size() > kMaxControlMessageBytes) std::abort();
      auto parsed = parse_control_message(text_part);
      if (!parsed.ok()) std::abort();
      auto again = read_direct_sdp_part(*parsed);
      if (!again.ok()) std::abort();
      auto whole = assembler.add(*again);
      if (!whole.ok()) std::abort();
      if (whole->has_value()) joined = **whole;
    }
    if (!part->sdp.empty() && joined != part->sdp) std::abort();
  }
  auto command = viewer_command(*msg);
  if (command.ok()) {
    auto again = parse_control_message(*command);
    if (!again.ok() || again->type != msg->type) std::abort();
    auto rebuilt = viewer_command(*again);
    if (!rebuilt.ok() || *rebuilt != *command) std::abort();
  }
  return 0;
}
