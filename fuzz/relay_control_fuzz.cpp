// The relay's reading of control-channel JSON (docs/protocol.md) on arbitrary text: nothing
// throws or crashes; a viewer command the relay would forward is itself a valid control
// message that rebuilds to the same text (so a device only ever sees these forms).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/control_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto msg = parse_control_message(text);
  if (!msg.ok()) return 0;
  if (size > kMaxControlMessageBytes) std::abort();
  (void)read_pong(*msg);
  if (auto t = read_ping_t(*msg)) (void)pong_json(*t, 1);
  (void)telemetry_event_json(*msg, "fuzz");
  auto command = viewer_command(*msg);
  if (command.ok()) {
    auto again = parse_control_message(*command);
    if (!again.ok() || again->type != msg->type) std::abort();
    auto rebuilt = viewer_command(*again);
    if (!rebuilt.ok() || *rebuilt != *command) std::abort();
  }
  return 0;
}
