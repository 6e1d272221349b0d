// Two SCTP associations joined by an in-memory wire with a fixed one-way delay, in virtual
// time, for unit tests of association logic. `drop` decides the fate of each packet.
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "core/common/random.h"
#include "core/sctp/sctp_association.h"

namespace cellrtc::testing {

class SctpPair {
 public:
  explicit SctpPair(sctp::SctpConfig config_a = {}, sctp::SctpConfig config_b = {},
                    uint64_t seed = 1)
      : rng_a_(seed), rng_b_(seed + 1000), a(config_a, rng_a_), b(config_b, rng_b_) {}

  Duration one_way = milliseconds(10);
  // Returns true to lose a packet; `from_a` tells its direction.
  std::function<bool(bool from_a, const Bytes& packet)> drop;
  // When false, that side's events stay queued inside the association (the application is
  // not reading), so received messages keep counting against its window.
  bool read_a = true;
  bool read_b = true;
  uint64_t packets_a_to_b = 0;
  uint64_t packets_b_to_a = 0;

  Instant now() const { return now_; }
  void advance(Duration d) { now_ += d; }

  // Moves packets onto the wire and events into the logs.
  void pump() {
    for (int side = 0; side < 2; ++side) {
      sctp::SctpAssociation& s = side == 0 ? a : b;
      while (auto p = s.poll_transmit()) {
        bool from_a = side == 0;
        (from_a ? packets_a_to_b : packets_b_to_a)++;
        if (drop && drop(from_a, *p)) continue;
        flights_.push_back({now_ + one_way, !from_a, std::move(*p)});
      }
      if (side == 0 ? read_a : read_b) {
        auto& log = side == 0 ? events_a : events_b;
        while (auto e = s.poll_event())
          log.push_back(std::move(*e));
      }
    }
  }

  // Runs the two until `done()` or `limit` of virtual time; returns done().
  bool run(const std::function<bool()>& done, Duration limit) {
    Instant deadline = now_ + limit;
    for (int step = 0; step < 5'000'000; ++step) {
      pump();
      if (done()) return true;
      std::optional<Instant> next;
      if (!flights_.empty()) next = flights_.front().at;
      next = earliest(next, a.next_timeout());
      next = earliest(next, b.next_timeout());
      if (!next || *next > deadline) {
        now_ = deadline;
        return done();
      }
      now_ = std::max(now_, *next);
      while (!flights_.empty() && flights_.front().at <= now_) {
        Flight f = std::move(flights_.front());
        flights_.pop_front();
        (f.to_a ? a : b).handle_packet(now_, f.data);
        pump();
      }
      if (auto t = a.next_timeout(); t && *t <= now_) a.handle_timeout(now_);
      if (auto t = b.next_timeout(); t && *t <= now_) b.handle_timeout(now_);
    }
    return done();
  }
  void run_for(Duration d) {
    run([] { return false; }, d);
  }

  bool connect() {
    a.connect(now_);
    b.connect(now_);
    return run(
        [&] {
          return a.state() == sctp::SctpState::established &&
                 b.state() == sctp::SctpState::established;
        },
        seconds(10));
  }

  template <class E>
  static std::vector<E> of(const std::vector<sctp::SctpEvent>& log) {
    std::vector<E> out;
    for (const auto& e : log)
      if (auto* x = std::get_if<E>(&e)) out.push_back(*x);
    return out;
  }
  std::vector<sctp::event::Message> messages_b() const {
    return of<sctp::event::Message>(events_b);
  }
  std::vector<sctp::event::Message> messages_a() const {
    return of<sctp::event::Message>(events_a);
  }

  std::vector<sctp::SctpEvent> events_a;
  std::vector<sctp::SctpEvent> events_b;

 private:
  struct Flight {
    Instant at;
    bool to_a;
    Bytes data;
  };
  SeededRandom rng_a_;
  SeededRandom rng_b_;

 public:
  sctp::SctpAssociation a;
  sctp::SctpAssociation b;

 private:
  std::deque<Flight> flights_;
  Instant now_;
};

}  // namespace cellrtc::testing
