// Which transports a device's ICE candidates use toward the server (docs/architecture.md, "The
// device's transports"): UDP host candidates, active ICE-TCP candidates (RFC 6544) toward the
// server's passive ones, or both with UDP preferred. tcp never opens a UDP socket, for modems
// whose PPP link drops under UDP traffic. The agent's --transport and the firmware's setting.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cellrtc::streamer {

enum class IceTransport : uint8_t { udp, tcp, automatic };
// "udp", "tcp" or "auto".
const char* to_string(IceTransport transport);
std::optional<IceTransport> parse_ice_transport(std::string_view text);

}  // namespace cellrtc::streamer
