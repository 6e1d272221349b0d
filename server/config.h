#pragma once

// cellrtc-server's configuration: what a TOML file, command-line flags and CELLRTC_* environment
// variables set (parsed in config.cpp; flags override the environment, which overrides the file).
// The defaults need no file at all: HTTP on 127.0.0.1:8080, relay mode, one demo device.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/common/time.h"

namespace cellrtc::server {

// A device that may publish. Its identity is the token's: a WHIP request is the device whose
// token it carries.
// How viewers reach a device (docs/protocol.md, "Direct mode"): through the relay, or by a
// peer connection the device makes to each viewer with the server only signaling, or that first
// and the relay when it does not connect within direct_timeout.
enum class DeviceMode : uint8_t { relay, direct, direct_then_relay };
const char* to_string(DeviceMode mode);
std::optional<DeviceMode> parse_device_mode(std::string_view text);

struct DeviceEntry {
  std::string id;            // [A-Za-z0-9_-]{1,64}; in URLs (/whep/<id>) and the API
  std::string token;         // WHIP bearer token
  std::string viewer_token;  // when set, viewers need it (access.viewers = "token")
};

// A device's own direct-mode settings ([[device]] mode, direct_viewers, direct_timeout);
// unset: relay.mode, relay.direct_viewers, relay.direct_timeout.
struct DeviceDirectSettings {
  std::string id;
  std::optional<DeviceMode> mode;
  std::optional<size_t> direct_viewers;
  std::optional<Duration> direct_timeout;
};

struct TurnSettings {
  // coturn's static-auth-secret: the server hands out TURN REST credentials
  // (username "<expiry>:<id>", password base64(HMAC-SHA1(secret, username))); empty = none.
  std::string secret;
  std::vector<std::string> urls;       // "turn:turn.example.com:3478?transport=udp", "turns:..."
  std::vector<std::string> stun_urls;  // plain STUN servers to announce, no credentials
  Duration ttl = seconds(3600);
};

struct RelaySettings {
  // Media plane: one UDP port for every session (ICE-lite).
  uint16_t udp_port = 8443;
  std::vector<std::string> udp_addresses = {"127.0.0.1"};  // addresses to bind the port on
  std::vector<std::string> public_ips;     // announced in answers instead of the bound addresses
  Duration reconnect_grace = seconds(20);  // viewers stay while their device comes back
  size_t max_devices = 64;                 // publishing sessions at once
  size_t max_viewers = 512;                // viewing sessions at once, all devices
  size_t max_viewers_per_device = 64;
  size_t max_sdp_bytes = 32 * 1024;
  bool viewer_control = true;  // forward viewer commands (set, snapshot) to devices
  // Tell devices how many relay viewers watch (docs/protocol.md, "demand"): with none they send
  // only an idle frame now and then. Off: they always send at full rate.
  bool demand = true;
  bool viewers_need_token = false;  // "token": WHEP needs the device's viewer_token
  // ICE-TCP (RFC 6544): passive TCP candidates next to the UDP one. A dedicated port bound on
  // udp_addresses (0: none), and/or the HTTP(S) listener's port, which then tells framed
  // STUN from TLS and HTTP by a connection's first bytes (docs/deploy.md).
  uint16_t ice_tcp_port = 0;
  bool ice_tcp_shared = false;
  size_t ice_tcp_max_per_address = 8;  // ICE-TCP connections at once from one IP address
  size_t ice_tcp_max_connections = 1024;
  // Direct mode, the default of every device (a [[device]] table may set its own):
  // "relay", "direct" or "direct-then-relay"; direct peer connections per device at once
  // (more viewers are served by the relay); direct-then-relay: a direct connection that is not
  // up within direct_timeout gives way to the relay.
  std::string mode = "relay";
  size_t direct_viewers = 2;
  Duration direct_timeout = seconds(5);
};

struct HttpSettings {
  std::string listen = "127.0.0.1:8080";  // host:port; "[::]:8080" for IPv6
  std::string tls_certificate;            // PEM files: HTTPS when both are set
  std::string tls_key;
  std::string web_root;  // the viewer page's files; empty = the directory built in
  std::vector<std::string> cors_origins = {"*"};
  double requests_per_second = 5;  // WHIP/WHEP requests per client address
  double request_burst = 20;
  size_t max_body_bytes = 64 * 1024;
  size_t max_connections = 1024;  // TCP connections at once (HTTP and WebSocket)
  // Reverse proxies (nginx on the same host: "127.0.0.1") whose X-Forwarded-For names the
  // client, for rate limits and logs; from any other peer the header is ignored.
  std::vector<std::string> trusted_proxies;
};

struct ServerConfig {
  HttpSettings http;
  RelaySettings relay;
  TurnSettings turn;
  std::vector<DeviceEntry> devices;                 // empty = one "demo" device with a random token
  std::vector<DeviceDirectSettings> device_direct;  // by device id, from [[device]] tables
  std::string certificate_file;    // DTLS certificate+key PEM; empty = generated at start
  std::string log_level = "info";  // error, warn, info, debug
  bool log_json = false;
};

// A configuration that cannot be used: the message names the file and line, the environment
// variable or the flag, and the key ("cellrtc.toml:12: http.listen: not host:port").
// The mode, direct viewer limit and timeout of device `id`, its own or the relay's defaults.
struct DirectPolicy {
  DeviceMode mode = DeviceMode::relay;
  size_t direct_viewers = 2;
  Duration direct_timeout = seconds(5);
};
DirectPolicy direct_policy(const ServerConfig& config, std::string_view id);

struct ConfigError {
  std::string message;
};

// Reads an environment variable; nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Reads a whole file (the --config file); nullopt when it cannot be read.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// What the command line asks for.
struct CommandLine {
  ServerConfig config;
  bool help = false;        // --help: print config_help() and exit 0
  std::string config_file;  // --config FILE or CELLRTC_CONFIG, empty when none
};

// The configuration from, in increasing precedence: the defaults, the TOML file named by
// --config (or CELLRTC_CONFIG), CELLRTC_* environment variables, the other flags. `args` is
// argv[1..]. Validated (validate_config) before it is returned.
Result<CommandLine, ConfigError> parse_command_line(const std::vector<std::string>& args,
                                                    const EnvironmentLookup& environment,
                                                    const FileReader& read_file);

// Applies a TOML document to `config` (keys not in the document keep their values).
// `source_name` prefixes error messages. Unknown keys are errors.
Result<void, ConfigError> apply_toml(std::string_view toml_text, std::string_view source_name,
                                     ServerConfig& config);

// Checks value ranges and consistency (see config_help() for the rules).
Result<void, ConfigError> validate_config(const ServerConfig& config);

// The text of --help: every option with its TOML key, environment variable, flag and default.
std::string config_help();

// "id:token[:viewer_token]", as --device and CELLRTC_DEVICES take it.
Result<DeviceEntry, ConfigError> parse_device_spec(std::string_view spec);

}  // namespace cellrtc::server
