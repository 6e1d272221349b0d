// An SCTP association as a DatagramEndpoint, so the simulator can carry its packets raw over
// simulated UDP (no DTLS), plus a bulk-transfer scenario shared by simulations and benchmarks.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

#include "core/common/random.h"
#include "core/sctp/sctp_association.h"
#include "sim/network.h"

namespace cellrtc::testing {

class SctpEndpoint final : public DatagramEndpoint {
 public:
  SctpEndpoint(const sctp::SctpConfig& config, uint64_t seed) : rng_(seed), assoc(config, rng_) {}

  void handle_datagram(Instant now, const SocketAddress&, const SocketAddress&,
                       ByteView data) override {
    assoc.handle_packet(now, data);
    drain();
  }
  void handle_timeout(Instant now) override {
    assoc.handle_timeout(now);
    drain();
  }
  std::optional<Transmit> poll_transmit() override {
    auto p = assoc.poll_transmit();
    if (!p) return std::nullopt;
    return Transmit{local, peer, std::move(*p)};
  }
  std::optional<Instant> next_timeout() const override { return assoc.next_timeout(); }

  // Takes queued events, unless the application is "not reading" (then messages stay inside
  // the association and count against its receive window).
  void drain() {
    if (!reading) return;
    while (auto e = assoc.poll_event()) {
      if (auto* m = std::get_if<sctp::event::Message>(&*e)) {
        ++messages;
        bytes += m->data.size();
        if (keep_messages) received.push_back(std::move(*m));
      } else if (std::holds_alternative<sctp::event::Connected>(*e)) {
        connected = true;
      } else {
        other.push_back(std::move(*e));
      }
    }
  }

  SocketAddress local;
  SocketAddress peer;
  bool reading = true;
  bool keep_messages = false;
  bool connected = false;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  std::vector<sctp::event::Message> received;
  std::vector<sctp::SctpEvent> other;

 private:
  SeededRandom rng_;

 public:
  sctp::SctpAssociation assoc;
};

// Sender and receiver on two public hosts; the sender's attachment is the link under test.
struct SctpTransfer {
  SctpTransfer(const sim::Attachment& sender_links, const sctp::SctpConfig& sender_config,
               const sctp::SctpConfig& receiver_config, uint64_t seed)
      : net(seed), sender(sender_config, seed * 2 + 1), receiver(receiver_config, seed * 2 + 2) {
    auto a =
        net.add_host("sender", *IpAddress::parse("198.51.100.10"), net.internet(), sender_links)
            .value();
    sender_node = a;
    auto b = net.add_host("receiver", *IpAddress::parse("203.0.113.20"), net.internet()).value();
    sender.local = SocketAddress(net.address(a), 5000);
    receiver.local = SocketAddress(net.address(b), 5000);
    sender.peer = receiver.local;
    receiver.peer = sender.local;
    (void)net.bind(a, 5000, sender);
    (void)net.bind(b, 5000, receiver);
  }

  bool connect(Duration limit = seconds(30)) {
    sender.assoc.connect(net.now());
    receiver.assoc.connect(net.now());
    net.wake(sender);
    net.wake(receiver);
    return net.run_until([&] { return sender.connected && receiver.connected; }, net.now() + limit);
  }

  // Sends `total` bytes as messages of `message_size`, keeping the send buffer topped up;
  // returns the virtual time from the first send to the last byte delivered, or nullopt.
  // `tick`, when given, runs every 20 ms of virtual time.
  std::optional<Duration> transfer(size_t total, size_t message_size, Duration limit,
                                   const sctp::SendOptions& options = {},
                                   const std::function<void()>& tick = {}) {
    Instant start = net.now();
    Instant deadline = start + limit;
    size_t queued = 0;
    uint64_t base = receiver.bytes;
    Bytes message(message_size, 0x5A);
    while (net.now() < deadline) {
      while (queued < total) {
        size_t n = std::min(message_size, total - queued);
        if (!sender.assoc.send(net.now(), 1, 53, ByteView(message).first(n), options).ok()) break;
        queued += n;
      }
      net.wake(sender);
      if (net.run_until([&] { return receiver.bytes - base >= total; },
                        std::min(deadline, net.now() + milliseconds(20))))
        return net.now() - start;
      if (tick) tick();
    }
    return std::nullopt;
  }

  sim::Network net;
  sim::NodeId sender_node = 0;
  SctpEndpoint sender;
  SctpEndpoint receiver;
};

// One direction with rate, delay and loss, the other with the same delay and loss.
inline sim::Attachment lossy_path(uint64_t rate_bps, Duration rtt, double loss) {
  sim::Attachment links;
  links.up.rate_bps = rate_bps;
  links.up.delay = rtt / 2;
  links.up.loss = loss;
  // About two bandwidth-delay products of queue, at least 32 KiB.
  links.up.queue_limit_bytes = std::max<size_t>(
      32 * 1024,
      static_cast<size_t>(rate_bps / 8 * 2 * std::max<int64_t>(rtt.count(), 20000) / 1'000'000));
  links.down.delay = rtt / 2;
  links.down.loss = loss;
  return links;
}

}  // namespace cellrtc::testing
