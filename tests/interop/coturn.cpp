#include "interop/coturn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/common/crypto.h"

namespace cellrtc::interop {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStartAttempts = 3;
constexpr int kPortPickAttempts = 20;

// A file descriptor closed on scope exit.
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
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

std::string base64(const uint8_t* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < size) v |= uint32_t{data[i + 1]} << 8;
    if (i + 2 < size) v |= data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[v & 63] : '=';
  }
  return out;
}

bool tls_enabled(const CoturnOptions& o) {
  return !o.tls_cert_pem.empty() && !o.tls_key_pem.empty();
}

std::string config_text(const CoturnOptions& o, uint16_t port, uint16_t tls_port,
                        const std::string& dir) {
  std::string c;
  c += "# Generated for one interop test run; removed when the server stops.\n";
  c += "listening-ip=127.0.0.1\n";
  c += "relay-ip=127.0.0.1\n";
  c += "listening-port=" + std::to_string(port) + "\n";
  c += "min-port=" + std::to_string(o.min_relay_port) + "\n";
  c += "max-port=" + std::to_string(o.max_relay_port) + "\n";
  if (tls_enabled(o)) {
    // The certificate and key were written next to the configuration.
    c += "tls-listening-port=" + std::to_string(tls_port) + "\n";
    c += "cert=" + dir + "/cert.pem\n";
    c += "pkey=" + dir + "/key.pem\n";
    c += "no-dtls\nno-cli\n";
  } else {
    c += "no-tls\nno-dtls\nno-cli\n";
  }
  c += "fingerprint\n";
  c += "use-auth-secret\n";
  c += "static-auth-secret=" + o.static_auth_secret + "\n";
  c += "realm=" + o.realm + "\n";
  c += "no-multicast-peers\n";
  if (o.allow_loopback_peers) c += "allow-loopback-peers\n";
  if (o.verbose) c += "verbose\n";
  if (o.stale_nonce_s) c += "stale-nonce=" + std::to_string(o.stale_nonce_s) + "\n";
  // Everything coturn would otherwise put under /var: the log goes to stdout (which the
  // fixture sends to the build tree), the pid file and the SQLite user db to the temp dir.
  c += "log-file=stdout\n";
  c += "pidfile=" + dir + "/turnserver.pid\n";
  c += "userdb=" + dir + "/turndb\n";
  return c;
}

}  // namespace

std::optional<uint16_t> pick_free_loopback_port() {
  for (int attempt = 0; attempt < kPortPickAttempts; ++attempt) {
    Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (udp.get() < 0) return std::nullopt;
    sockaddr_in a = loopback(0);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) continue;
    socklen_t len = sizeof a;
    if (::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) continue;
    uint16_t port = ntohs(a.sin_port);
    Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (tcp.get() < 0) return std::nullopt;
    sockaddr_in t = loopback(port);
    if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) return port;
  }
  return std::nullopt;
}

bool answers_stun_binding(const SocketAddress& server, std::chrono::milliseconds timeout) {
  if (!server.ip().is_v4()) return false;
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  sockaddr_in local = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return false;
  sockaddr_in to = loopback(server.port());
  to.sin_addr.s_addr = htonl(server.ip().v4_value());

  // RFC 8489 section 5: type 0x0001 (Binding request), length 0, magic cookie, transaction id.
  std::array<uint8_t, 20> request{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  std::random_device entropy;
  for (size_t i = 8; i < request.size(); ++i)
    request[i] = static_cast<uint8_t>(entropy());

  auto deadline = Clock::now() + timeout;
  // One request every 100 ms until the deadline: at most timeout / 100 ms sends, and every
  // inner pass either receives, sleeps, or polls with the time left to the next send.
  while (Clock::now() < deadline) {
    ::sendto(fd.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to);
    auto resend_at = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(resend_at - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      std::array<uint8_t, 1500> response{};
      ssize_t n = ::recv(fd.get(), response.data(), response.size(), 0);
      if (n < 0) {
        // ICMP port unreachable (nothing listening yet) shows as ECONNREFUSED: resend later.
        std::this_thread::sleep_until(resend_at);
        break;
      }
      // Binding success response (0x0101) to our transaction (bytes 4..19 echo ours).
      if (n >= 20 && response[0] == 0x01 && response[1] == 0x01 &&
          std::memcmp(response.data() + 4, request.data() + 4, 16) == 0) {
        return true;
      }
    }
  }
  return false;
}

std::unique_ptr<CoturnServer> CoturnServer::start(const CoturnOptions& options,
                                                  std::string* error) {
  auto fail = [&](const std::string& what) -> std::unique_ptr<CoturnServer> {
    if (error) *error = "coturn: " + what;
    return nullptr;
  };
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return fail(options.binary +
                " is missing or not executable; install Debian's coturn package "
                "(scripts/setup.sh does)");
  }

  std::string last_failure;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    auto port = pick_free_loopback_port();
    if (!port) return fail("no free port on 127.0.0.1");

    std::string dir_template =
        (std::filesystem::temp_directory_path() / "cellrtc-coturn-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
      return fail(std::string("mkdtemp: ") + std::strerror(errno));
    }
    std::string dir = dir_template;
    std::string config_path = dir + "/turnserver.conf";
    std::optional<uint16_t> tls_port;
    if (tls_enabled(options)) {
      for (int i = 0; i < kPortPickAttempts && (!tls_port || *tls_port == *port); ++i)
        tls_port = pick_free_loopback_port();
      if (!tls_port || *tls_port == *port) return fail("no second free port on 127.0.0.1");
      std::ofstream cert(dir + "/cert.pem");
      cert << options.tls_cert_pem;
      std::ofstream key(dir + "/key.pem");
      key << options.tls_key_pem;
      if (!cert || !key) return fail("cannot write the TLS certificate into " + dir);
    }
    {
      std::ofstream config(config_path);
      config << config_text(options, *port, tls_port.value_or(0), dir);
      if (!config) return fail("cannot write " + config_path);
    }

    ChildProcessOptions child;
    child.program = options.binary;
    child.args = {"-c", config_path};
    child.log_path = interop_log_path(unique_name("coturn-" + std::to_string(*port)) + ".log");
    child.capture_stdout = false;  // coturn logs to stdout; nobody reads it but the log file
    std::string spawn_error;
    auto process = ChildProcess::spawn(child, &spawn_error);
    if (!process) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      return fail(spawn_error);
    }

    SocketAddress address(IpAddress::loopback_v4(), *port);
    if (answers_stun_binding(address, options.startup_timeout)) {
      SocketAddress tls_address(IpAddress::loopback_v4(), tls_port.value_or(0));
      return std::unique_ptr<CoturnServer>(
          new CoturnServer(options, address, tls_address, dir, std::move(process)));
    }
    bool exited = !process->running();
    int status = process->stop();
    last_failure = "coturn on port " + std::to_string(*port) +
                   (exited ? " exited early (" + describe_wait_status(status) + ")"
                           : " did not answer a STUN Binding request within " +
                                 std::to_string(options.startup_timeout.count()) + " ms") +
                   "\n" + process->log_tail();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (!exited) break;  // it runs but does not answer: another port will not help
  }
  return fail(last_failure);
}

CoturnServer::~CoturnServer() {
  process_->stop();
  std::error_code ec;
  std::filesystem::remove_all(config_dir_, ec);
}

std::pair<std::string, std::string> CoturnServer::rest_credentials(
    std::string_view user, std::chrono::seconds lifetime) const {
  auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch() + lifetime)
                    .count();
  std::string username = std::to_string(expiry) + ":" + std::string(user);
  auto mac = hmac_sha1(as_bytes(options_.static_auth_secret), as_bytes(username));
  return {username, base64(mac.data(), mac.size())};
}

}  // namespace cellrtc::interop
