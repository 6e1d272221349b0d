#include "server/config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>
#include <variant>

#include "core/common/socket_address.h"

namespace cellrtc::server {
namespace {

// One option of ServerConfig, reachable under one TOML key, one environment variable and one
// flag. The table below is the single place that lists them: parsing, validation and --help all
// read it, so no option can be settable one way and missing another.
using StringRef = std::string& (*)(ServerConfig&);
using ListRef = std::vector<std::string>& (*)(ServerConfig&);
using BoolRef = bool& (*)(ServerConfig&);
using NumberRef = double& (*)(ServerConfig&);
using SizeRef = size_t& (*)(ServerConfig&);
using PortRef = uint16_t& (*)(ServerConfig&);
using SecondsRef = Duration& (*)(ServerConfig&);
using Access = std::variant<StringRef, ListRef, BoolRef, NumberRef, SizeRef, PortRef, SecondsRef>;
// A rule on the option's value: an empty string when it holds, else what is wrong.
using Check = std::string (*)(const ServerConfig&);

struct Option {
  std::string_view key;   // TOML: "http.listen" is [http] listen
  std::string_view flag;  // "--listen"
  std::string_view value_name;
  std::string_view help;
  Access access;
  Check check;
  bool secret = false;  // never printed (its default is empty anyway)
};

std::string no_check(const ServerConfig&) {
  return {};
}

std::string check_address(const std::string& text, bool need_port) {
  if (need_port) {
    if (!SocketAddress::parse(text)) {
      return "'" + text + "' is not IP:PORT (\"127.0.0.1:8080\", \"[::]:8080\")";
    }
  } else if (!IpAddress::parse(text)) {
    return "'" + text + "' is not an IP address";
  }
  return {};
}

// Rules between options, checked once every source has been read.
std::string check_pairs(const ServerConfig& c) {
  if (c.http.tls_certificate.empty() != c.http.tls_key.empty()) {
    return "http.tls_certificate and http.tls_key must be set together";
  }
  if (c.turn.secret.empty() != c.turn.urls.empty()) {
    return "turn.secret and turn.urls must be set together";
  }
  return {};
}

std::string check_url_schemes(const std::vector<std::string>& urls,
                              std::initializer_list<std::string_view> schemes) {
  for (const auto& url : urls) {
    bool ok = false;
    for (auto scheme : schemes) {
      if (url.size() > scheme.size() && url.compare(0, scheme.size(), scheme) == 0) ok = true;
    }
    if (!ok) {
      std::string list;
      for (auto scheme : schemes)
        list += (list.empty() ? "" : " or ") + std::string(scheme);
      return "'" + url + "' does not start with " + list + " (RFC 7064, RFC 7065)";
    }
  }
  return {};
}

std::string check_range(double value, double low, double high, std::string_view what) {
  if (!(value >= low && value <= high)) {
    std::ostringstream out;
    out << what << " must be in [" << low << ", " << high << "], not " << value;
    return out.str();
  }
  return {};
}

const std::vector<Option>& options() {
  static const std::vector<Option> table = {
      {"http.listen", "--listen", "IP:PORT",
       "where HTTP(S) listens; port 0 picks a free port (printed at start)",
       StringRef{[](ServerConfig& c) -> std::string& { return c.http.listen; }},
       [](const ServerConfig& c) { return check_address(c.http.listen, true); }},
      {"http.tls_certificate", "--tls-certificate", "FILE",
       "PEM certificate chain; HTTPS (TLS 1.2+) when set with http.tls_key",
       StringRef{[](ServerConfig& c) -> std::string& { return c.http.tls_certificate; }}, no_check},
      {"http.tls_key", "--tls-key", "FILE", "PEM private key of http.tls_certificate",
       StringRef{[](ServerConfig& c) -> std::string& { return c.http.tls_key; }}, no_check},
      {"http.web_root", "--web-root", "DIR",
       "the viewer page's files, served at / and /web/ (empty: web/ of the source tree it was "
       "built from)",
       StringRef{[](ServerConfig& c) -> std::string& { return c.http.web_root; }}, no_check},
      {"http.cors_origins", "--cors-origin", "ORIGIN",
       "origins allowed to call WHIP/WHEP from a browser (repeatable; \"*\" for any)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.http.cors_origins; }},
       no_check},
      {"http.requests_per_second", "--requests-per-second", "N",
       "WHIP/WHEP requests per second per client address (token bucket rate), 0.01..10000",
       NumberRef{[](ServerConfig& c) -> double& { return c.http.requests_per_second; }},
       [](const ServerConfig& c) {
         return check_range(c.http.requests_per_second, 0.01, 10000, "requests per second");
       }},
      {"http.request_burst", "--request-burst", "N",
       "WHIP/WHEP requests a client may make at once (token bucket size), 1..100000",
       NumberRef{[](ServerConfig& c) -> double& { return c.http.request_burst; }},
       [](const ServerConfig& c) {
         return check_range(c.http.request_burst, 1, 100000, "request burst");
       }},
      {"http.max_body_bytes", "--max-body-bytes", "BYTES",
       "largest request body (larger: 413), 1024..16777216",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.http.max_body_bytes; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.http.max_body_bytes), 1024, 16 << 20,
                            "max body bytes");
       }},
      {"http.max_connections", "--max-connections", "N",
       "TCP connections at once, HTTP and WebSocket (more are closed at once), 1..100000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.http.max_connections; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.http.max_connections), 1, 100000,
                            "max connections");
       }},
      {"http.trusted_proxies", "--trusted-proxy", "IP",
       "a reverse proxy whose X-Forwarded-For names the client (repeatable; nginx: 127.0.0.1)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.http.trusted_proxies; }},
       [](const ServerConfig& c) -> std::string {
         for (const auto& a : c.http.trusted_proxies) {
           if (auto e = check_address(a, false); !e.empty()) return e;
         }
         return {};
       }},
      {"relay.udp_port", "--udp-port", "PORT",
       "the media plane's UDP port for every session; 0 picks a free one (printed at start)",
       PortRef{[](ServerConfig& c) -> uint16_t& { return c.relay.udp_port; }}, no_check},
      {"relay.udp_addresses", "--udp-address", "IP",
       "addresses to bind the UDP port on, one per address family (repeatable)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.relay.udp_addresses; }},
       [](const ServerConfig& c) -> std::string {
         if (c.relay.udp_addresses.empty()) return "at least one UDP address is needed";
         bool v4 = false;
         bool v6 = false;
         for (const auto& a : c.relay.udp_addresses) {
           auto ip = IpAddress::parse(a);
           if (!ip) return check_address(a, false);
           bool& seen = ip->is_v4() ? v4 : v6;
           if (seen) return "more than one address of the same family ('" + a + "')";
           seen = true;
         }
         return {};
       }},
      {"relay.public_ips", "--public-ip", "IP",
       "addresses announced in answers instead of the bound ones (behind 1:1 NAT; repeatable)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.relay.public_ips; }},
       [](const ServerConfig& c) -> std::string {
         for (const auto& a : c.relay.public_ips) {
           if (auto e = check_address(a, false); !e.empty()) return e;
         }
         return {};
       }},
      {"relay.reconnect_grace", "--reconnect-grace", "SECONDS",
       "how long viewers wait for their device to come back, 0..3600",
       SecondsRef{[](ServerConfig& c) -> Duration& { return c.relay.reconnect_grace; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.reconnect_grace.count()) / 1e6, 0, 3600,
                            "reconnect grace (s)");
       }},
      {"relay.max_devices", "--max-devices", "N", "publishing sessions at once, 1..100000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.max_devices; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.max_devices), 1, 100000, "max devices");
       }},
      {"relay.max_viewers", "--max-viewers", "N",
       "viewing sessions at once, all devices, 1..100000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.max_viewers; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.max_viewers), 1, 100000, "max viewers");
       }},
      {"relay.max_viewers_per_device", "--max-viewers-per-device", "N",
       "viewing sessions of one device, 1..100000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.max_viewers_per_device; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.max_viewers_per_device), 1, 100000,
                            "max viewers per device");
       }},
      {"relay.max_sdp_bytes", "--max-sdp-bytes", "BYTES",
       "largest offer or trickle fragment, 1024..http.max_body_bytes",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.max_sdp_bytes; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.max_sdp_bytes), 1024,
                            static_cast<double>(c.http.max_body_bytes), "max SDP bytes");
       }},
      {"relay.viewer_control", "--viewer-control", "BOOL",
       "forward viewers' commands (set, snapshot) to devices",
       BoolRef{[](ServerConfig& c) -> bool& { return c.relay.viewer_control; }}, no_check},
      {"relay.demand", "--demand", "BOOL",
       "tell devices how many relay viewers watch; with none they send only idle frames",
       BoolRef{[](ServerConfig& c) -> bool& { return c.relay.demand; }}, no_check},
      {"relay.viewers_need_token", "--viewers-need-token", "BOOL",
       "WHEP needs the device's viewer_token (then every device must have one)",
       BoolRef{[](ServerConfig& c) -> bool& { return c.relay.viewers_need_token; }}, no_check},
      {"relay.ice_tcp_port", "--ice-tcp-port", "PORT",
       "a TCP port (on the UDP addresses) for passive ICE-TCP candidates (RFC 6544); 0: none",
       PortRef{[](ServerConfig& c) -> uint16_t& { return c.relay.ice_tcp_port; }}, no_check},
      {"relay.ice_tcp_shared", "--ice-tcp-shared", "BOOL",
       "also take ICE-TCP on the HTTP(S) port, told apart by the first bytes (one port: 443)",
       BoolRef{[](ServerConfig& c) -> bool& { return c.relay.ice_tcp_shared; }}, no_check},
      {"relay.ice_tcp_max_per_address", "--ice-tcp-max-per-address", "N",
       "ICE-TCP connections at once from one IP address, 1..10000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.ice_tcp_max_per_address; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.ice_tcp_max_per_address), 1, 10000,
                            "ICE-TCP connections per address");
       }},
      {"relay.ice_tcp_max_connections", "--ice-tcp-max-connections", "N",
       "ICE-TCP connections at once, all addresses, 1..100000",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.ice_tcp_max_connections; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.ice_tcp_max_connections), 1, 100000,
                            "ICE-TCP connections");
       }},
      {"relay.mode", "--mode", "MODE",
       "how viewers reach devices: relay, direct (peer to peer, the server signals) or "
       "direct-then-relay; a [[device]] may set its own mode",
       StringRef{[](ServerConfig& c) -> std::string& { return c.relay.mode; }},
       [](const ServerConfig& c) -> std::string {
         if (!parse_device_mode(c.relay.mode))
           return "'" + c.relay.mode + "' is not relay, direct or direct-then-relay";
         return {};
       }},
      {"relay.direct_viewers", "--direct-viewers", "N",
       "direct viewers per device at once (more are served by the relay), 0..64",
       SizeRef{[](ServerConfig& c) -> size_t& { return c.relay.direct_viewers; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.direct_viewers), 0, 64, "direct viewers");
       }},
      {"relay.direct_timeout", "--direct-timeout", "SECONDS",
       "direct-then-relay: a direct connection not up in this time gives way to the relay, 1..60",
       SecondsRef{[](ServerConfig& c) -> Duration& { return c.relay.direct_timeout; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.relay.direct_timeout.count()) / 1e6, 1, 60,
                            "direct timeout (s)");
       }},
      {"turn.secret", "--turn-secret", "SECRET",
       "coturn's static-auth-secret: hand out TURN REST credentials (prefer the file or env)",
       StringRef{[](ServerConfig& c) -> std::string& { return c.turn.secret; }}, no_check, true},
      {"turn.urls", "--turn-url", "URL",
       "TURN servers announced with credentials, \"turn:host:3478?transport=udp\" (repeatable)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.turn.urls; }},
       [](const ServerConfig& c) {
         return check_url_schemes(c.turn.urls, {"turn:", "turns:"});
       }},
      {"turn.stun_urls", "--stun-url", "URL",
       "STUN servers announced without credentials, \"stun:host:3478\" (repeatable)",
       ListRef{[](ServerConfig& c) -> std::vector<std::string>& { return c.turn.stun_urls; }},
       [](const ServerConfig& c) {
         return check_url_schemes(c.turn.stun_urls, {"stun:", "stuns:"});
       }},
      {"turn.ttl", "--turn-ttl", "SECONDS", "lifetime of TURN credentials, 60..604800",
       SecondsRef{[](ServerConfig& c) -> Duration& { return c.turn.ttl; }},
       [](const ServerConfig& c) {
         return check_range(static_cast<double>(c.turn.ttl.count()) / 1e6, 60, 604800,
                            "TURN credential lifetime (s)");
       }},
      {"certificate_file", "--certificate-file", "FILE",
       "DTLS certificate and P-256 key in one PEM file (empty: a new one at every start)",
       StringRef{[](ServerConfig& c) -> std::string& { return c.certificate_file; }}, no_check},
      {"log_level", "--log-level", "LEVEL", "error, warn, info or debug",
       StringRef{[](ServerConfig& c) -> std::string& { return c.log_level; }},
       [](const ServerConfig& c) -> std::string {
         static constexpr std::string_view kLevels[] = {"error", "warn", "info", "debug"};
         if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
           return "'" + c.log_level + "' is not error, warn, info or debug";
         }
         return {};
       }},
      {"log_json", "--log-json", "BOOL", "log JSON lines instead of plain text (stderr)",
       BoolRef{[](ServerConfig& c) -> bool& { return c.log_json; }}, no_check},
  };
  return table;
}

const Option* find_option_by_key(std::string_view key) {
  for (const auto& o : options()) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

const Option* find_option_by_flag(std::string_view flag) {
  for (const auto& o : options()) {
    if (o.flag == flag) return &o;
  }
  return nullptr;
}

std::string environment_name(std::string_view key) {
  std::string name = "CELLRTC_";
  for (char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

constexpr std::string_view kDeviceKey = "device";
constexpr std::string_view kDevicesEnvironment = "CELLRTC_DEVICES";
constexpr std::string_view kConfigEnvironment = "CELLRTC_CONFIG";

// --- values from text (environment and flags) -------------------------------------------------

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> parse_unsigned(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

// Sets `option` from text. `append` adds to a list instead of replacing it (a repeated flag).
std::string set_from_text(const Option& option, ServerConfig& config, std::string_view text,
                          bool append) {
  return std::visit(
      [&](auto access) -> std::string {
        using A = decltype(access);
        if constexpr (std::is_same_v<A, StringRef>) {
          access(config) = std::string(text);
        } else if constexpr (std::is_same_v<A, ListRef>) {
          auto items = split_list(text);
          auto& list = access(config);
          if (!append) list.clear();
          list.insert(list.end(), items.begin(), items.end());
        } else if constexpr (std::is_same_v<A, BoolRef>) {
          auto b = parse_bool(text);
          if (!b) return "'" + std::string(text) + "' is not true or false";
          access(config) = *b;
        } else if constexpr (std::is_same_v<A, NumberRef>) {
          auto n = parse_number(text);
          if (!n) return "'" + std::string(text) + "' is not a number";
          access(config) = *n;
        } else if constexpr (std::is_same_v<A, SizeRef>) {
          auto n = parse_unsigned(text);
          if (!n) return "'" + std::string(text) + "' is not a non-negative integer";
          access(config) = static_cast<size_t>(*n);
        } else if constexpr (std::is_same_v<A, PortRef>) {
          auto n = parse_unsigned(text);
          if (!n || *n > 65535) return "'" + std::string(text) + "' is not a port (0..65535)";
          access(config) = static_cast<uint16_t>(*n);
        } else {
          auto n = parse_number(text);
          if (!n || *n < 0 || *n > 1e9) return "'" + std::string(text) + "' is not seconds";
          access(config) = Duration(static_cast<int64_t>(std::llround(*n * 1e6)));
        }
        return {};
      },
      option.access);
}

// --- values from TOML -------------------------------------------------------------------------

std::string set_from_toml(const Option& option, ServerConfig& config, const toml::node& node) {
  return std::visit(
      [&](auto access) -> std::string {
        using A = decltype(access);
        if constexpr (std::is_same_v<A, StringRef>) {
          auto s = node.value<std::string>();
          if (!node.is_string() || !s) return "expected a string";
          access(config) = *s;
        } else if constexpr (std::is_same_v<A, ListRef>) {
          const auto* array = node.as_array();
          if (!array) return "expected an array of strings";
          std::vector<std::string> items;
          for (const auto& item : *array) {
            if (!item.is_string()) return "expected an array of strings";
            items.push_back(*item.value<std::string>());
          }
          access(config) = std::move(items);
        } else if constexpr (std::is_same_v<A, BoolRef>) {
          if (!node.is_boolean()) return "expected true or false";
          access(config) = *node.value<bool>();
        } else if constexpr (std::is_same_v<A, NumberRef>) {
          if (!node.is_number()) return "expected a number";
          access(config) = *node.value<double>();
        } else if constexpr (std::is_same_v<A, SizeRef>) {
          if (!node.is_integer() || *node.value<int64_t>() < 0) {
            return "expected a non-negative integer";
          }
          access(config) = static_cast<size_t>(*node.value<int64_t>());
        } else if constexpr (std::is_same_v<A, PortRef>) {
          if (!node.is_integer()) return "expected a port number";
          auto n = *node.value<int64_t>();
          if (n < 0 || n > 65535) return "expected a port (0..65535)";
          access(config) = static_cast<uint16_t>(n);
        } else {
          if (!node.is_number()) return "expected a number of seconds";
          double s = *node.value<double>();
          if (!(s >= 0 && s <= 1e9)) return "expected a number of seconds";
          access(config) = Duration(static_cast<int64_t>(std::llround(s * 1e6)));
        }
        return {};
      },
      option.access);
}

std::string where(std::string_view source_name, const toml::source_region& region) {
  return std::string(source_name) + ":" + std::to_string(region.begin.line);
}

// RFC 6750 section 2.1 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="s.
// It keeps ':' and ',' free as separators in "id:token" lists.
bool is_b64token(std::string_view s) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
              c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < s.size(); ++i) {
    if (s[i] != '=') return false;
  }
  return true;
}

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 512;

std::string check_device(const DeviceEntry& d) {
  if (d.id.empty() || d.id.size() > 64 || !std::all_of(d.id.begin(), d.id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      })) {
    return "device id '" + d.id + "' is not 1 to 64 of A-Z a-z 0-9 _ -";
  }
  auto check_token = [&](const std::string& token, std::string_view what) -> std::string {
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength || !is_b64token(token)) {
      return "device '" + d.id + "': " + std::string(what) +
             " must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + / (then '='s)";
    }
    return {};
  };
  if (auto e = check_token(d.token, "token"); !e.empty()) return e;
  if (!d.viewer_token.empty()) {
    if (auto e = check_token(d.viewer_token, "viewer_token"); !e.empty()) return e;
  }
  return {};
}

// Ids and tokens must be unique: a WHIP request is the device whose token it carries.
std::string check_devices(const ServerConfig& c) {
  std::set<std::string_view> ids;
  std::set<std::string_view> tokens;
  for (const auto& d : c.devices) {
    if (auto e = check_device(d); !e.empty()) return e;
    if (!ids.insert(d.id).second) return "device id '" + d.id + "' appears twice";
    if (!tokens.insert(d.token).second) return "device '" + d.id + "': token used twice";
    if (!d.viewer_token.empty() && !tokens.insert(d.viewer_token).second) {
      return "device '" + d.id + "': viewer_token used twice";
    }
    if (c.relay.viewers_need_token && d.viewer_token.empty()) {
      return "device '" + d.id + "' has no viewer_token but relay.viewers_need_token is true";
    }
  }
  return {};
}

Result<void, ConfigError> apply_device_table(const toml::table& table, std::string_view source,
                                             const toml::source_region& region,
                                             ServerConfig& config) {
  DeviceEntry d;
  DeviceDirectSettings direct;
  for (const auto& [key, node] : table) {
    std::string bad = where(source, key.source()) + ": device." + std::string(key.str()) + ": ";
    if (key.str() == "mode") {
      auto text = node.value<std::string>();
      auto mode = text ? parse_device_mode(*text) : std::nullopt;
      if (!node.is_string() || !mode)
        return ConfigError{bad + "expected \"relay\", \"direct\" or \"direct-then-relay\""};
      direct.mode = *mode;
      continue;
    }
    if (key.str() == "direct_viewers") {
      if (!node.is_integer() || *node.value<int64_t>() < 0 || *node.value<int64_t>() > 64)
        return ConfigError{bad + "expected an integer from 0 to 64"};
      direct.direct_viewers = static_cast<size_t>(*node.value<int64_t>());
      continue;
    }
    if (key.str() == "direct_timeout") {
      double seconds_value = node.is_number() ? *node.value<double>() : -1;
      if (!(seconds_value >= 1 && seconds_value <= 60))
        return ConfigError{bad + "expected 1 to 60 seconds"};
      direct.direct_timeout = Duration(static_cast<int64_t>(std::llround(seconds_value * 1e6)));
      continue;
    }
    std::string* field = nullptr;
    if (key.str() == "id") field = &d.id;
    if (key.str() == "token") field = &d.token;
    if (key.str() == "viewer_token") field = &d.viewer_token;
    if (!field) {
      return ConfigError{where(source, key.source()) + ": unknown key 'device." +
                         std::string(key.str()) +
                         "' (id, token, viewer_token, mode, direct_viewers, direct_timeout)"};
    }
    if (!node.is_string()) return ConfigError{bad + "expected a string"};
    *field = *node.value<std::string>();
  }
  if (auto e = check_device(d); !e.empty()) {
    return ConfigError{where(source, region) + ": device: " + e};
  }
  if (direct.mode || direct.direct_viewers || direct.direct_timeout) {
    direct.id = d.id;
    config.device_direct.push_back(std::move(direct));
  }
  config.devices.push_back(std::move(d));
  if (auto e = check_devices(config); !e.empty()) {
    return ConfigError{where(source, region) + ": device: " + e};
  }
  return {};
}

}  // namespace

Result<void, ConfigError> apply_toml(std::string_view toml_text, std::string_view source_name,
                                     ServerConfig& config) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return ConfigError{std::string(source_name) + ":" + std::to_string(e.source().begin.line) +
                       ":" + std::to_string(e.source().begin.column) + ": " +
                       std::string(e.description())};
  }

  auto apply = [&](const Option& option, const toml::key& key,
                   const toml::node& node) -> Result<void, ConfigError> {
    auto e = set_from_toml(option, config, node);
    if (e.empty()) e = option.check(config);
    if (!e.empty()) {
      return ConfigError{where(source_name, key.source()) + ": " + std::string(option.key) + ": " +
                         e};
    }
    return {};
  };

  bool devices_seen = false;
  for (const auto& [key, node] : root) {
    if (key.str() == kDeviceKey) {
      const auto* array = node.as_array();
      if (!array) {
        return ConfigError{where(source_name, key.source()) +
                           ": device: expected [[device]] tables"};
      }
      if (!devices_seen) {
        config.devices.clear();
        config.device_direct.clear();
      }
      devices_seen = true;
      for (const auto& item : *array) {
        const auto* table = item.as_table();
        if (!table) {
          return ConfigError{where(source_name, item.source()) +
                             ": device: expected [[device]] tables"};
        }
        if (auto r = apply_device_table(*table, source_name, item.source(), config); !r) return r;
      }
      continue;
    }
    if (const auto* option = find_option_by_key(key.str())) {
      if (auto r = apply(*option, key, node); !r) return r;
      continue;
    }
    const auto* section = node.as_table();
    if (!section || (key.str() != "http" && key.str() != "relay" && key.str() != "turn")) {
      return ConfigError{where(source_name, key.source()) + ": unknown key '" +
                         std::string(key.str()) + "'"};
    }
    for (const auto& [sub_key, sub_node] : *section) {
      std::string full = std::string(key.str()) + "." + std::string(sub_key.str());
      const auto* option = find_option_by_key(full);
      if (!option) {
        return ConfigError{where(source_name, sub_key.source()) + ": unknown key '" + full + "'"};
      }
      if (auto r = apply(*option, sub_key, sub_node); !r) return r;
    }
  }
  // Rules between keys (a TLS certificate without its key) are checked once all are read.
  if (auto r = validate_config(config); !r) {
    return ConfigError{std::string(source_name) + ": " + r.error().message};
  }
  return {};
}

Result<void, ConfigError> validate_config(const ServerConfig& config) {
  for (const auto& option : options()) {
    if (auto e = option.check(config); !e.empty()) {
      return ConfigError{std::string(option.key) + ": " + e};
    }
  }
  if (auto e = check_devices(config); !e.empty()) return ConfigError{"device: " + e};
  if (auto e = check_pairs(config); !e.empty()) return ConfigError{e};
  return {};
}

const char* to_string(DeviceMode mode) {
  switch (mode) {
    case DeviceMode::relay:
      return "relay";
    case DeviceMode::direct:
      return "direct";
    case DeviceMode::direct_then_relay:
      return "direct-then-relay";
  }
  return "relay";
}

std::optional<DeviceMode> parse_device_mode(std::string_view text) {
  if (text == "relay") return DeviceMode::relay;
  if (text == "direct") return DeviceMode::direct;
  if (text == "direct-then-relay") return DeviceMode::direct_then_relay;
  return std::nullopt;
}

DirectPolicy direct_policy(const ServerConfig& config, std::string_view id) {
  DirectPolicy p;
  p.mode = parse_device_mode(config.relay.mode).value_or(DeviceMode::relay);
  p.direct_viewers = config.relay.direct_viewers;
  p.direct_timeout = config.relay.direct_timeout;
  for (const auto& d : config.device_direct) {
    if (d.id != id) continue;
    if (d.mode) p.mode = *d.mode;
    if (d.direct_viewers) p.direct_viewers = *d.direct_viewers;
    if (d.direct_timeout) p.direct_timeout = *d.direct_timeout;
  }
  return p;
}

Result<DeviceEntry, ConfigError> parse_device_spec(std::string_view spec) {
  DeviceEntry d;
  auto first = spec.find(':');
  if (first == std::string_view::npos) {
    return ConfigError{"'" + std::string(spec.substr(0, 64)) + "' is not id:token[:viewer_token]"};
  }
  d.id = std::string(spec.substr(0, first));
  auto rest = spec.substr(first + 1);
  auto second = rest.find(':');
  d.token = std::string(rest.substr(0, second));
  if (second != std::string_view::npos) d.viewer_token = std::string(rest.substr(second + 1));
  if (auto e = check_device(d); !e.empty()) return ConfigError{e};
  return d;
}

Result<CommandLine, ConfigError> parse_command_line(const std::vector<std::string>& args,
                                                    const EnvironmentLookup& environment,
                                                    const FileReader& read_file) {
  CommandLine result;
  ServerConfig& config = result.config;

  // A flag's value: "--flag=value" or "--flag value"; a BOOL flag alone means true.
  struct Flag {
    std::string name;
    std::optional<std::string> value;
  };
  std::vector<Flag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      return ConfigError{"unexpected argument '" + arg + "' (options start with --; see --help)"};
    }
    Flag flag;
    auto eq = arg.find('=');
    flag.name = arg.substr(0, eq);
    if (eq != std::string::npos) flag.value = arg.substr(eq + 1);
    const Option* option = find_option_by_flag(flag.name);
    bool takes_value = flag.name == "--config" || flag.name == "--device" ||
                       (option && !std::holds_alternative<BoolRef>(option->access));
    if (flag.name == "--help" || flag.name == "-h") {
      result.help = true;
      return result;
    }
    if (!option && flag.name != "--config" && flag.name != "--device") {
      return ConfigError{"unknown option '" + flag.name + "' (see --help)"};
    }
    if (takes_value && !flag.value) {
      if (i + 1 >= args.size()) return ConfigError{flag.name + " needs a value"};
      flag.value = args[++i];
    }
    flags.push_back(std::move(flag));
  }

  // The file named by --config (the last one) or CELLRTC_CONFIG.
  for (const auto& flag : flags) {
    if (flag.name == "--config") result.config_file = *flag.value;
  }
  if (result.config_file.empty()) {
    if (auto file = environment(kConfigEnvironment)) result.config_file = *file;
  }
  if (!result.config_file.empty()) {
    auto text = read_file(result.config_file);
    if (!text) return ConfigError{result.config_file + ": cannot read the configuration file"};
    if (auto r = apply_toml(*text, result.config_file, config); !r) return r.error();
  }

  for (const auto& option : options()) {
    auto name = environment_name(option.key);
    auto value = environment(name);
    if (!value) continue;
    auto e = set_from_text(option, config, *value, false);
    if (e.empty()) e = option.check(config);
    if (!e.empty()) {
      return ConfigError{"environment " + name + " (" + std::string(option.key) + "): " + e};
    }
  }
  if (auto value = environment(kDevicesEnvironment)) {
    config.devices.clear();
    for (const auto& spec : split_list(*value)) {
      auto d = parse_device_spec(spec);
      if (!d) return ConfigError{"environment CELLRTC_DEVICES: " + d.error().message};
      config.devices.push_back(std::move(*d));
    }
  }

  // Flags last. The first occurrence of a repeatable flag replaces the list from the file or
  // the environment; later ones add to it.
  std::set<std::string> seen;
  for (const auto& flag : flags) {
    bool first = seen.insert(flag.name).second;
    if (flag.name == "--config") continue;
    if (flag.name == "--device") {
      if (first) config.devices.clear();
      auto d = parse_device_spec(*flag.value);
      if (!d) return ConfigError{"--device: " + d.error().message};
      config.devices.push_back(std::move(*d));
      continue;
    }
    const Option& option = *find_option_by_flag(flag.name);
    auto e = set_from_text(option, config, flag.value.value_or("true"), !first);
    if (e.empty()) e = option.check(config);
    if (!e.empty()) {
      return ConfigError{flag.name + " (" + std::string(option.key) + "): " + e};
    }
  }

  if (auto r = validate_config(config); !r) return r.error();
  return result;
}

std::string config_help() {
  std::string out =
      "cellrtc-server: WHIP/WHEP relay for cellrtc devices and the viewer page.\n"
      "\n"
      "usage: cellrtc-server [--config FILE] [--OPTION VALUE | --OPTION=VALUE]...\n"
      "\n"
      "Each option is a flag, a TOML key in the --config file and a CELLRTC_* environment\n"
      "variable; flags override the environment, which overrides the file. Lists take the\n"
      "flag repeated, a TOML array, or commas in the environment. Unknown keys are errors.\n"
      "\n"
      "  --help                     this text\n"
      "  --config FILE              TOML configuration file (env CELLRTC_CONFIG)\n"
      "  --device ID:TOKEN[:VIEWER_TOKEN]\n"
      "                             a device that may publish (repeatable; TOML [[device]] with\n"
      "                             id, token, viewer_token and optionally mode, direct_viewers,\n"
      "                             direct_timeout; env CELLRTC_DEVICES=a:t,b:t); id is\n"
      "                             1-64 of A-Za-z0-9_-, tokens 16-512 of A-Za-z0-9-._~+/ (RFC\n"
      "                             6750 b64token); default: one device \"demo\" with a random\n"
      "                             token, printed at start\n";
  ServerConfig defaults;
  for (const auto& option : options()) {
    std::string left = "  " + std::string(option.flag) + " " + std::string(option.value_name);
    if (left.size() < 29) left.resize(29, ' ');
    std::string shown = std::visit(
        [&](auto access) -> std::string {
          using A = decltype(access);
          auto& v = access(defaults);
          if constexpr (std::is_same_v<A, StringRef>) {
            return v.empty() ? "none" : v;
          } else if constexpr (std::is_same_v<A, ListRef>) {
            std::string joined;
            for (const auto& item : v)
              joined += (joined.empty() ? "" : ",") + item;
            return joined.empty() ? "none" : joined;
          } else if constexpr (std::is_same_v<A, BoolRef>) {
            return v ? "true" : "false";
          } else if constexpr (std::is_same_v<A, NumberRef>) {
            std::ostringstream s;
            s << v;
            return s.str();
          } else if constexpr (std::is_same_v<A, SizeRef> || std::is_same_v<A, PortRef>) {
            return std::to_string(v);
          } else {
            return std::to_string(v.count() / 1000000);
          }
        },
        option.access);
    if (option.secret) shown = "none";
    out += left + " " + std::string(option.help) + " [" + std::string(option.key) + ", " +
           environment_name(option.key) + "; default " + shown + "]\n";
  }
  out +=
      "\n"
      "At start the server prints to stdout, one per line: \"listening URL\", \"media udp "
      "IP:PORT\"\n"
      "(per address), \"media tcp IP:PORT\" (per ICE-TCP candidate), \"viewer URL\", \"whip URL\", "
      "\"device ID\" (\"device demo token TOKEN\" "
      "for\n"
      "a generated token), then \"ready\". Logs go to stderr. Exit codes: 0 after SIGTERM or\n"
      "SIGINT, 1 when it cannot start (a port in use), 2 for a bad configuration.\n";
  return out;
}

}  // namespace cellrtc::server
