#include "server/server_main.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/dtls/certificate.h"
#include "runtime/clock.h"
#include "runtime/os_random.h"
#include "server/http_front.h"
#include "server/media_plane.h"
#include "server/relay.h"

namespace cellrtc::server {

namespace asio = boost::asio;

namespace {

std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// A token from the secure source: 32 letters and digits (190 bits).
std::string random_token(Random& rng) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string token;
  for (int i = 0; i < 32; ++i)
    token += kAlphabet[rng.uniform(sizeof kAlphabet - 1)];
  return token;
}

// The address a browser on this machine reaches a wildcard listener at.
std::string reachable_host(const asio::ip::address& address) {
  if (address.is_unspecified()) return address.is_v6() ? "[::1]" : "127.0.0.1";
  if (address.is_v6()) return "[" + address.to_string() + "]";
  return address.to_string();
}

}  // namespace

int load_server_config(const std::vector<std::string>& args, ServerConfig& config, std::FILE* out,
                       std::FILE* err) {
  auto parsed = parse_command_line(
      args,
      [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (!value) return std::nullopt;
        return std::string(value);
      },
      read_whole_file);
  if (!parsed) {
    std::fprintf(err, "cellrtc-server: configuration error: %s\n", parsed.error().message.c_str());
    return kExitBadConfig;
  }
  if (parsed->help) {
    std::fputs(config_help().c_str(), out);
    return kExitOk;
  }
  config = std::move(parsed->config);
  return -1;
}

int run_server(ServerConfig config, Logger& log, std::FILE* out) {
  runtime::OsRandom rng;
  runtime::MonotonicClock clock;

  bool generated_demo = false;
  if (config.devices.empty()) {
    DeviceEntry demo{"demo", random_token(rng), ""};
    if (config.relay.viewers_need_token) demo.viewer_token = random_token(rng);
    config.devices.push_back(std::move(demo));
    generated_demo = true;
  }

  std::optional<dtls::Certificate> certificate;
  if (!config.certificate_file.empty()) {
    auto pem = read_whole_file(config.certificate_file);
    if (!pem) {
      log.error("certificate_file: cannot read", {{"file", config.certificate_file}});
      return kExitBadConfig;
    }
    auto loaded = dtls::Certificate::from_pem(*pem, *pem);
    if (!loaded) {
      log.error("certificate_file: not a certificate with its P-256 key",
                {{"file", config.certificate_file}, {"reason", loaded.error().reason}});
      return kExitBadConfig;
    }
    certificate.emplace(std::move(*loaded));
  } else {
    auto generated = dtls::Certificate::generate(rng, "cellrtc-server");
    if (!generated) {
      log.error("cannot generate the DTLS certificate", {{"reason", generated.error().reason}});
      return kExitCannotStart;
    }
    certificate.emplace(std::move(*generated));
  }

  asio::io_context io(1);
  Relay relay(config, rng, *certificate);
  HttpFront* front_for_events = nullptr;
  MediaPlane media(io, relay, clock, log, [&front_for_events](RelayEvent event) {
    if (front_for_events) front_for_events->broadcast(event);
  });
  HttpFront front(io, config, relay, media, clock, log);
  front_for_events = &front;

  auto media_bound = media.bind(config.relay.udp_addresses, config.relay.udp_port);
  if (!media_bound) {
    log.error("cannot start the media plane", {{"error", media_bound.error()}});
    return kExitCannotStart;
  }
  auto http_bound = front.start();
  if (!http_bound) {
    log.error("cannot start HTTP", {{"error", http_bound.error()}});
    // The TLS files are configuration; a port in use is not.
    return http_bound.error().rfind("http.tls_", 0) == 0 ? kExitBadConfig : kExitCannotStart;
  }

  IceTcpLimits ice_tcp_limits{config.relay.ice_tcp_max_per_address,
                              config.relay.ice_tcp_max_connections};
  std::vector<SocketAddress> ice_tcp_bound;
  if (config.relay.ice_tcp_port != 0) {
    auto bound =
        media.listen_ice_tcp(config.relay.udp_addresses, config.relay.ice_tcp_port, ice_tcp_limits);
    if (!bound) {
      log.error("cannot start ICE-TCP", {{"error", bound.error()}});
      return kExitCannotStart;
    }
    ice_tcp_bound = *bound;
  }
  if (config.relay.ice_tcp_shared) {
    if (auto s = media.share_ice_tcp_port(http_bound->port(), ice_tcp_limits); !s) {
      log.error("cannot share the HTTP port with ICE-TCP", {{"error", s.error().reason}});
      return kExitCannotStart;
    }
    for (const auto& address : *media_bound)
      ice_tcp_bound.push_back(SocketAddress(address.ip(), http_bound->port()));
  }

  std::string scheme = front.tls() ? "https" : "http";
  std::string base = scheme + "://" + reachable_host(http_bound->address()) + ":" +
                     std::to_string(http_bound->port());
  std::string listening =
      scheme + "://" +
      (http_bound->address().is_v6() ? "[" + http_bound->address().to_string() + "]"
                                     : http_bound->address().to_string()) +
      ":" + std::to_string(http_bound->port());
  // Startup lines for people and scripts (the format is in config_help()); tokens go to stdout
  // only, never to the log.
  std::fprintf(out, "listening %s\n", listening.c_str());
  for (const auto& address : *media_bound) {
    std::fprintf(out, "media udp %s\n", address.to_string().c_str());
  }
  for (const auto& address : ice_tcp_bound) {
    std::fprintf(out, "media tcp %s\n", address.to_string().c_str());
  }
  std::fprintf(out, "viewer %s/\n", base.c_str());
  std::fprintf(out, "whip %s/whip\n", base.c_str());
  for (const auto& device : config.devices) {
    if (generated_demo) {
      std::fprintf(out, "device %s token %s\n", device.id.c_str(), device.token.c_str());
      if (!device.viewer_token.empty()) {
        std::fprintf(out, "device %s viewer_token %s\n", device.id.c_str(),
                     device.viewer_token.c_str());
      }
    } else {
      std::fprintf(out, "device %s\n", device.id.c_str());
    }
  }
  std::fprintf(out, "ready\n");
  std::fflush(out);
  log.info("cellrtc-server started", {{"listen", listening},
                                      {"media", (*media_bound)[0].to_string()},
                                      {"devices", std::to_string(config.devices.size())},
                                      {"tls", front.tls() ? "true" : "false"}});

  // SIGTERM/SIGINT: stop accepting, close every session (their last datagrams go out), send
  // WebSocket close frames, and end once every connection is gone or 2 s have passed.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  Instant stop_started;
  std::function<void()> check_drained = [&] {
    if (front.open_connections() == 0 || clock.now() - stop_started >= seconds(2)) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) check_drained();
    });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    log.info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
    stop_started = clock.now();
    media.shutdown();
    front.stop();
    check_drained();
  });

  try {
    io.run();
  } catch (const std::exception& e) {
    // Nothing in the handlers throws by design; if something does, end cleanly with a message.
    log.error("cellrtc-server failed", {{"error", e.what()}});
    return kExitCannotStart;
  }
  log.info("cellrtc-server stopped");
  return kExitOk;
}

}  // namespace cellrtc::server
