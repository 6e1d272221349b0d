#include "interop/turn_driver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "core/dtls/certificate.h"
#include "runtime/sockaddr.h"

namespace cellrtc::interop {
namespace {

using Clock = std::chrono::steady_clock;

std::string event_text(const turn::TurnEvent& e) {
  if (auto* a = std::get_if<turn::event::Allocated>(&e))
    return "Allocated relayed=" + a->relayed.to_string();
  if (auto* d = std::get_if<turn::event::PeerData>(&e))
    return "PeerData from " + d->peer.to_string() + " (" + std::to_string(d->data.size()) + " B)";
  if (auto* err = std::get_if<turn::event::TurnError>(&e))
    return std::string("TurnError ") + turn::to_string(err->kind) + " " +
           std::to_string(err->stun_code) + ": " + err->reason;
  return "Closed";
}

}  // namespace

std::unique_ptr<TurnDriver> TurnDriver::connect(const TurnDriverOptions& options,
                                                turn::TurnClient& client, std::string* error) {
  const bool stream = options.transport != turn::TurnTransport::udp;
  const auto server = runtime::to_sockaddr(options.server);
  const auto deadline = Clock::now() + options.connect_timeout;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, server.get(), server.length) == 0) {
      if (stream) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      auto d = std::unique_ptr<TurnDriver>(new TurnDriver(options, client, fd));
      if (options.transport == turn::TurnTransport::tls) {
        tls::TlsClientConfig tc;
        tc.ca_pem = options.ca_pem;
        tc.server_name = options.server_name;
        tc.now_unix_s =
            options.tls_now_unix_s.value_or(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
        d->tls_ = std::make_unique<tls::TlsClient>(tc, d->rng_);
        if (auto s = d->tls_->start(d->now()); !s) {
          if (error) *error = std::string("TLS start: ") + s.error().reason;
          return nullptr;
        }
        d->flush();
      }
      return d;
    }
    ::close(fd);
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (error) *error = "cannot connect to " + options.server.to_string();
  return nullptr;
}

TurnDriver::TurnDriver(const TurnDriverOptions& options, turn::TurnClient& client, int fd)
    : options_(options), client_(client), fd_(fd) {}

TurnDriver::~TurnDriver() {
  if (fd_ >= 0) ::close(fd_);
}

Instant TurnDriver::now() const {
  return Instant::from_us(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin_).count());
}

void TurnDriver::send_bytes(ByteView bytes) {
  // Blocking writes on a connected socket; loopback takes them at once.
  size_t off = 0;
  for (int i = 0; i < 1000 && off < bytes.size(); ++i) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      log_.push_back("send failed: errno " + std::to_string(errno));
      return;
    }
    off += static_cast<size_t>(n);
  }
}

void TurnDriver::flush() {
  while (auto b = client_.poll_transmit()) {
    if (tls_) {
      if (auto s = tls_->write(*b); !s)
        log_.push_back(std::string("TLS write: ") + s.error().reason);
    } else {
      send_bytes(*b);
    }
  }
  if (tls_) {
    while (auto b = tls_->poll_transmit())
      send_bytes(*b);
    while (auto e = tls_->poll_event()) {
      if (auto* data = std::get_if<tls::event::Data>(&*e)) {
        client_.handle_input(now(), data->data);
      } else if (auto* c = std::get_if<tls::event::Connected>(&*e)) {
        tls_connected_ = *c;
        log_.push_back("TLS connected: " + c->cipher_suite);
      } else if (auto* f = std::get_if<tls::event::Failed>(&*e)) {
        tls_failure_ = *f;
        log_.push_back(std::string("TLS failed: ") + f->reason);
        client_.handle_connection_closed(now());
      } else {
        log_.push_back("TLS closed by the server");
      }
    }
    // Whatever the client answered to data that came through TLS.
    while (auto b = client_.poll_transmit()) {
      if (auto s = tls_->write(*b); !s)
        log_.push_back(std::string("TLS write: ") + s.error().reason);
    }
    while (auto b = tls_->poll_transmit())
      send_bytes(*b);
  }
  while (auto e = client_.poll_event()) {
    log_.push_back(event_text(*e));
    events_.push_back(std::move(*e));
  }
}

void TurnDriver::feed(ByteView bytes) {
  if (tls_) {
    tls_->handle_input(now(), bytes);
  } else {
    client_.handle_input(now(), bytes);
  }
}

void TurnDriver::pump(std::chrono::milliseconds max_wait) {
  flush();
  auto wait = max_wait;
  if (auto t = client_.next_timeout()) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*t - now());
    wait = std::clamp(until, std::chrono::milliseconds(0), max_wait);
  }
  pollfd p{fd_, POLLIN, 0};
  if (!stream_closed_ && ::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
    // Everything that is there now, a bounded number of reads.
    for (int i = 0; i < 64; ++i) {
      uint8_t buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) break;
      if (n == 0 && options_.transport != turn::TurnTransport::udp) {
        stream_closed_ = true;
        log_.push_back("the server closed the connection");
        client_.handle_connection_closed(now());
        break;
      }
      feed(ByteView(buf, static_cast<size_t>(n)));
      flush();
    }
  } else if (stream_closed_) {
    std::this_thread::sleep_for(wait);
  }
  client_.handle_timeout(now());
  flush();
}

std::string TurnDriver::describe() const {
  std::string s = std::string("client state ") + turn::to_string(client_.state()) + " over " +
                  turn::to_string(options_.transport);
  if (tls_) s += std::string(", TLS ") + tls::to_string(tls_->state());
  s += "; seen:";
  for (const auto& line : log_)
    s += "\n  " + line;
  return s + "\n";
}

PeerSocket::~PeerSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool PeerSocket::open() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  auto local = runtime::to_sockaddr(SocketAddress(IpAddress::loopback_v4(), 0));
  if (::bind(fd_, local.get(), local.length) != 0) return false;
  runtime::SockaddrStorage bound;
  bound.length = sizeof bound.storage;
  if (::getsockname(fd_, bound.get(), &bound.length) != 0) return false;
  auto a = runtime::from_sockaddr(bound.get(), bound.length);
  if (!a) return false;
  address_ = *a;
  return true;
}

std::optional<std::pair<SocketAddress, std::string>> PeerSocket::receive(
    std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  uint8_t buf[65536];
  runtime::SockaddrStorage from;
  from.length = sizeof from.storage;
  ssize_t n = ::recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, from.get(), &from.length);
  if (n < 0) return std::nullopt;
  auto a = runtime::from_sockaddr(from.get(), from.length);
  if (!a) return std::nullopt;
  return std::make_pair(*a, std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n)));
}

bool PeerSocket::send(const SocketAddress& to, const std::string& data) {
  auto a = runtime::to_sockaddr(to);
  return ::sendto(fd_, data.data(), data.size(), 0, a.get(), a.length) ==
         static_cast<ssize_t>(data.size());
}

std::optional<TestTlsIdentity> make_test_tls_identity(const std::string& name, uint64_t seed) {
  SeededRandom rng(seed);
  auto cert = dtls::Certificate::generate(rng, name);
  if (!cert) return std::nullopt;
  return TestTlsIdentity{cert->cert_pem(), cert->key_pem()};
}

}  // namespace cellrtc::interop
