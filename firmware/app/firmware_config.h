// The firmware's settings (Kconfig on the device, see firmware/esp32s3/main/Kconfig.projbuild)
// and their validation: every field a person types is checked before anything starts, and a
// bad one is named with what is wrong, so the boot log says "config: apn: ..." instead of the
// modem answering ERROR a minute later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/streamer/ice_transport.h"
#include "core/streamer/relay_plan.h"
#include "firmware/app/camera_pins.h"
#include "firmware/app/frame_size.h"
#include "modem/supervisor.h"

namespace cellrtc::firmware {

enum class ModemLinkKind : uint8_t { usb_cdc, uart };

struct UartLinkConfig {
  int tx_pin = -1;  // the ESP32's TX, to the modem's RXD
  int rx_pin = -1;
  uint32_t baud = 115200;  // the A76xx's default rate
};

struct FirmwareConfig {
  // WHIP endpoint of cellrtc-server (docs/protocol.md): https://host[:port][/path]; a URL
  // without a path gets /whip.
  std::string server_url;
  std::string device_token;  // Authorization: Bearer (RFC 6750); empty: the server asks none
  // Trust anchors for the device's TLS connections (the WHIP server's https, and turns:
  // relays), as PEM certificates: a private CA, or the server's own self-signed certificate.
  // Empty: the ESP x509 certificate bundle (public CAs) for https.
  std::string ca_pem;
  // The sessions' paths to the server (core/streamer/ice_transport.h): udp, tcp (ICE-TCP and
  // TURN over TCP/TLS only: not one UDP socket, for modems whose PPP link drops under UDP
  // traffic), or auto (both, UDP preferred).
  streamer::IceTransport transport = streamer::IceTransport::automatic;
  // RTCIceTransportPolicy "relay" (W3C WebRTC section 4.2.5; the agent's
  // --ice-transport-policy relay): no host or ICE-TCP candidate, every path through a TURN
  // relay, for networks where only the TURN server is reachable. The transport still decides
  // whether TURN over UDP may be used.
  bool relay_only = false;
  // More TURN servers, comma separated turn:/turns: URLs (RFC 7065; the agent's --turn-url):
  // gathered after the ones of the server's answer, with the time-limited credentials the
  // server gave for its own (no TURN secret on the device). turns: entries need ca_pem.
  std::string turn_urls;

  std::string apn;
  std::string apn_user;
  std::string apn_password;
  std::string sim_pin;  // empty: the SIM has no PIN

  ModemLinkKind modem_link = ModemLinkKind::usb_cdc;
  UartLinkConfig uart;
  bool use_cmux = false;
  int modem_power_key_pin = -1;  // -1: not wired
  int modem_reset_pin = -1;

  CameraBoard camera_board = CameraBoard::xiao_esp32s3_sense;
  FrameSize frame_size = FrameSize::vga;  // the largest size streamed
  int jpeg_quality = 60;                  // 1..100, the highest quality streamed

  // Bench use: stream over Wi-Fi instead of the modem (empty SSID: cellular).
  std::string wifi_ssid;
  std::string wifi_password;

  bool uses_wifi() const { return !wifi_ssid.empty(); }
};

struct ConfigError {
  const char* field = "";
  std::string message;
};

Result<void, ConfigError> validate(const FirmwareConfig& config);
// The certificates of a non-empty ca_pem as validate() checks them: only PEM certificate
// blocks that all parse, at most kMaxCaPemBytes. Their count, or what is wrong.
constexpr size_t kMaxCaPemBytes = 16384;
Result<size_t, ConfigError> count_ca_certificates(std::string_view ca_pem);
// A setting that works but not as one may expect, for a warning at boot: transport tcp with
// the server given by name (the name is looked up by DNS, over UDP). nullopt: nothing to say.
std::optional<std::string> transport_warning(const FirmwareConfig& config);
// The entries of a turn_urls setting (spaces around each are ignored), each a turn: or turns:
// URL that core/turn's parser accepts, at most kMaxTurnUrls of them in kMaxTurnUrlsBytes. An
// error names the entry: "entry 2 (turn:x:0): ...". `has_ca`: ca_pem is set (turns: needs it);
// `transport`: tcp refuses TURN over UDP (it opens no UDP socket).
constexpr size_t kMaxTurnUrls = 8;  // turn::RelayGathererConfig::max_servers
constexpr size_t kMaxTurnUrlsBytes = 1024;
Result<std::vector<std::string>, ConfigError> parse_turn_urls(std::string_view list, bool has_ca,
                                                              streamer::IceTransport transport);
// The sessions' TURN settings for a valid configuration: the configured URLs and the turns: CA,
// named "CELLRTC_CA_PEM_FILE" (its Kconfig option) in the relay notes.
streamer::RelayPlanConfig relay_plan_config(const FirmwareConfig& config);
// "server_url: ..." for the log.
std::string describe(const ConfigError& error);

// The host and port of a valid server URL, and the WHIP path (/whip when the URL has none).
struct ServerEndpoint {
  bool tls = true;
  std::string host;
  uint16_t port = 443;
  std::string path;
};
Result<ServerEndpoint, ConfigError> parse_server_url(std::string_view url);

// The connection supervisor's settings for a valid configuration.
modem::SupervisorConfig supervisor_config(const FirmwareConfig& config);

}  // namespace cellrtc::firmware
