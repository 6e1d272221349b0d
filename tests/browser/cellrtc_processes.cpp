#include "browser/cellrtc_processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include "support/build_paths.h"

namespace cellrtc::browser {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A socket closed on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(0ms,
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

}  // namespace

std::string server_binary() {
  return cellrtc::test_paths::binary_dir() + "/server/cellrtc-server";
}
std::string device_binary() {
  return cellrtc::test_paths::binary_dir() + "/device/cellrtc-device";
}
std::vector<std::string> netns_exec_prefix(const std::string& netns) {
  return {"/bin/ip", "netns", "exec", netns};
}

// A socket stays in the namespace it was made in, so the thread enters `netns` for the socket()
// call alone (setns(2) moves only the calling thread).
int ipv4_socket_in(const std::string& netns, int type) {
  if (netns.empty()) return ::socket(AF_INET, type, 0);
  Fd target(::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC));
  Fd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (target.get() < 0 || own.get() < 0) return -1;
  if (::setns(target.get(), CLONE_NEWNET) != 0) return -1;
  int fd = ::socket(AF_INET, type, 0);
  if (::setns(own.get(), CLONE_NEWNET) != 0) {
    // The thread would go on in the other namespace: nothing after this could be trusted.
    std::perror("setns back to the test's network namespace");
    std::abort();
  }
  return fd;
}

std::string modem_sim_binary() {
  return cellrtc::test_paths::binary_dir() + "/tools/modem-sim/cellrtc-modem-sim";
}

std::optional<uint16_t> free_loopback_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in a = loopback(0);
    if (udp.get() < 0 || ::bind(udp.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      continue;
    }
    socklen_t length = sizeof a;
    if (::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&a), &length) != 0) continue;
    const uint16_t port = ntohs(a.sin_port);
    Fd tcp(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in t = loopback(port);
    if (tcp.get() >= 0 && ::bind(tcp.get(), reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) {
      return port;
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> http_get(uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  return http_get(HttpEndpoint{.port = port}, path, timeout);
}

std::optional<HttpResponse> http_get(const HttpEndpoint& endpoint, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_in a = loopback(endpoint.port);
  if (::inet_pton(AF_INET, endpoint.address.c_str(), &a.sin_addr) != 1) return std::nullopt;
  Fd fd(ipv4_socket_in(endpoint.netns, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    return std::nullopt;
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(left(deadline).count())) != 1) return std::nullopt;
  int so_error = 0;
  socklen_t length = sizeof so_error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length);
  if (so_error != 0) return std::nullopt;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + endpoint.address +
                              "\r\nConnection: close\r\nAccept: */*\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return std::nullopt;
  }
  std::string raw;
  char buffer[4096];
  while (raw.size() < (1u << 20)) {
    p = {fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left(deadline).count())) != 1) return std::nullopt;
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (the server sends Content-Length and closes)
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return std::nullopt;
  HttpResponse response;
  response.status = std::atoi(raw.c_str() + 9);
  auto body = raw.find("\r\n\r\n");
  if (body != std::string::npos) response.body = raw.substr(body + 4);
  return response;
}

namespace {

// Starts the server on the given ports and waits for /healthz; nullptr and *error if it does
// not answer within 15 s.
// `prefix` and then `program` with `args`, as a child process.
interop::ChildProcessOptions child_options(const std::vector<std::string>& prefix,
                                           const std::string& program,
                                           std::vector<std::string> args) {
  interop::ChildProcessOptions options;
  if (prefix.empty()) {
    options.program = program;
  } else {
    options.program = prefix.front();
    std::vector<std::string> all(prefix.begin() + 1, prefix.end());
    all.push_back(program);
    all.insert(all.end(), args.begin(), args.end());
    args = std::move(all);
  }
  options.args = std::move(args);
  return options;
}

std::unique_ptr<interop::ChildProcess> spawn_server(const ServerOptions& options,
                                                    uint16_t http_port, uint16_t udp_port,
                                                    std::string* error) {
  std::string device = options.device_id + ":" + options.device_token;
  if (!options.viewer_token.empty()) device += ":" + options.viewer_token;
  std::vector<std::string> args = {
      "--listen=" + options.address + ":" + std::to_string(http_port),
      "--udp-port=" + std::to_string(udp_port),
      "--udp-address=" + options.address,
      "--device=" + device,
      "--reconnect-grace=" + std::to_string(options.reconnect_grace_seconds),
      std::string("--viewer-control=") + (options.viewer_control ? "true" : "false"),
      std::string("--viewers-need-token=") + (options.viewer_token.empty() ? "false" : "true"),
      "--web-root=" + cellrtc::test_paths::source_dir() + "/web",
      // Every viewer of a test comes from 127.0.0.1: no rate limit in the way.
      "--requests-per-second=1000",
      "--request-burst=1000",
      "--log-level=debug",
  };
  if (!options.public_ip.empty()) args.push_back("--public-ip=" + options.public_ip);
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  auto child = child_options(options.command_prefix, server_binary(), std::move(args));
  child.log_path = interop::interop_log_path(interop::unique_name("cellrtc-server") + ".log");
  child.capture_stdout = false;
  auto process = interop::ChildProcess::spawn(child, error);
  if (!process) return nullptr;
  const auto deadline = Clock::now() + 15s;
  const HttpEndpoint endpoint{options.address, http_port, options.netns};
  while (Clock::now() < deadline && process->running()) {
    auto health = http_get(endpoint, "/healthz", 1000ms);
    if (health && health->status == 200) return process;
    std::this_thread::sleep_for(100ms);
  }
  *error = "cellrtc-server on " + options.address + ":" + std::to_string(http_port) +
           " did not answer /healthz: " + process->log_tail();
  process->stop();
  return nullptr;
}

}  // namespace

std::unique_ptr<ServerProcess> ServerProcess::start(const ServerOptions& options,
                                                    std::string* error) {
  if (options.http_port != 0) {  // the lab: its own address, fixed ports
    auto process = spawn_server(options, options.http_port, options.udp_port, error);
    if (!process) return nullptr;
    return std::unique_ptr<ServerProcess>(
        new ServerProcess(options, options.http_port, options.udp_port, std::move(process)));
  }
  // Another process may take a port between picking and binding it: a few attempts.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto http_port = free_loopback_port();
    auto udp_port = free_loopback_port();
    if (!http_port || !udp_port || *http_port == *udp_port) {
      *error = "no free port on 127.0.0.1";
      continue;
    }
    auto process = spawn_server(options, *http_port, *udp_port, error);
    if (process) {
      return std::unique_ptr<ServerProcess>(
          new ServerProcess(options, *http_port, *udp_port, std::move(process)));
    }
  }
  return nullptr;
}

void ServerProcess::kill() {
  if (process_->running()) ::kill(process_->pid(), SIGKILL);
  process_->stop();
}

bool ServerProcess::restart(std::string* error) {
  process_->stop();
  auto process = spawn_server(options_, http_port_, udp_port_, error);
  if (!process) return false;
  process_ = std::move(process);
  return true;
}

std::string ServerProcess::url(const std::string& path) const {
  return "http://" + options_.address + ":" + std::to_string(http_port_) + path;
}

std::string ServerProcess::log() const {
  std::ifstream in(process_->log_path(), std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<nlohmann::json> ServerProcess::devices() {
  auto response = http_get(endpoint(), "/api/devices", 3000ms);
  if (!response || response->status != 200) return std::nullopt;
  auto list = nlohmann::json::parse(response->body, nullptr, false);
  if (list.is_discarded() || !list.is_array()) return std::nullopt;
  return list;
}

bool ServerProcess::wait_device_state(const std::string& id, const std::string& state,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (auto list = devices()) {
      for (const auto& d : *list) {
        if (d.is_object() && d.value("id", "") == id && d.value("state", "") == state) {
          return true;
        }
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

std::unique_ptr<DeviceProcess> DeviceProcess::start(const ServerProcess& server,
                                                    const DeviceOptions& options,
                                                    std::string* error) {
  std::vector<std::string> args = {
      "--server=" + server.url("/whip"),
      "--token=" + server.options().device_token,
      "--source=" + options.source,
      "--fps=" + std::to_string(options.fps),
  };
  // Loopback only, unless the device runs in the lab.
  if (!options.bind.empty()) args.push_back("--bind=" + options.bind);
  if (!options.modem.empty()) args.push_back("--modem=" + options.modem);
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  auto child = child_options(options.command_prefix, device_binary(), std::move(args));
  child.log_path = interop::interop_log_path(interop::unique_name("cellrtc-device") + ".log");
  child.capture_stdout = false;
  auto process = interop::ChildProcess::spawn(child, error);
  if (!process) return nullptr;
  return std::unique_ptr<DeviceProcess>(new DeviceProcess(std::move(process)));
}

std::unique_ptr<ModemSimProcess> ModemSimProcess::start(const std::string& link,
                                                        std::string* error) {
  std::filesystem::remove(link);
  auto process = interop::ChildProcess::spawn(
      {.program = modem_sim_binary(),
       .args = {"--link", link, "--seconds", "120"},
       .log_path = interop::interop_log_path(interop::unique_name("cellrtc-modem-sim") + ".log"),
       .capture_stdout = false},
      error);
  if (!process) return nullptr;
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && !std::filesystem::exists(link)) {
    std::this_thread::sleep_for(50ms);
  }
  if (!std::filesystem::exists(link)) {
    *error = "cellrtc-modem-sim made no " + link + ": " + process->log_tail();
    return nullptr;
  }
  return std::unique_ptr<ModemSimProcess>(new ModemSimProcess(link, std::move(process)));
}

void DeviceProcess::kill() {
  if (process_->running()) ::kill(process_->pid(), SIGKILL);
  process_->stop();
}

}  // namespace cellrtc::browser
