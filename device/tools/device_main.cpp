// cellrtc-device: streams a camera to cellrtc-server (WHIP) and keeps the session alive.
// See usage() below, scripts/deploy/cellrtc-device.service and docs/architecture.md.
#include <curl/curl.h>
#include <pthread.h>

#include <toml++/toml.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "device/agent.h"
#include "device/source_spec.h"

namespace {

using namespace cellrtc;
using namespace cellrtc::device;

const char* usage() {
  return "cellrtc-device: streams a camera to cellrtc-server over WebRTC (WHIP).\n"
         "\n"
         "usage: cellrtc-device --server URL [--token TOKEN] [options]\n"
         "\n"
         "  --server URL      the server, e.g. https://cam.example.net or http://127.0.0.1:8080\n"
         "                    (\"/whip\" is appended to a URL without a path; a URL with a\n"
         "                    path is the WHIP endpoint as given)\n"
         "  --token TOKEN     the device token (Bearer); default: environment CELLRTC_TOKEN\n"
         "  --source SPEC     testpattern[:WxH] | v4l2:DEVICE[@WxH] | dir:PATH | stdin\n"
         "                    (default testpattern:640x480)\n"
         "  --width N, --height N\n"
         "                    frame size for testpattern and v4l2 sources\n"
         "  --fps N           at most N frames per second (default: what the link carries, up\n"
         "                    to 25)\n"
         "  --quality N       at most JPEG quality N, 1..100 (default: what the link carries)\n"
         "  --pacing MODE     adaptive (default): frame rate, quality and size follow what the\n"
         "                    link delivers, newest frame wins, unordered channel without\n"
         "                    retransmission; fixed: the original design, for comparisons:\n"
         "                    --fps (default 10) and --quality (default 40) fixed, every frame\n"
         "                    on a reliable ordered channel, nothing dropped for the link\n"
         "  --idle-interval S while the server says no relay viewer watches (docs/protocol.md,\n"
         "                    \"demand\"), one frame every S seconds at a modest quality:\n"
         "                    0..3600, default 5, 0 = none until a viewer comes\n"
         "  --ca-file FILE    trust the CAs in this PEM file for https (instead of the system's)\n"
         "                    and for turns: TURN servers\n"
         "  --ice-transport-policy all|relay\n"
         "                    relay: no host candidates, only TURN relayed ones (networks\n"
         "                    where only a TURN server is reachable; default all). TURN\n"
         "                    servers and their time-limited credentials come from the\n"
         "                    server with each session\n"
         "  --turn-url URL    one more turn:/turns: server (repeatable; no secret: it uses\n"
         "                    the credentials the server hands out)\n"
         "  --resolve NAME=IP resolve a TURN host name without DNS (repeatable)\n"
         "  --direct-viewers N\n"
         "                    at most N direct-mode viewers at once, 0..64 (default 4; each\n"
         "                    is a peer connection of its own on the device: an ESP32-S3 has\n"
         "                    room for few); beyond it the server's relay serves them\n"
         "  --modem PORT      the modem's AT port (an A7670E's is USB interface 4:\n"
         "                    /dev/serial/by-id/...-if04-port0), asked every 30 s for\n"
         "                    signal, operator and technology (sent in the telemetry)\n"
         "  --bind ADDR       send from this local address (repeatable; default: every\n"
         "                    interface, plus loopback when the server is on loopback)\n"
         "  --transport MODE  auto (default): UDP and ICE-TCP toward the server, UDP\n"
         "                    preferred, TCP at once when UDP gets no answer within a few\n"
         "                    round trips; udp: UDP only; tcp: ICE-TCP only, no UDP socket\n"
         "                    and not one UDP datagram (modems whose PPP link drops under\n"
         "                    UDP; the server needs --ice-tcp-port or --ice-tcp-shared)\n"
         "  --keepalive-interval SECONDS\n"
         "                    ICE consent checks (RFC 7675) on the path in use, which keep the\n"
         "                    carrier NAT's mapping alive: 1..25, default 15 (below the usual\n"
         "                    30 s UDP timeout; an unanswered check is followed by another\n"
         "                    within 2 s, consent expires after 30 s without an answer)\n"
         "  --config FILE     key = value settings in TOML: server, token, source, width,\n"
         "                    height, fps, quality, pacing, transport, keepalive_interval,\n"
         "                    idle_interval,\n"
         "                    ca_file, modem, bind (string or array), ice_transport_policy,\n"
         "                    turn_urls (array), direct_viewers,\n"
         "                    quiet, json_log; command-line options override the file\n"
         "  --quiet           no stats lines, only state changes and errors\n"
         "  --json-log        one JSON object per line instead of text; with each session's\n"
         "                    first frame a \"timeline\" record: wall-clock µs of the WHIP\n"
         "                    POST, its answer, ICE, DTLS, SCTP, channels open, first frame\n"
         "  --help            this text\n"
         "\n"
         "Output: one line per state change (connecting, waiting, streaming, restarting-ice,\n"
         "backoff, stopped) and every 5 s a stats line (fps, kbit/s, RTT, quality, size, sent,\n"
         "dropped, latency the server reports). SIGINT/SIGTERM end the session (DELETE) and\n"
         "exit 0. Exit codes: 0 stopped, 1 the camera failed, 2 bad configuration or the\n"
         "server refused the token (401/403).\n";
}

struct Options {
  std::string server;
  std::optional<std::string> token;
  std::string source = "testpattern";
  std::optional<int> width, height;
  double fps = 0;
  int quality = 0;
  std::string pacing = "adaptive";
  std::string transport = "auto";
  double keepalive_interval = 15;
  double idle_interval = 5;
  long direct_viewers = 4;
  std::string ca_file;
  std::string modem;
  std::vector<std::string> bind;
  std::string ice_transport_policy = "all";
  std::vector<std::string> turn_urls;
  std::vector<std::string> resolve;
  bool quiet = false;
  bool json_log = false;
  bool help = false;
};

std::optional<long> parse_int(std::string_view text, long min, long max) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  char* end = nullptr;
  std::string s(text);
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end != '\0' || v < min || v > max) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view text, double min, double max) {
  if (text.empty() || text.size() > 24) return std::nullopt;
  char* end = nullptr;
  std::string s(text);
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !(v >= min && v <= max)) return std::nullopt;
  return v;
}

// The --config file. Errors name the file, the line and the key.
std::optional<std::string> load_config_file(const std::string& path, Options& o) {
  // toml++ reports parse errors by exception here; they stop at this function.
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
  }
  for (const auto& entry : table) {
    // Not a structured binding: lambdas below capture the node (clang 14 cannot capture one).
    const toml::node& node = entry.second;
    std::string k(entry.first.str());
    std::string where = path + ":" + std::to_string(node.source().begin.line) + ": " + k;
    auto need_string = [&](std::string& out) -> std::optional<std::string> {
      if (!node.is_string()) return where + " must be a string";
      out = *node.value<std::string>();
      return std::nullopt;
    };
    auto need_int = [&](long min, long max) -> std::optional<long> {
      if (!node.is_integer()) return std::nullopt;
      long v = static_cast<long>(*node.value<int64_t>());
      if (v < min || v > max) return std::nullopt;
      return v;
    };
    std::optional<std::string> error;
    if (k == "server") {
      error = need_string(o.server);
    } else if (k == "token") {
      std::string t;
      error = need_string(t);
      o.token = t;
    } else if (k == "source") {
      error = need_string(o.source);
    } else if (k == "ca_file") {
      error = need_string(o.ca_file);
    } else if (k == "pacing") {
      error = need_string(o.pacing);
    } else if (k == "transport") {
      error = need_string(o.transport);
    } else if (k == "ice_transport_policy") {
      error = need_string(o.ice_transport_policy);
    } else if (k == "turn_urls") {
      const toml::array* a = node.as_array();
      if (!a) error = where + " must be an array of strings";
      for (size_t i = 0; a && i < a->size() && !error; ++i) {
        if (!(*a)[i].is_string())
          error = where + " must be an array of strings";
        else
          o.turn_urls.push_back(*(*a)[i].value<std::string>());
      }
    } else if (k == "modem") {
      error = need_string(o.modem);
    } else if (k == "width" || k == "height") {
      auto v = need_int(16, 8192);
      if (!v)
        error = where + " must be a whole number from 16 to 8192";
      else
        (k == "width" ? o.width : o.height) = static_cast<int>(*v);
    } else if (k == "direct_viewers") {
      auto v = need_int(0, 64);
      if (!v)
        error = where + " must be a whole number from 0 to 64";
      else
        o.direct_viewers = *v;
    } else if (k == "keepalive_interval") {
      if (!node.is_number() || *node.value<double>() < 1 || *node.value<double>() > 25)
        error = where + " must be a number of seconds from 1 to 25";
      else
        o.keepalive_interval = *node.value<double>();
    } else if (k == "idle_interval") {
      if (!node.is_number() || *node.value<double>() < 0 || *node.value<double>() > 3600)
        error = where + " must be a number of seconds from 0 to 3600";
      else
        o.idle_interval = *node.value<double>();
    } else if (k == "fps") {
      if (!node.is_number() || *node.value<double>() < 0 || *node.value<double>() > 1000)
        error = where + " must be a number from 0 to 1000";
      else
        o.fps = *node.value<double>();
    } else if (k == "quality") {
      auto v = need_int(0, 100);
      if (!v)
        error = where + " must be a whole number from 0 to 100";
      else
        o.quality = static_cast<int>(*v);
    } else if (k == "bind") {
      if (node.is_string()) {
        o.bind.push_back(*node.value<std::string>());
      } else if (const toml::array* a = node.as_array()) {
        for (const auto& item : *a) {
          if (!item.is_string()) {
            error = where + " must be a string or an array of strings";
            break;
          }
          o.bind.push_back(*item.value<std::string>());
        }
      } else {
        error = where + " must be a string or an array of strings";
      }
    } else if (k == "quiet" || k == "json_log") {
      if (!node.is_boolean())
        error = where + " must be true or false";
      else
        (k == "quiet" ? o.quiet : o.json_log) = *node.value<bool>();
    } else {
      error = where + ": unknown key";
    }
    if (error) return error;
  }
  return std::nullopt;
}

std::optional<std::string> parse_args(int argc, char** argv, Options& o) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The config file first, so the command line overrides it wherever it stands.
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    if (a == "--config") {
      if (i + 1 >= args.size()) return std::string("--config needs a value");
      value = args[i + 1];
    } else if (a.rfind("--config=", 0) == 0) {
      value = a.substr(9);
    } else {
      continue;
    }
    if (auto e = load_config_file(value, o)) return e;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::optional<std::string> inline_value;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto need = [&](std::string& out) -> std::optional<std::string> {
      auto v = value();
      if (!v) return a + " needs a value";
      out = *v;
      return std::nullopt;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--json-log") {
      o.json_log = true;
    } else if (a == "--config") {
      if (auto e = need(v)) return e;
    } else if (a == "--server") {
      if (auto e = need(o.server)) return e;
    } else if (a == "--token") {
      if (auto e = need(v)) return e;
      o.token = v;
    } else if (a == "--source") {
      if (auto e = need(o.source)) return e;
    } else if (a == "--ca-file") {
      if (auto e = need(o.ca_file)) return e;
    } else if (a == "--pacing") {
      if (auto e = need(o.pacing)) return e;
    } else if (a == "--transport") {
      if (auto e = need(o.transport)) return e;
    } else if (a == "--ice-transport-policy") {
      if (auto e = need(o.ice_transport_policy)) return e;
    } else if (a == "--turn-url") {
      if (auto e = need(v)) return e;
      o.turn_urls.push_back(v);
    } else if (a == "--resolve") {
      if (auto e = need(v)) return e;
      o.resolve.push_back(v);
    } else if (a == "--modem") {
      if (auto e = need(o.modem)) return e;
    } else if (a == "--bind") {
      if (auto e = need(v)) return e;
      o.bind.push_back(v);
    } else if (a == "--width" || a == "--height") {
      if (auto e = need(v)) return e;
      auto n = parse_int(v, 16, 8192);
      if (!n) return a + " must be a whole number from 16 to 8192, not \"" + v + "\"";
      (a == "--width" ? o.width : o.height) = static_cast<int>(*n);
    } else if (a == "--direct-viewers") {
      if (auto e = need(v)) return e;
      auto n = parse_int(v, 0, 64);
      if (!n) return "--direct-viewers must be a whole number from 0 to 64, not \"" + v + "\"";
      o.direct_viewers = *n;
    } else if (a == "--keepalive-interval") {
      if (auto e = need(v)) return e;
      auto n = parse_double(v, 1, 25);
      if (!n)
        return "--keepalive-interval must be a number of seconds from 1 to 25, not \"" + v + "\"";
      o.keepalive_interval = *n;
    } else if (a == "--idle-interval") {
      if (auto e = need(v)) return e;
      auto n = parse_double(v, 0, 3600);
      if (!n)
        return "--idle-interval must be a number of seconds from 0 to 3600, not \"" + v + "\"";
      o.idle_interval = *n;
    } else if (a == "--fps") {
      if (auto e = need(v)) return e;
      auto n = parse_double(v, 0, 1000);
      if (!n) return "--fps must be a number from 0 to 1000, not \"" + v + "\"";
      o.fps = *n;
    } else if (a == "--quality") {
      if (auto e = need(v)) return e;
      auto n = parse_int(v, 0, 100);
      if (!n) return "--quality must be a whole number from 0 to 100, not \"" + v + "\"";
      o.quality = static_cast<int>(*n);
    } else {
      return "unknown option " + a + " (see --help)";
    }
  }
  return std::nullopt;
}

// --ice-transport-policy, --turn-url, --resolve and the CA file into the agent's RelayConfig.
std::optional<std::string> relay_options(const Options& o, RelayConfig& relay) {
  if (o.ice_transport_policy != "all" && o.ice_transport_policy != "relay")
    return "--ice-transport-policy must be all or relay, not \"" + o.ice_transport_policy + "\"";
  relay.relay_only = o.ice_transport_policy == "relay";
  for (const auto& url : o.turn_urls) {
    auto uri = turn::parse_ice_server_uri(url);
    if (!uri) return "--turn-url " + url + ": " + uri.error().reason;
    if (!uri->is_turn()) return "--turn-url " + url + ": not a turn: or turns: URL";
    relay.turn_urls.push_back(url);
  }
  for (const auto& r : o.resolve) {
    auto mapping = parse_host_mapping(r);
    if (!mapping) return "--resolve must be NAME=IP, not \"" + r + "\"";
    relay.hosts.push_back(*mapping);
  }
  relay.ca_file = o.ca_file;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (auto error = parse_args(argc, argv, options)) {
    std::fprintf(stderr, "cellrtc-device: %s\n", error->c_str());
    return 2;
  }
  if (options.help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (options.server.empty()) {
    std::fprintf(stderr, "cellrtc-device: --server URL is required (see --help)\n");
    return 2;
  }
  if (!options.token) {
    if (const char* env = std::getenv("CELLRTC_TOKEN")) options.token = env;
  }

  auto spec = parse_source_spec(options.source);
  if (!spec) {
    std::fprintf(stderr, "cellrtc-device: --source: %s\n", spec.error().message.c_str());
    return 2;
  }
  if (options.width || options.height) {
    if (spec->kind != SourceSpec::Kind::test_pattern && spec->kind != SourceSpec::Kind::v4l2) {
      std::fprintf(stderr,
                   "cellrtc-device: --width/--height apply to testpattern and v4l2 sources; "
                   "%s frames keep their own size\n",
                   options.source.c_str());
      return 2;
    }
    if (options.width) spec->width = static_cast<uint16_t>(*options.width);
    if (options.height) spec->height = static_cast<uint16_t>(*options.height);
  }

  if (options.pacing != "adaptive" && options.pacing != "fixed") {
    std::fprintf(stderr, "cellrtc-device: --pacing must be adaptive or fixed, not \"%s\"\n",
                 options.pacing.c_str());
    return 2;
  }
  auto transport = parse_ice_transport(options.transport);
  if (!transport) {
    std::fprintf(stderr, "cellrtc-device: --transport must be udp, tcp or auto, not \"%s\"\n",
                 options.transport.c_str());
    return 2;
  }
  AgentConfig config;
  config.transport = *transport;
  config.keepalive_interval = Duration(static_cast<int64_t>(options.keepalive_interval * 1e6));
  if (options.pacing == "fixed") {
    // The original design: a fixed rate and quality, nothing adapts (media/fixed_pacing.h).
    config.session.pacing = media::Pacing::fixed;
    if (options.fps > 0) config.session.fixed.fps = options.fps;
    if (options.quality > 0) config.session.fixed.quality = options.quality;
  }
  config.whip.url = options.server;
  config.whip.token = options.token.value_or("");
  config.whip.ca_file = options.ca_file;
  config.session.max_fps = options.fps;
  config.session.max_quality = options.quality;
  config.session.idle_interval = Duration(static_cast<int64_t>(options.idle_interval * 1e6));
  if (options.fps > 0) {
    // The rate controller's frame rates stay ordered (min <= preferred <= max).
    auto& rate = config.session.rate;
    rate.max_fps = std::max(options.fps, 0.1);
    rate.preferred_fps = std::min(rate.preferred_fps, rate.max_fps);
    rate.min_fps = std::min(rate.min_fps, rate.preferred_fps);
  }
  config.modem.port = options.modem;
  // Direct viewers: the device's own limit, and its caps on rate, quality and size as for the
  // relay session (their pacing is always adaptive).
  config.direct.max_viewers = static_cast<size_t>(options.direct_viewers);
  config.direct.session = config.session;
  config.quiet = options.quiet;
  config.log_format = options.json_log ? LogFormat::json : LogFormat::text;
  for (const auto& b : options.bind) {
    auto ip = IpAddress::parse(b);
    if (!ip) {
      std::fprintf(stderr, "cellrtc-device: --bind: \"%s\" is not an IP address\n", b.c_str());
      return 2;
    }
    config.bind.push_back(*ip);
  }
  if (auto e = relay_options(options, config.relay)) {
    std::fprintf(stderr, "cellrtc-device: %s\n", e->c_str());
    return 2;
  }
  if (!options.ca_file.empty()) {
    if (std::FILE* f = std::fopen(options.ca_file.c_str(), "r")) {
      std::fclose(f);
    } else {
      std::fprintf(stderr, "cellrtc-device: --ca-file %s: %s\n", options.ca_file.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }

  auto source = open_source(*spec);
  if (!source) {
    std::fprintf(stderr, "cellrtc-device: %s\n", source.error().message.c_str());
    return 1;
  }

  // Signals go to a thread of their own that asks the agent to stop (which also cancels an
  // HTTP request in progress); every other thread keeps them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto agent = Agent::create(std::move(config), std::move(*source));
  if (!agent) {
    std::fprintf(stderr, "cellrtc-device: %s\n", agent.error().c_str());
    curl_global_cleanup();
    return 1;
  }
  std::atomic<bool> finished{false};
  Agent* running = agent->get();
  std::thread signal_thread([&] {
    timespec tick{0, 200'000'000};
    while (!finished.load()) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) {
        running->stop();
        return;
      }
    }
  });
  int code = (*agent)->run();
  finished.store(true);
  signal_thread.join();
  agent->reset();
  curl_global_cleanup();
  return code;
}
