// Two ICE agents in virtual time for path-choice tests: a full, controlling "device" and a lite
// "server", and the network between them as timed flights. A test's call says which path a
// transmit takes (its one-way delay, or dropped) and how it is delivered; the run loop, the
// candidate exchange and the ordering of flights by arrival are here.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <optional>

#include "core/common/random.h"
#include "core/ice/ice_agent.h"

namespace cellrtc::test {

class IceCall {
 public:
  struct Flight {
    Instant at;
    bool to_server;
    Transmit t;
  };

  explicit IceCall(ice::IceConfig device_config = {},
                   ice::Nomination nomination = ice::Nomination::aggressive)
      : rng_d(1), rng_s(2), device(device_config, rng_d), server(lite(), rng_s) {
    device.set_role(ice::Role::controlling, nomination);
  }
  virtual ~IceCall() = default;
  IceCall(const IceCall&) = delete;
  IceCall& operator=(const IceCall&) = delete;

  static ice::IceConfig lite() {
    ice::IceConfig c;
    c.lite = true;
    return c;
  }

  // Offer/answer: credentials and candidates both ways, once both sides have their sockets.
  void exchange_candidates() {
    server.set_remote_credentials(now, device.local_credentials().ufrag,
                                  device.local_credentials().pwd);
    for (const auto& c : device.local_candidates())
      (void)server.add_remote_candidate(now, c);
    device.set_remote_credentials(now, server.local_credentials().ufrag,
                                  server.local_credentials().pwd);
    for (const auto& c : server.local_candidates())
      (void)device.add_remote_candidate(now, c);
  }

  // Runs until `done` or `limit` of virtual time.
  bool run(const std::function<bool()>& done, Duration limit) {
    const Instant end = now + limit;
    for (int step = 0; step < 100000; ++step) {
      collect(device, true);
      collect(server, false);
      drain_events();
      if (done()) return true;
      std::optional<Instant> next = earliest(device.next_timeout(), server.next_timeout());
      for (const auto& f : flights)
        next = earliest(next, std::optional<Instant>(f.at));
      if (!next || *next > end) {
        now = end;
        return done();
      }
      now = std::max(now, *next);
      while (!flights.empty() && flights.front().at <= now) {
        Flight f = std::move(flights.front());
        flights.pop_front();
        deliver(f);
      }
      if (auto t = device.next_timeout(); t && *t <= now) device.handle_timeout(now);
      if (auto t = server.next_timeout(); t && *t <= now) server.handle_timeout(now);
    }
    return done();
  }

  SeededRandom rng_d, rng_s;
  ice::IceAgent device;
  ice::IceAgent server;
  Instant now;
  std::deque<Flight> flights;

 protected:
  // The one-way delay of a transmit, or nullopt when its path drops it (count sends here).
  virtual std::optional<Duration> route(const Transmit& t, bool from_device) = 0;
  // Hands an arrived flight to its agent.
  virtual void deliver(const Flight& f) = 0;
  // The device's selected pair changed.
  virtual void on_selected(const ice::event::SelectedPairChanged& e) = 0;

 private:
  void collect(ice::IceAgent& agent, bool from_device) {
    while (auto t = agent.poll_transmit()) {
      const std::optional<Duration> one_way = route(*t, from_device);
      if (!one_way) continue;
      const Instant at = now + *one_way;
      // Flights stay ordered by arrival (a stream's order holds by construction).
      auto it = flights.begin();
      while (it != flights.end() && it->at <= at)
        ++it;
      flights.insert(it, Flight{at, from_device, std::move(*t)});
    }
  }
  void drain_events() {
    while (auto e = device.poll_event()) {
      if (const auto* p = std::get_if<ice::event::SelectedPairChanged>(&*e)) on_selected(*p);
    }
    while (server.poll_event()) {
    }
  }
};

}  // namespace cellrtc::test
