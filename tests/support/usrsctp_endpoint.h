// usrsctp (Debian libusrsctp 0.9.5) as a DatagramEndpoint, so the simulator can carry its
// packets raw over simulated UDP like SctpEndpoint does for ours, plus the same bulk transfer
// (UsrsctpTransfer), for comparing the two stacks on one link. usrsctp runs in-process over
// AF_CONN without its threads; UsrsctpClock gives it the simulator's time. usrsctp is
// process-wide: one UsrsctpTransfer at a time.
#pragma once

#include <usrsctp.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <optional>
#include <set>
#include <vector>

#include "sim/network.h"
#include "support/usrsctp_clock.h"

namespace cellrtc::testing {

class UsrsctpEndpoint;

inline std::set<UsrsctpEndpoint*>& live_usrsctp_endpoints() {
  static std::set<UsrsctpEndpoint*> endpoints;
  return endpoints;
}

int usrsctp_endpoint_output(void* addr, void* buffer, size_t length, uint8_t, uint8_t);

// Once per process: no threads, no UDP encapsulation, the features a data channel uses
// (RFC 8831 section 6.2: no SCTP-AUTH or ASCONF needed over DTLS; PR-SCTP and stream reset on).
inline void init_usrsctp_without_threads() {
  static bool done = [] {
    usrsctp_init_nothreads(0, usrsctp_endpoint_output, nullptr);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_auth_enable(0);
    usrsctp_sysctl_set_sctp_asconf_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);
    usrsctp_sysctl_set_sctp_nrsack_enable(0);
    usrsctp_sysctl_set_sctp_blackhole(2);
    return true;
  }();
  (void)done;
}

// One usrsctp socket. Its AF_CONN address (local and remote alike) is this object, so packets
// usrsctp sends to it come out of this endpoint's poll_transmit, and packets the simulator
// delivers here go into usrsctp as coming from it.
class UsrsctpEndpoint final : public DatagramEndpoint {
 public:
  UsrsctpEndpoint(sim::Network& net, UsrsctpClock& clock, uint16_t port, size_t buffer_bytes)
      : net_(net), clock_(clock), port_(port) {
    init_usrsctp_without_threads();
    live_usrsctp_endpoints().insert(this);
    usrsctp_register_address(this);
    sock_ = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
    configure(sock_, buffer_bytes);
    sockaddr_conn bound = address(port_);
    usrsctp_bind(sock_, reinterpret_cast<sockaddr*>(&bound), sizeof bound);
  }
  ~UsrsctpEndpoint() override {
    live_usrsctp_endpoints().erase(this);
    if (conn_ && conn_ != sock_) usrsctp_close(conn_);
    if (sock_) usrsctp_close(sock_);
    usrsctp_deregister_address(this);
  }
  UsrsctpEndpoint(const UsrsctpEndpoint&) = delete;
  UsrsctpEndpoint& operator=(const UsrsctpEndpoint&) = delete;

  void listen() {
    listening_ = true;
    usrsctp_listen(sock_, 1);
  }
  void connect(uint16_t remote_port) {
    sockaddr_conn remote = address(remote_port);
    usrsctp_connect(sock_, reinterpret_cast<sockaddr*>(&remote), sizeof remote);
    conn_ = sock_;
    after_call();
  }
  uint16_t port() const { return port_; }

  // Queues `data` as one message; returns the bytes usrsctp took (0 when its buffer is full).
  size_t send(uint16_t stream, uint32_t ppid, const uint8_t* data, size_t size) {
    if (!conn_) return 0;
    sctp_sndinfo info{};
    info.snd_sid = stream;
    info.snd_ppid = htonl(ppid);
    info.snd_flags = SCTP_EOR;
    ssize_t n =
        usrsctp_sendv(conn_, data, size, nullptr, 0, &info, sizeof info, SCTP_SENDV_SNDINFO, 0);
    after_call();
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  void handle_datagram(Instant now, const SocketAddress&, const SocketAddress&,
                       ByteView data) override {
    clock_.advance_to(now);
    usrsctp_conninput(this, data.data(), data.size(), 0);
    after_call();
  }
  void handle_timeout(Instant now) override {
    clock_.advance_to(now);
    after_call();
  }
  std::optional<Transmit> poll_transmit() override {
    if (out_.empty()) return std::nullopt;
    Transmit t{local, peer, std::move(out_.front())};
    out_.pop_front();
    return t;
  }
  std::optional<Instant> next_timeout() const override { return clock_.next_tick(); }

  void output(const uint8_t* data, size_t size) {
    out_.emplace_back(data, data + size);
    // Output can come from another endpoint's call (usrsctp's timers are process-wide): make
    // sure the simulator collects it.
    if (!in_call_) net_.at(net_.now(), [this] { net_.wake(*this); });
  }

  // usrsctp's smoothed RTT toward the peer, in ms (0 before it has one).
  uint32_t srtt_ms() {
    if (!conn_) return 0;
    sctp_status status{};
    socklen_t len = sizeof status;
    if (usrsctp_getsockopt(conn_, IPPROTO_SCTP, SCTP_STATUS, &status, &len) < 0) return 0;
    return status.sstat_primary.spinfo_srtt;
  }

  SocketAddress local;
  SocketAddress peer;
  bool connected = false;
  uint64_t bytes = 0;  // user bytes received
  uint64_t messages = 0;

 private:
  sockaddr_conn address(uint16_t port) {
    sockaddr_conn a{};
    a.sconn_family = AF_CONN;
    a.sconn_port = htons(port);
    a.sconn_addr = this;
    return a;
  }

  static void configure(struct socket* s, size_t buffer_bytes) {
    usrsctp_set_non_blocking(s, 1);
    int on = 1;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
    int buf = static_cast<int>(buffer_bytes);
    usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sctp_event ev{};
    ev.se_assoc_id = SCTP_FUTURE_ASSOC;
    ev.se_type = SCTP_ASSOC_CHANGE;
    ev.se_on = 1;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev);
  }

  // After every call into usrsctp: accept, read what arrived, note the association coming up.
  void after_call() {
    in_call_ = true;
    if (listening_ && !conn_) {
      conn_ = usrsctp_accept(sock_, nullptr, nullptr);
      if (conn_) usrsctp_set_non_blocking(conn_, 1);
    }
    while (conn_) {
      sctp_rcvinfo info{};
      socklen_t infolen = sizeof info;
      unsigned int infotype = 0;
      int flags = 0;
      sockaddr_conn from{};
      socklen_t fromlen = sizeof from;
      ssize_t n =
          usrsctp_recvv(conn_, buffer_.data(), buffer_.size(), reinterpret_cast<sockaddr*>(&from),
                        &fromlen, &info, &infolen, &infotype, &flags);
      if (n <= 0) break;
      if (flags & MSG_NOTIFICATION) {
        auto* note = reinterpret_cast<const sctp_notification*>(buffer_.data());
        if (note->sn_header.sn_type == SCTP_ASSOC_CHANGE &&
            note->sn_assoc_change.sac_state == SCTP_COMM_UP)
          connected = true;
        continue;
      }
      bytes += static_cast<uint64_t>(n);
      if (flags & MSG_EOR) ++messages;
    }
    in_call_ = false;
  }

  sim::Network& net_;
  UsrsctpClock& clock_;
  uint16_t port_;
  struct socket* sock_ = nullptr;
  struct socket* conn_ = nullptr;
  bool listening_ = false;
  bool in_call_ = false;
  std::deque<Bytes> out_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(256 * 1024);
};

inline int usrsctp_endpoint_output(void* addr, void* buffer, size_t length, uint8_t, uint8_t) {
  auto* endpoint = static_cast<UsrsctpEndpoint*>(addr);
  if (live_usrsctp_endpoints().count(endpoint))
    endpoint->output(static_cast<const uint8_t*>(buffer), length);
  return 0;
}

// usrsctp's retransmission counters (process-wide, so taken as differences).
struct UsrsctpRetransmissions {
  uint64_t fast_retransmits = 0;  // DATA chunks fast-retransmitted
  uint64_t timeouts = 0;          // T3-rtx expirations
};

inline UsrsctpRetransmissions usrsctp_retransmissions() {
  sctpstat stat{};
  usrsctp_get_stat(&stat);
  return {stat.sctps_sendfastretrans, stat.sctps_timodata};
}

// SctpTransfer's scenario with usrsctp at both ends.
struct UsrsctpTransfer {
  UsrsctpTransfer(const sim::Attachment& sender_links, size_t buffer_bytes, uint64_t seed)
      : net(seed),
        clock(net.now()),
        sender(net, clock, next_port(), buffer_bytes),
        receiver(net, clock, next_port(), buffer_bytes) {
    auto a =
        net.add_host("sender", *IpAddress::parse("198.51.100.10"), net.internet(), sender_links)
            .value();
    auto b = net.add_host("receiver", *IpAddress::parse("203.0.113.20"), net.internet()).value();
    sender.local = SocketAddress(net.address(a), 5000);
    receiver.local = SocketAddress(net.address(b), 5000);
    sender.peer = receiver.local;
    receiver.peer = sender.local;
    (void)net.bind(a, 5000, sender);
    (void)net.bind(b, 5000, receiver);
    start_ = usrsctp_retransmissions();
  }

  // Retransmissions since this transfer was set up (both ends; only the sender has data).
  UsrsctpRetransmissions retransmissions() const {
    UsrsctpRetransmissions now = usrsctp_retransmissions();
    return {now.fast_retransmits - start_.fast_retransmits, now.timeouts - start_.timeouts};
  }

  // usrsctp keeps closed associations' ports a while: every endpoint gets its own.
  static uint16_t next_port() {
    static uint16_t port = 20000;
    return port++;
  }

  bool connect(Duration limit = seconds(30)) {
    receiver.listen();
    sender.connect(receiver.port());
    net.wake(sender);
    return net.run_until([&] { return sender.connected && receiver.connected; }, net.now() + limit);
  }

  std::optional<Duration> transfer(size_t total, size_t message_size, Duration limit) {
    Instant start = net.now();
    Instant deadline = start + limit;
    size_t queued = 0;
    uint64_t base = receiver.bytes;
    std::vector<uint8_t> message(message_size, 0x5A);
    while (net.now() < deadline) {
      while (queued < total) {
        size_t n = std::min(message_size, total - queued);
        size_t taken = sender.send(1, 53, message.data(), n);
        queued += taken;
        if (taken < n) break;
      }
      net.wake(sender);
      if (net.run_until([&] { return receiver.bytes - base >= total; },
                        std::min(deadline, net.now() + milliseconds(20))))
        return net.now() - start;
    }
    return std::nullopt;
  }

  sim::Network net;
  UsrsctpClock clock;
  UsrsctpEndpoint sender;
  UsrsctpEndpoint receiver;

 private:
  UsrsctpRetransmissions start_;
};

}  // namespace cellrtc::testing
