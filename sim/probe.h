// Small endpoints for simulator tests and benchmarks: a scriptable probe that sends stamped
// datagrams (once or periodically) and records what it receives, and a UDP echo.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/common/transport.h"

namespace cellrtc::sim {

// A datagram as the probe saw it. Stamped payloads start with a 32-bit sequence number and the
// 64-bit send time in microseconds, both big-endian.
struct Received {
  Instant at;
  SocketAddress local;
  SocketAddress from;
  Bytes data;

  std::optional<uint32_t> sequence() const;
  std::optional<Instant> sent_at() const;
};

inline constexpr size_t kStampBytes = 12;

class Probe final : public DatagramEndpoint {
 public:
  // Queues a datagram; it leaves when the network next drains the probe (Network::wake).
  void send(const SocketAddress& from, const SocketAddress& to, Bytes data);
  // Queues a stamped datagram of `size` bytes (at least kStampBytes) with the next sequence.
  void send_stamped(Instant now, const SocketAddress& from, const SocketAddress& to, size_t size);
  // Sends a stamped datagram every `period` from `first` until before `stop`.
  void send_periodically(const SocketAddress& from, const SocketAddress& to, size_t size,
                         Duration period, Instant first, Instant stop);

  // Answer every datagram with the same bytes, from the address it arrived on.
  bool echo = false;
  // Keep every received datagram in received(); off for long runs that only need counts.
  bool keep_received = true;

  const std::vector<Received>& received() const { return received_; }
  uint64_t received_count() const { return received_count_; }
  uint32_t sent_count() const { return next_sequence_; }

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override;
  void handle_timeout(Instant now) override;
  std::optional<Transmit> poll_transmit() override;
  std::optional<Instant> next_timeout() const override;

 private:
  struct Periodic {
    SocketAddress from;
    SocketAddress to;
    size_t size;
    Duration period;
    Instant next;
    Instant stop;
  };
  std::deque<Transmit> out_;
  std::vector<Received> received_;
  uint64_t received_count_ = 0;
  uint32_t next_sequence_ = 0;
  std::optional<Periodic> periodic_;
};

// Sends every datagram back where it came from.
class UdpEcho final : public DatagramEndpoint {
 public:
  uint64_t echoed() const { return echoed_; }
  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override;
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override;
  std::optional<Instant> next_timeout() const override { return std::nullopt; }

 private:
  std::deque<Transmit> out_;
  uint64_t echoed_ = 0;
};

}  // namespace cellrtc::sim
