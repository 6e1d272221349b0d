// The real cellrtc-server and cellrtc-device binaries of this build, started for process tests
// on loopback: the server on free 127.0.0.1 ports with a fixed device token, the device
// publishing its test pattern to it.
//
//   std::string error;
//   auto server = ServerProcess::start({.device_id = "cam1", .device_token = "t0ken"}, &error);
//   ASSERT_TRUE(server) << error;
//   auto device = DeviceProcess::start(*server, &error);   // publishes as cam1
//   ASSERT_TRUE(device) << error;
//   ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s)) << server->log_tail();
//
// Processes are stopped by their destructors (SIGTERM, then SIGKILL) and die with the test
// binary (PR_SET_PDEATHSIG in interop::ChildProcess).
//
// In the cellular lab (tests/lab, docs/lab.md) the same processes run inside the lab's network
// namespaces: a command prefix such as {"/bin/ip", "netns", "exec", "cltest-srv"} starts
// them there, the server listens on its lab address and fixed ports, and the test's own HTTP
// requests to it are made from its namespace (ServerOptions::netns).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "interop/child_process.h"

namespace cellrtc::browser {

// The build's binaries.
std::string server_binary();
std::string device_binary();
std::string modem_sim_binary();

// The command prefix that runs a program in a network namespace: ip netns exec NAME.
std::vector<std::string> netns_exec_prefix(const std::string& netns);
// An IPv4 socket (socket(2)'s `type`, flags included) of the network namespace `netns` (a name
// under /run/netns), or of the calling thread's own when empty; -1 on failure. The socket stays
// in that namespace whatever the thread does next.
int ipv4_socket_in(const std::string& netns, int type);

struct HttpResponse {
  int status = 0;
  std::string body;
};
// Where an HTTP server is reached from: an IPv4 address and port, from the network namespace
// `netns` (a name under /run/netns) or, when empty, from the test's own.
struct HttpEndpoint {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::string netns{};
};
// A plain HTTP/1.1 GET (Connection: close); nullopt when nothing answers in time or the answer
// is not HTTP.
std::optional<HttpResponse> http_get(const HttpEndpoint& endpoint, const std::string& path,
                                     std::chrono::milliseconds timeout);
// The same to 127.0.0.1:port.
std::optional<HttpResponse> http_get(uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout);

// A port on 127.0.0.1 free for both TCP and UDP right now.
std::optional<uint16_t> free_loopback_port();

struct ServerOptions {
  std::string device_id = "cam1";
  std::string device_token = "device-token-for-tests";
  std::string viewer_token{};  // set: viewers need it
  int reconnect_grace_seconds = 20;
  bool viewer_control = true;
  // The lab: where the server runs and listens. By default it runs as a child of the test on
  // free 127.0.0.1 ports.
  std::vector<std::string> command_prefix{};  // e.g. netns_exec_prefix("cltest-srv")
  std::string netns{};                        // the test's requests to it come from there
  std::string address = "127.0.0.1";          // HTTP and UDP (--listen, --udp-address)
  uint16_t http_port = 0;                     // 0: free ports on 127.0.0.1 (HTTP and UDP)
  uint16_t udp_port = 0;
  std::string public_ip{};                // --public-ip when set
  std::vector<std::string> extra_args{};  // further flags, e.g. --ice-tcp-shared
};

class ServerProcess {
 public:
  // Starts the server and waits until /healthz answers (15 s at most).
  static std::unique_ptr<ServerProcess> start(const ServerOptions& options, std::string* error);

  const ServerOptions& options() const { return options_; }
  uint16_t http_port() const { return http_port_; }
  uint16_t udp_port() const { return udp_port_; }
  std::string url(const std::string& path = "/") const;
  HttpEndpoint endpoint() const { return {options_.address, http_port_, options_.netns}; }

  // GET /api/devices parsed; nullopt if it does not answer with a JSON array.
  std::optional<nlohmann::json> devices();
  // Waits until /api/devices shows `id` in `state` (live, reconnecting, offline).
  bool wait_device_state(const std::string& id, const std::string& state,
                         std::chrono::milliseconds timeout);

  // SIGKILL: the server vanishes, sessions and all.
  void kill();
  // Starts it again on the same ports (a fresh process: no sessions, a new DTLS certificate).
  bool restart(std::string* error);

  bool running() { return process_->running(); }
  std::string log_tail(size_t max_bytes = 4096) const { return process_->log_tail(max_bytes); }
  // Its whole log (stderr and stdout) so far.
  std::string log() const;

 private:
  ServerProcess(ServerOptions options, uint16_t http_port, uint16_t udp_port,
                std::unique_ptr<interop::ChildProcess> process)
      : options_(std::move(options)),
        http_port_(http_port),
        udp_port_(udp_port),
        process_(std::move(process)) {}

  ServerOptions options_;
  uint16_t http_port_;
  uint16_t udp_port_;
  std::unique_ptr<interop::ChildProcess> process_;
};

struct DeviceOptions {
  std::string source = "testpattern:320x240";
  int fps = 10;
  std::string modem{};  // the modem's AT port (a simulated modem's pty) for the telemetry
  std::string bind = "127.0.0.1";             // --bind; empty: every interface
  std::vector<std::string> command_prefix{};  // e.g. netns_exec_prefix("cltest-dev")
  std::vector<std::string> extra_args{};      // appended last (--ice-transport-policy, ...)
};

// cellrtc-modem-sim serving a simulated A7670E on a pseudo-terminal reachable at `link`.
class ModemSimProcess {
 public:
  // Starts it and waits (5 s at most) for `link` to appear.
  static std::unique_ptr<ModemSimProcess> start(const std::string& link, std::string* error);
  const std::string& port() const { return link_; }

 private:
  ModemSimProcess(std::string link, std::unique_ptr<interop::ChildProcess> process)
      : link_(std::move(link)), process_(std::move(process)) {}
  std::string link_;
  std::unique_ptr<interop::ChildProcess> process_;
};

class DeviceProcess {
 public:
  // Starts cellrtc-device publishing to `server` with the server's device token.
  static std::unique_ptr<DeviceProcess> start(const ServerProcess& server,
                                              const DeviceOptions& options, std::string* error);
  // SIGKILL: the device vanishes without a goodbye, as a device losing its link would.
  void kill();
  std::string log_tail(size_t max_bytes = 4096) const { return process_->log_tail(max_bytes); }

 private:
  explicit DeviceProcess(std::unique_ptr<interop::ChildProcess> process)
      : process_(std::move(process)) {}
  std::unique_ptr<interop::ChildProcess> process_;
};

}  // namespace cellrtc::browser
