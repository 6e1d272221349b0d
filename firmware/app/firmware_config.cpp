#include "firmware/app/firmware_config.h"

#include <mbedtls/x509_crt.h>

#include <charconv>

#include "core/common/socket_address.h"
#include "core/turn/ice_server_uri.h"
#include "firmware/app/memory_profile.h"
#include "modem/a76xx.h"

namespace cellrtc::firmware {
namespace {

constexpr size_t kMaxUrlBytes = 256;
constexpr size_t kMaxTokenBytes = 256;

ConfigError error(const char* field, std::string message) {
  return ConfigError{field, std::move(message)};
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool valid_bearer_token(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && (is_alnum(t[i]) || t[i] == '-' || t[i] == '.' || t[i] == '_' ||
                          t[i] == '~' || t[i] == '+' || t[i] == '/'))
    ++i;
  if (i == 0) return false;
  while (i < t.size() && t[i] == '=')
    ++i;
  return i == t.size();
}

// A host name (RFC 1123 section 2.1: letters, digits, hyphens, dots) or an IPv4 literal; an
// IPv6 literal in brackets (RFC 3986 section 3.2.2) with hex digits, colons and dots.
bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  if (h.front() == '[') {
    if (h.size() < 4 || h.back() != ']') return false;
    for (char c : h.substr(1, h.size() - 2))
      if (!(is_alnum(c) || c == ':' || c == '.')) return false;
    return true;
  }
  size_t label = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    char c = h[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(is_alnum(c) || c == '-')) return false;
    if (c == '-' && (label == 0 || i + 1 == h.size() || h[i + 1] == '.')) return false;
    if (++label > 63) return false;
  }
  return label != 0;
}

bool valid_gpio(int pin) {
  // ESP32-S3 GPIOs 0..21 and 26..48 (ESP32-S3 datasheet, section 2.2; 22..25 do not exist).
  return (pin >= 0 && pin <= 21) || (pin >= 26 && pin <= 48);
}

// Why a GPIO cannot take a modem line on this board, or null when it can.
const char* pin_taken(int pin, CameraBoard board) {
  const CameraPins& p = camera_pins(board);
  for (int used : {p.pwdn, p.reset, p.xclk, p.sccb_sda, p.sccb_scl, p.vsync, p.href, p.pclk})
    if (pin == used) return "used by the camera";
  for (int used : p.data)
    if (pin == used) return "used by the camera";
  // UART0 carries the log once the USB port is the modem's host (sdkconfig.defaults).
  if (pin == 43 || pin == 44) return "used by the console (UART0)";
  if (pin == 19 || pin == 20) return "the USB D-/D+ pins";
  return nullptr;
}

}  // namespace

Result<ServerEndpoint, ConfigError> parse_server_url(std::string_view url) {
  if (url.empty()) return error("server_url", "empty: give the server's WHIP URL");
  if (url.size() > kMaxUrlBytes) return error("server_url", "longer than 256 bytes");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return error("server_url", "contains a space or a control or non-ASCII character");
  ServerEndpoint ep;
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    ep.tls = false;
    ep.port = 80;
    rest = url.substr(7);
  } else {
    return error("server_url", "must start with https:// (or http:// on a trusted network)");
  }
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return error("server_url", "user information in the URL is not supported: use device_token");
  std::string_view host = authority;
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos &&
      (authority.front() != '[' || authority.find(']') < colon)) {
    host = authority.substr(0, colon);
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535)
      return error("server_url", "port must be 1..65535");
    ep.port = static_cast<uint16_t>(value);
  }
  if (!valid_host(host)) return error("server_url", "host is not a valid name or address");
  if (!path.empty() && path.front() != '/')
    return error("server_url", "query or fragment without a path");
  if (path.find('#') != std::string_view::npos)
    return error("server_url", "a fragment has no meaning in a WHIP URL");
  ep.host = std::string(host);
  ep.path = path.empty() || path == "/" ? "/whip" : std::string(path);
  return ep;
}

Result<size_t, ConfigError> count_ca_certificates(std::string_view pem) {
  if (pem.size() > kMaxCaPemBytes) return error("ca_pem", "longer than 16 KB");
  // RFC 7468 section 2: textual encoding, "-----BEGIN CERTIFICATE-----" to "-----END ...".
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t blocks = 0;
  for (size_t at = pem.find("-----"); at != std::string_view::npos; at = pem.find("-----", at)) {
    if (!pem.substr(at).starts_with(kBegin))
      return error("ca_pem", "holds a PEM block that is not a certificate (a key?)");
    const size_t end = pem.find(kEnd, at);
    if (end == std::string_view::npos)
      return error("ca_pem", "a certificate block has no -----END CERTIFICATE----- line");
    ++blocks;
    at = end + kEnd.size();
  }
  if (blocks == 0) return error("ca_pem", "no -----BEGIN CERTIFICATE----- block: not PEM");
  // mbedTLS reads PEM only with the terminating NUL inside the length it is given; it returns
  // the number of blocks it could not parse (or an error when none parsed).
  const std::string text(pem);
  mbedtls_x509_crt chain;
  mbedtls_x509_crt_init(&chain);
  const int ret = mbedtls_x509_crt_parse(
      &chain, reinterpret_cast<const unsigned char*>(text.c_str()), text.size() + 1);
  size_t parsed = 0;
  for (const mbedtls_x509_crt* c = &chain; c && c->raw.len > 0; c = c->next)
    ++parsed;
  mbedtls_x509_crt_free(&chain);
  if (ret != 0 || parsed != blocks)
    return error("ca_pem", "a certificate in it does not parse (damaged base64 or not X.509)");
  return parsed;
}

std::optional<std::string> transport_warning(const FirmwareConfig& c) {
  if (c.transport != streamer::IceTransport::tcp) return std::nullopt;
  auto ep = parse_server_url(c.server_url);
  if (!ep) return std::nullopt;
  std::string_view host = ep->host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (IpAddress::parse(host)) return std::nullopt;
  return "transport tcp: the server's name " + ep->host +
         " is looked up by DNS, which lwIP asks over UDP; give its IP address in server_url "
         "to send no UDP at all";
}

Result<std::vector<std::string>, ConfigError> parse_turn_urls(std::string_view list, bool has_ca,
                                                              streamer::IceTransport transport) {
  if (list.size() > kMaxTurnUrlsBytes) return error("turn_urls", "longer than 1024 bytes");
  std::vector<std::string> urls;
  auto trim = [](std::string_view t) {
    while (!t.empty() && t.front() == ' ')
      t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ')
      t.remove_suffix(1);
    return t;
  };
  if (trim(list).empty()) return urls;
  size_t start = 0;
  for (size_t n = 1;; ++n) {
    const size_t comma = list.find(',', start);
    const std::string_view entry = trim(
        list.substr(start, comma == std::string_view::npos ? list.size() - start : comma - start));
    const std::string name = "entry " + std::to_string(n);
    if (n > kMaxTurnUrls) return error("turn_urls", "more than 8 entries");
    if (entry.empty()) return error("turn_urls", name + " is empty");
    const std::string named = name + " (" + std::string(entry) + "): ";
    auto uri = turn::parse_ice_server_uri(entry);
    if (!uri) return error("turn_urls", named + uri.error().reason);
    if (!uri->is_turn()) return error("turn_urls", named + "not a turn: or turns: URL");
    if (uri->transport == turn::TurnTransport::tls && !has_ca)
      return error("turn_urls", named +
                                    "turns: needs ca_pem (CELLRTC_CA_PEM_FILE) to verify the "
                                    "TURN server's certificate");
    if (uri->transport == turn::TurnTransport::udp && transport == streamer::IceTransport::tcp)
      return error("turn_urls", named +
                                    "TURN over UDP with transport tcp (no UDP socket): use "
                                    "?transport=tcp or turns:");
    urls.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return urls;
}

streamer::RelayPlanConfig relay_plan_config(const FirmwareConfig& c) {
  streamer::RelayPlanConfig relay;
  if (auto urls = parse_turn_urls(c.turn_urls, !c.ca_pem.empty(), c.transport))
    relay.turn_urls = std::move(*urls);
  relay.ca_pem = c.ca_pem;
  relay.ca_setting = "CELLRTC_CA_PEM_FILE";
  return relay;
}

Result<void, ConfigError> validate(const FirmwareConfig& c) {
  if (auto ep = parse_server_url(c.server_url); !ep) return ep.error();
  if (!c.ca_pem.empty())
    if (auto n = count_ca_certificates(c.ca_pem); !n) return n.error();
  if (auto urls = parse_turn_urls(c.turn_urls, !c.ca_pem.empty(), c.transport); !urls)
    return urls.error();
  if (c.device_token.size() > kMaxTokenBytes) return error("device_token", "longer than 256 bytes");
  if (!c.device_token.empty() && !valid_bearer_token(c.device_token))
    return error("device_token",
                 "only letters, digits and - . _ ~ + / (then = padding) may appear (RFC 6750)");

  if (!frame_size_fits_server(c.frame_size))
    return error("frame_size",
                 "its JPEG buffer does not fit the server's 256 KiB message limit (HD at most)");
  if (c.jpeg_quality < 1 || c.jpeg_quality > 100) return error("jpeg_quality", "must be 1..100");

  if (c.uses_wifi()) {
    // IEEE 802.11: an SSID is 0..32 octets; a WPA2 passphrase 8..63 characters.
    if (c.wifi_ssid.size() > 32) return error("wifi_ssid", "longer than 32 bytes");
    if (!c.wifi_password.empty() && (c.wifi_password.size() < 8 || c.wifi_password.size() > 63))
      return error("wifi_password", "a WPA2 passphrase has 8..63 characters (empty: open network)");
    return {};
  }

  // The modem's own command builders decide what fits between the quotes.
  if (auto r = modem::a76xx::cgdcont(1, c.apn); !r)
    return error("apn", std::string(r.error().reason) +
                            " (letters, digits, hyphens and dots, at most 100 octets)");
  if (c.apn_user.empty() && !c.apn_password.empty())
    return error("apn_user", "empty while apn_password is set");
  if (!c.apn_user.empty())
    if (auto r = modem::a76xx::cgauth(1, modem::a76xx::Auth::chap, c.apn_user, c.apn_password); !r)
      return error("apn_user",
                   std::string(r.error().reason) + " (user and password: at most 50 characters)");
  if (!c.sim_pin.empty())
    if (auto r = modem::a76xx::cpin(c.sim_pin); !r)
      return error("sim_pin", "a PIN is 4 to 8 digits");

  if (c.modem_link == ModemLinkKind::uart) {
    if (!valid_gpio(c.uart.tx_pin)) return error("uart_tx_pin", "not an ESP32-S3 GPIO");
    if (!valid_gpio(c.uart.rx_pin)) return error("uart_rx_pin", "not an ESP32-S3 GPIO");
    if (c.uart.tx_pin == c.uart.rx_pin) return error("uart_rx_pin", "the same pin as uart_tx_pin");
    if (const char* why = pin_taken(c.uart.tx_pin, c.camera_board))
      return error("uart_tx_pin", why);
    if (const char* why = pin_taken(c.uart.rx_pin, c.camera_board))
      return error("uart_rx_pin", why);
    if (auto r = modem::a76xx::ipr(c.uart.baud); !r)
      return error("uart_baud", "not a rate the modem offers (115200, 230400, 460800, 921600 ...)");
  } else if (!board_is_esp32s3(c.camera_board)) {
    return error("modem_link", "this board has no USB host (an ESP32, not an S3): use the UART");
  }
  if (c.modem_power_key_pin != -1 && !valid_gpio(c.modem_power_key_pin))
    return error("modem_power_key_pin", "not an ESP32-S3 GPIO (-1: not wired)");
  if (c.modem_reset_pin != -1 && !valid_gpio(c.modem_reset_pin))
    return error("modem_reset_pin", "not an ESP32-S3 GPIO (-1: not wired)");
  if (c.modem_power_key_pin != -1)
    if (const char* why = pin_taken(c.modem_power_key_pin, c.camera_board))
      return error("modem_power_key_pin", why);
  if (c.modem_reset_pin != -1)
    if (const char* why = pin_taken(c.modem_reset_pin, c.camera_board))
      return error("modem_reset_pin", why);
  if (c.modem_power_key_pin != -1 && c.modem_power_key_pin == c.modem_reset_pin)
    return error("modem_reset_pin", "the same pin as modem_power_key_pin");
  return {};
}

std::string describe(const ConfigError& e) {
  return std::string(e.field) + ": " + e.message;
}

modem::SupervisorConfig supervisor_config(const FirmwareConfig& c) {
  modem::SupervisorConfig s;
  s.apn = c.apn;
  s.apn_user = c.apn_user;
  s.apn_password = c.apn_password;
  s.auth = c.apn_user.empty() ? modem::a76xx::Auth::none : modem::a76xx::Auth::chap;
  s.pin = c.sim_pin;
  s.use_cmux = c.use_cmux;
  // Without a power key line the supervisor cannot switch the modem on; with one, the board
  // may have left it off.
  s.power_on_at_start = c.modem_power_key_pin != -1;
  return s;
}

}  // namespace cellrtc::firmware
