// A WHEP viewer of our core (a LoopbackPeer over UDP) that watches a camera of the real
// cellrtc-server until it has a number of frames, and checks they arrive in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace cellrtc::process {

// POSTs the viewer's offer to /whep/<camera> on `http_port`, then runs until `count` frames
// arrived on "video" (at most 30 s); their sequence numbers increase. `context` (logs of the
// device and server) is added to failure messages. Call it in ASSERT_NO_FATAL_FAILURE.
void watch_frames_in_order(uint16_t http_port, std::string_view camera, size_t count,
                           const std::function<std::string()>& context);

}  // namespace cellrtc::process
