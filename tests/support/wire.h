// A minimal virtual-time wire for unit tests: every datagram takes `one_way` to arrive at the
// endpoint bound to its destination, or is dropped when `drop` says so. NATs, rates and loss
// models live in the simulator (sim/); this is for protocol logic alone.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/common/transport.h"
#include "core/stun/binding_server.h"

namespace cellrtc::testing {

class Wire {
 public:
  Duration one_way = milliseconds(10);
  std::function<bool(const Transmit&)> drop;  // true: the datagram is lost
  uint64_t delivered = 0;
  uint64_t dropped = 0;

  Instant now() const { return now_; }
  void bind(const SocketAddress& addr, DatagramEndpoint& endpoint) {
    bound_[addr] = &endpoint;
    if (std::find(endpoints_.begin(), endpoints_.end(), &endpoint) == endpoints_.end())
      endpoints_.push_back(&endpoint);
  }

  // Runs until `done()` or `limit` of virtual time has passed; returns done().
  bool run(const std::function<bool()>& done, Duration limit) {
    Instant deadline = now_ + limit;
    for (int step = 0; step < 1'000'000; ++step) {
      collect();
      if (done()) return true;
      std::optional<Instant> next;
      for (const auto& f : flights_)
        next = earliest(next, std::optional<Instant>(f.at));
      for (auto* e : endpoints_)
        next = earliest(next, e->next_timeout());
      if (!next || *next > deadline) {
        now_ = deadline;
        return done();
      }
      now_ = std::max(now_, *next);
      std::vector<Flight> due;
      for (auto it = flights_.begin(); it != flights_.end();) {
        if (it->at <= now_) {
          due.push_back(std::move(*it));
          it = flights_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& f : due) {
        auto target = bound_.find(f.t.to);
        if (target == bound_.end()) {
          ++dropped;
          continue;
        }
        ++delivered;
        target->second->handle_datagram(now_, f.t.to, f.t.from, f.t.data);
      }
      for (auto* e : endpoints_) {
        auto t = e->next_timeout();
        if (t && *t <= now_) e->handle_timeout(now_);
      }
    }
    return done();
  }
  void run_for(Duration d) {
    run([] { return false; }, d);
  }

 private:
  struct Flight {
    Instant at;
    Transmit t;
  };
  void collect() {
    for (auto* e : endpoints_) {
      while (auto t = e->poll_transmit()) {
        if (drop && drop(*t)) {
          ++dropped;
          continue;
        }
        flights_.push_back(Flight{now_ + one_way, std::move(*t)});
      }
    }
  }
  Instant now_;
  std::map<SocketAddress, DatagramEndpoint*> bound_;
  std::vector<DatagramEndpoint*> endpoints_;
  std::vector<Flight> flights_;
};

// A public STUN server as an endpoint.
class StunServerEndpoint : public DatagramEndpoint {
 public:
  explicit StunServerEndpoint(SocketAddress self) : self_(self) {}
  void handle_datagram(Instant, const SocketAddress&, const SocketAddress& from,
                       ByteView data) override {
    if (auto r = server_.handle(from, data)) out_.push_back(Transmit{self_, from, std::move(*r)});
  }
  void handle_timeout(Instant) override {}
  std::optional<Transmit> poll_transmit() override {
    if (out_.empty()) return std::nullopt;
    Transmit t = std::move(out_.front());
    out_.erase(out_.begin());
    return t;
  }
  std::optional<Instant> next_timeout() const override { return std::nullopt; }

 private:
  SocketAddress self_;
  stun::BindingServer server_;
  std::vector<Transmit> out_;
};

}  // namespace cellrtc::testing
