// Test plumbing for the core's TurnClient on real loopback sockets: a blocking driver that
// moves bytes between the client (with a tls::TlsClient underneath for TLS) and a UDP or TCP
// socket, a UDP peer socket, and a self-signed TLS identity for coturn. Every wait is bounded.
#pragma once

#include <chrono>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/common/random.h"
#include "core/tls/tls_client.h"
#include "core/turn/turn_client.h"

namespace cellrtc::interop {

struct TurnDriverOptions {
  turn::TurnTransport transport = turn::TurnTransport::udp;
  SocketAddress server;  // 127.0.0.1 only
  // TLS: the CA the server's certificate must chain to and the name it must carry.
  std::string ca_pem;
  std::string server_name;
  std::chrono::milliseconds connect_timeout{5000};
  // The wall-clock time the TLS client checks validity dates against; the system clock's
  // when unset.
  std::optional<int64_t> tls_now_unix_s;
};

class TurnDriver {
 public:
  // Opens the socket (connects it for TCP/TLS, retrying until connect_timeout) and, for TLS,
  // starts the handshake. nullptr and *error on failure.
  static std::unique_ptr<TurnDriver> connect(const TurnDriverOptions& options,
                                             turn::TurnClient& client, std::string* error);
  ~TurnDriver();
  TurnDriver(const TurnDriver&) = delete;
  TurnDriver& operator=(const TurnDriver&) = delete;

  Instant now() const;
  // One round: write what the client (and TLS) have to send, wait for input up to max_wait or
  // the client's next timeout, feed it, run due timers, collect events.
  void pump(std::chrono::milliseconds max_wait);
  // Pumps until an event of type E arrives (taken out of the collected events) or `timeout`.
  template <class E>
  std::optional<E> wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < 100000; ++i) {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (auto* e = std::get_if<E>(&*it)) {
          E out = std::move(*e);
          events_.erase(it);
          return out;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      pump(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  // Every event collected so far, in order.
  std::vector<turn::TurnEvent> take_events() {
    std::vector<turn::TurnEvent> out(std::make_move_iterator(events_.begin()),
                                     std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
  }
  // The client's state, TLS state and the events seen, for assertion messages.
  std::string describe() const;
  std::optional<tls::event::Failed> tls_failure() const { return tls_failure_; }
  std::optional<tls::event::Connected> tls_connected() const { return tls_connected_; }

 private:
  TurnDriver(const TurnDriverOptions& options, turn::TurnClient& client, int fd);
  void flush();
  void send_bytes(ByteView bytes);
  void feed(ByteView bytes);

  TurnDriverOptions options_;
  turn::TurnClient& client_;
  int fd_;
  SeededRandom rng_{99};
  std::unique_ptr<tls::TlsClient> tls_;
  std::optional<tls::event::Failed> tls_failure_;
  std::optional<tls::event::Connected> tls_connected_;
  std::chrono::steady_clock::time_point origin_ = std::chrono::steady_clock::now();
  std::deque<turn::TurnEvent> events_;
  std::vector<std::string> log_;
  bool stream_closed_ = false;
};

// A UDP socket on 127.0.0.1 standing for the peer on the far side of the relay.
class PeerSocket {
 public:
  PeerSocket() = default;
  ~PeerSocket();
  PeerSocket(const PeerSocket&) = delete;
  PeerSocket& operator=(const PeerSocket&) = delete;
  bool open();
  SocketAddress address() const { return address_; }
  std::optional<std::pair<SocketAddress, std::string>> receive(std::chrono::milliseconds timeout);
  bool send(const SocketAddress& to, const std::string& data);

 private:
  int fd_ = -1;
  SocketAddress address_;
};

struct TestTlsIdentity {
  std::string cert_pem;
  std::string key_pem;
};
// A P-256 key and a self-signed certificate with CN=<name> (its own CA, as tests need it).
std::optional<TestTlsIdentity> make_test_tls_identity(const std::string& name, uint64_t seed = 5);

}  // namespace cellrtc::interop
