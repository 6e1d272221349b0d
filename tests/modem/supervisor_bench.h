// A connection supervisor wired to the simulated modem under virtual time, either directly
// (bytes handed over in-process) or through a real pseudo-terminal (every transfer completes
// before the clock moves, so a run is the same either way). The bench plays the application:
// whatever PPP frame arrives counts as proof of life (link_alive) and gets a frame back.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "modem/supervisor.h"
#include "tools/modem-sim/pty.h"
#include "tools/modem-sim/sim_modem.h"

namespace cellrtc::modem::testing {

class SupervisorBench {
 public:
  SupervisorBench(modemsim::Scenario scenario, SupervisorConfig config, bool through_pty)
      : sim_(std::move(scenario)), power_(sim_, now_), sup_(std::move(config), &power_) {
    if (through_pty) {
      std::string error;
      pty_ = modemsim::Pty::open(true, &error);
      if (!pty_) failure_ = "pty: " + error;
    }
    sim_.start(now_);
  }

  Instant now() const { return now_; }
  Duration elapsed() const { return now_ - Instant{}; }
  ConnectionSupervisor& sup() { return sup_; }
  modemsim::SimModem& sim() { return sim_; }
  const std::string& failure() const { return failure_; }
  const std::vector<sup_event::StateChanged>& transitions() const { return transitions_; }
  const std::vector<Reason>& warnings() const { return warnings_; }
  int data_mode_starts() const { return data_starts_; }
  int data_mode_stops() const { return data_stops_; }
  bool app_alive = true;  // false: the application stops hearing the link (dead link)

  void start() {
    sup_.start(now_);
    settle();
  }
  void usb_disconnected() {
    sup_.usb_disconnected(now_);
    settle();
  }
  void usb_connected() {
    sup_.usb_connected(now_);
    settle();
  }

  // Runs until `done` holds or `limit` of virtual time passes; false on timeout or failure.
  bool run_until(const std::function<bool()>& done, Duration limit) {
    const Instant end = now_ + limit;
    settle();
    while (!done()) {
      if (!failure_.empty()) return false;
      std::optional<Instant> next = earliest(sup_.next_timeout(), sim_.next_timeout());
      if (!next || *next > end) {
        now_ = end;
        settle();
        return done();
      }
      if (*next > now_) now_ = *next;
      sup_.handle_timeout(now_);
      sim_.handle_timeout(now_);
      settle();
    }
    return true;
  }

  void run_for(Duration d) {
    const Instant end = now_ + d;
    run_until([&] { return now_ >= end; }, d);
  }

  bool reached(SupervisorState s) const {
    for (const auto& t : transitions_)
      if (t.to == s) return true;
    return false;
  }
  // Virtual time of the first transition into `s` after `after`.
  std::optional<Instant> first_time_in(SupervisorState s, Instant after = Instant{}) const {
    for (const auto& t : transitions_)
      if (t.to == s && t.at >= after) return t.at;
    return std::nullopt;
  }
  std::optional<Reason> reason_into(SupervisorState s) const {
    for (const auto& t : transitions_)
      if (t.to == s) return t.reason;
    return std::nullopt;
  }

 private:
  // Moves bytes both ways until nothing moves at this instant.
  void settle() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (auto out = sup_.poll_transmit()) {
        moved = true;
        if (auto got = carry(*out, true)) sim_.handle_bytes(now_, *got);
      }
      sim_.handle_timeout(now_);
      while (auto out = sim_.poll_transmit()) {
        moved = true;
        if (auto got = carry(*out, false)) sup_.handle_bytes(now_, *got);
      }
      while (auto p = sup_.poll_ppp()) {
        moved = true;
        // Only the peer's own frames prove the link: a modem that rebooted under PPP echoes
        // our frames back (echo is on after boot), which must not count, nor be answered.
        if (app_alive && from_peer(*p)) {
          sup_.link_alive(now_);
          static constexpr uint8_t kReply[] = {0x7e, 0xff, 0x03, 0xc0, 0x21, 0x0a, 0x01, 0x7e};
          sup_.send_ppp(now_, kReply);
        }
      }
      while (auto e = sup_.poll_event()) {
        moved = true;
        if (auto* t = std::get_if<sup_event::StateChanged>(&*e)) transitions_.push_back(*t);
        if (auto* w = std::get_if<sup_event::Warning>(&*e)) warnings_.push_back(w->reason);
        if (std::holds_alternative<sup_event::DataModeStarted>(*e)) ++data_starts_;
        if (std::holds_alternative<sup_event::DataModeStopped>(*e)) ++data_stops_;
      }
      if (!moved) return;
    }
    failure_ = "no quiescence at one instant";
  }

  static bool from_peer(const Bytes& p) {
    for (size_t i = 0; i + 3 < p.size(); ++i)
      if (p[i] == 0x7e && p[i + 1] == 0xff && p[i + 2] == 0x7d && p[i + 3] == 0x23) return true;
    return false;
  }

  std::optional<Bytes> carry(const Bytes& bytes, bool to_modem) {
    if (!pty_) return bytes;
    auto got = to_modem ? modemsim::transfer(pty_->slave(), pty_->master(), bytes)
                        : modemsim::transfer(pty_->master(), pty_->slave(), bytes);
    if (!got) failure_ = "pty transfer stalled";
    return got;
  }

  Instant now_;
  modemsim::SimModem sim_;
  modemsim::SimPower power_;
  ConnectionSupervisor sup_;
  std::optional<modemsim::Pty> pty_;
  std::string failure_;
  std::vector<sup_event::StateChanged> transitions_;
  std::vector<Reason> warnings_;
  int data_starts_ = 0;
  int data_stops_ = 0;
};

}  // namespace cellrtc::modem::testing
