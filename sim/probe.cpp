#include "sim/probe.h"

#include <algorithm>

namespace cellrtc::sim {

std::optional<uint32_t> Received::sequence() const {
  if (data.size() < kStampBytes) return std::nullopt;
  return load_be32(data.data());
}

std::optional<Instant> Received::sent_at() const {
  if (data.size() < kStampBytes) return std::nullopt;
  uint64_t us = (uint64_t{load_be32(data.data() + 4)} << 32) | load_be32(data.data() + 8);
  return Instant::from_us(static_cast<int64_t>(us));
}

void Probe::send(const SocketAddress& from, const SocketAddress& to, Bytes data) {
  out_.push_back({from, to, std::move(data)});
}

void Probe::send_stamped(Instant now, const SocketAddress& from, const SocketAddress& to,
                         size_t size) {
  Bytes data(std::max(size, kStampBytes), 0);
  auto us = static_cast<uint64_t>(now.us());
  store_be32(data.data(), next_sequence_++);
  store_be32(data.data() + 4, static_cast<uint32_t>(us >> 32));
  store_be32(data.data() + 8, static_cast<uint32_t>(us));
  send(from, to, std::move(data));
}

void Probe::send_periodically(const SocketAddress& from, const SocketAddress& to, size_t size,
                              Duration period, Instant first, Instant stop) {
  periodic_ = Periodic{from, to, size, period, first, stop};
}

void Probe::handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                            ByteView data) {
  ++received_count_;
  if (echo) out_.push_back({local, from, Bytes(data.begin(), data.end())});
  if (keep_received) received_.push_back({now, local, from, Bytes(data.begin(), data.end())});
}

void Probe::handle_timeout(Instant now) {
  if (!periodic_) return;
  // Catch up on every period that has passed, so a late wake-up does not stretch the schedule.
  while (periodic_->next <= now && periodic_->next < periodic_->stop) {
    send_stamped(periodic_->next, periodic_->from, periodic_->to, periodic_->size);
    periodic_->next += periodic_->period;
  }
  if (periodic_->next >= periodic_->stop) periodic_.reset();
}

std::optional<Transmit> Probe::poll_transmit() {
  if (out_.empty()) return std::nullopt;
  Transmit t = std::move(out_.front());
  out_.pop_front();
  return t;
}

std::optional<Instant> Probe::next_timeout() const {
  if (!periodic_) return std::nullopt;
  return periodic_->next;
}

void UdpEcho::handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                              ByteView data) {
  ++echoed_;
  out_.push_back({local, from, Bytes(data.begin(), data.end())});
}

std::optional<Transmit> UdpEcho::poll_transmit() {
  if (out_.empty()) return std::nullopt;
  Transmit t = std::move(out_.front());
  out_.pop_front();
  return t;
}

}  // namespace cellrtc::sim
