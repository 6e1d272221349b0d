#include "modem/supervisor.h"

#include "modem/cmux_mux.h"

namespace cellrtc::modem {

using a76xx::RegStatus;
using a76xx::SimState;

const char* to_string(SupervisorState s) {
  switch (s) {
    case SupervisorState::idle:
      return "idle";
    case SupervisorState::powering_on:
      return "powering_on";
    case SupervisorState::booting:
      return "booting";
    case SupervisorState::syncing:
      return "syncing";
    case SupervisorState::recovering:
      return "recovering";
    case SupervisorState::configuring:
      return "configuring";
    case SupervisorState::checking_sim:
      return "checking_sim";
    case SupervisorState::registering:
      return "registering";
    case SupervisorState::attaching:
      return "attaching";
    case SupervisorState::online:
      return "online";
    case SupervisorState::leaving_data:
      return "leaving_data";
    case SupervisorState::backoff:
      return "backoff";
    case SupervisorState::resetting:
      return "resetting";
    case SupervisorState::usb_lost:
      return "usb_lost";
    case SupervisorState::sim_blocked:
      return "sim_blocked";
  }
  return "?";
}

const char* to_string(Reason r) {
  switch (r) {
    case Reason::start:
      return "start";
    case Reason::stop:
      return "stop";
    case Reason::modem_answered:
      return "modem answered";
    case Reason::modem_ready:
      return "modem ready (*ATREADY)";
    case Reason::no_answer:
      return "modem not answering";
    case Reason::left_in_data_mode:
      return "modem was left in data mode";
    case Reason::left_in_cmux:
      return "modem was left in CMUX mode";
    case Reason::configured:
      return "configured";
    case Reason::configure_failed:
      return "configuration rejected";
    case Reason::sim_ready:
      return "SIM ready";
    case Reason::sim_missing:
      return "SIM missing";
    case Reason::sim_not_ready:
      return "SIM not ready";
    case Reason::sim_failure:
      return "SIM failure";
    case Reason::pin_required:
      return "PIN required, none configured";
    case Reason::pin_rejected:
      return "PIN rejected";
    case Reason::puk_required:
      return "PUK required";
    case Reason::registered:
      return "registered";
    case Reason::registration_timeout:
      return "no registration in time";
    case Reason::registration_denied:
      return "registration denied";
    case Reason::radio_cycle:
      return "radio off and on";
    case Reason::dial_failed:
      return "data call failed";
    case Reason::connected:
      return "data call connected";
    case Reason::no_carrier:
      return "NO CARRIER";
    case Reason::link_dead:
      return "link silent";
    case Reason::usb_disconnected:
      return "USB disconnected";
    case Reason::usb_reconnected:
      return "USB reconnected";
    case Reason::usb_timeout:
      return "USB did not come back";
    case Reason::modem_rebooted:
      return "modem rebooted";
    case Reason::reset_done:
      return "hard reset done";
    case Reason::boot_timeout:
      return "modem did not boot";
    case Reason::backoff_over:
      return "backoff over";
    case Reason::poor_signal:
      return "poor signal";
    case Reason::network_detached:
      return "network detached";
    case Reason::cmux_failed:
      return "CMUX refused";
  }
  return "?";
}

ConnectionSupervisor::ConnectionSupervisor(SupervisorConfig config, ModemPower* power, Random* rng)
    : config_(std::move(config)), power_(power), rng_(rng) {}

void ConnectionSupervisor::set_state(Instant now, SupervisorState to, Reason why) {
  if (to == state_) return;
  events_.push_back(sup_event::StateChanged{state_, to, why, now});
  state_ = to;
}

void ConnectionSupervisor::submit(Instant now, AtCommand cmd, Tag tag, bool ppp_channel) {
  AtEngine& engine = ppp_channel && cmux_active_ ? ppp_at_ : at_;
  auto id = engine.submit(now, std::move(cmd));
  if (id.ok()) sent_.push_back(Sent{*id, tag, ppp_channel && cmux_active_});
}

void ConnectionSupervisor::abandon_commands() {
  sent_.clear();
  at_.abort_all();
  ppp_at_.abort_all();
  deadline_.reset();
  poll_at_.reset();
  poll_in_flight_ = false;
}

void ConnectionSupervisor::teardown_cmux(bool send_close) {
  if (!cmux_active_) return;
  // Blind close-down: the modem may not answer, and the next step resynchronises anyway.
  if (send_close) transmits_.push_back(cmux::Mux::close_sequence());
  cmux_active_ = false;
  mux_.reset();
  at_.abort_all();
  ppp_at_.abort_all();
}

bool ConnectionSupervisor::drain_engine(Instant now, AtEngine& engine, bool ppp_channel) {
  bool any = false;
  while (auto e = engine.poll_event()) {
    any = true;
    if (auto* r = std::get_if<AtResponse>(&*e)) {
      if (r->result == AtResult::aborted) continue;
      std::optional<Tag> tag;
      for (auto it = sent_.begin(); it != sent_.end(); ++it) {
        if (it->id == r->id && it->ppp_channel == ppp_channel) {
          tag = it->tag;
          sent_.erase(it);
          break;
        }
      }
      if (tag) on_response(now, *tag, *r);
    } else if (auto* u = std::get_if<AtUrc>(&*e)) {
      on_urc(now, u->line);
    } else if (auto* d = std::get_if<DataModeEnded>(&*e)) {
      if (d->no_carrier && state_ == SupervisorState::online) {
        end_online(now, Reason::no_carrier);
        fail(now, Reason::no_carrier, false);
        after_backoff_ = SupervisorState::registering;
      }
    }
  }
  while (auto d = engine.poll_data()) {
    any = true;
    ppp_.push_back(std::move(*d));
  }
  while (auto t = engine.poll_transmit()) {
    any = true;
    if (cmux_active_ && mux_) {
      const uint8_t dlci = ppp_channel ? config_.cmux_ppp_dlci : config_.cmux_at_dlci;
      (void)mux_->send(now, dlci, *t);  // dropped while the channel is not open
    } else if (!ppp_channel) {
      transmits_.push_back(std::move(*t));
    }
  }
  return any;
}

void ConnectionSupervisor::pump(Instant now) {
  for (int round = 0; round < 64; ++round) {
    bool any = drain_engine(now, at_, false);
    any |= drain_engine(now, ppp_at_, true);
    while (cmux_active_ && mux_) {
      auto e = mux_->poll_event();
      if (!e) break;
      any = true;
      on_mux_event(now, std::move(*e));
    }
    while (cmux_active_ && mux_) {
      auto t = mux_->poll_transmit();
      if (!t) break;
      any = true;
      transmits_.push_back(std::move(*t));
    }
    if (!any) break;
  }
}

void ConnectionSupervisor::on_mux_event(Instant now, cmux::MuxEvent e) {
  if (auto* d = std::get_if<cmux::mux_event::ChannelData>(&e)) {
    if (d->dlci == config_.cmux_at_dlci) at_.handle_bytes(now, d->data);
    if (d->dlci == config_.cmux_ppp_dlci) ppp_at_.handle_bytes(now, d->data);
    return;
  }
  if (std::holds_alternative<cmux::mux_event::Opened>(e)) {
    if (state_ == SupervisorState::configuring) begin_sim(now);
    return;
  }
  if (auto* c = std::get_if<cmux::mux_event::ChannelClosed>(&e)) {
    if (c->dlci == config_.cmux_ppp_dlci && state_ == SupervisorState::online) {
      end_online(now, Reason::no_carrier);
      fail(now, Reason::no_carrier, false);
      after_backoff_ = SupervisorState::registering;
    }
    return;
  }
  if (std::holds_alternative<cmux::mux_event::Closed>(e)) {
    // The multiplexer failed to open or the modem closed it: carry on without CMUX.
    const bool opening = state_ == SupervisorState::configuring;
    end_online(now, Reason::cmux_failed);
    cmux_active_ = false;
    mux_.reset();
    if (opening) {
      cmux_failed_ = true;
      events_.push_back(sup_event::Warning{Reason::cmux_failed});
    }
    telemetry_.last_failure = Reason::cmux_failed;
    set_state(now, SupervisorState::syncing, Reason::cmux_failed);
    begin_sync(now);
  }
}

// --- public entry points

void ConnectionSupervisor::start(Instant now) {
  if (state_ != SupervisorState::idle && state_ != SupervisorState::sim_blocked) return;
  abandon_commands();
  pin_sent_ = false;
  radio_cycles_ = 0;
  dial_failures_ = 0;
  consecutive_resets_ = 0;
  if (power_ && config_.power_on_at_start) {
    set_state(now, SupervisorState::powering_on, Reason::start);
    power_->set_power_key(true);
    reset_phase_ = 0;
    deadline_ = now + config_.power_key_pulse;
  } else {
    set_state(now, SupervisorState::syncing, Reason::start);
    begin_sync(now);
  }
  pump(now);
}

void ConnectionSupervisor::stop(Instant now) {
  end_online(now, Reason::stop);
  abandon_commands();
  teardown_cmux(false);
  set_state(now, SupervisorState::idle, Reason::stop);
  pump(now);
  transmits_.clear();
}

void ConnectionSupervisor::handle_bytes(Instant now, ByteView bytes) {
  if (state_ == SupervisorState::idle || state_ == SupervisorState::usb_lost) return;
  if (cmux_active_ && mux_) {
    mux_->handle_bytes(now, bytes);
  } else {
    at_.handle_bytes(now, bytes);
  }
  pump(now);
}

void ConnectionSupervisor::handle_timeout(Instant now) {
  at_.handle_timeout(now);
  ppp_at_.handle_timeout(now);
  if (mux_) mux_->handle_timeout(now);
  pump(now);
  if (poll_at_ && now >= *poll_at_) {
    poll_at_ = now + config_.online_poll_interval;
    poll_online(now);
    pump(now);
  }
  if (deadline_ && now >= *deadline_) {
    deadline_.reset();
    on_deadline(now);
    pump(now);
  }
}

std::optional<Instant> ConnectionSupervisor::next_timeout() const {
  auto t = earliest(deadline_, at_.next_timeout());
  t = earliest(t, ppp_at_.next_timeout());
  t = earliest(t, poll_at_);
  if (mux_) t = earliest(t, mux_->next_timeout());
  return t;
}

std::optional<Bytes> ConnectionSupervisor::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Bytes b = std::move(transmits_.front());
  transmits_.pop_front();
  return b;
}

std::optional<SupervisorEvent> ConnectionSupervisor::poll_event() {
  std::optional<SupervisorEvent> out;
  if (events_.empty()) return out;
  out.emplace(std::move(events_.front()));
  events_.pop_front();
  return out;
}

std::optional<Bytes> ConnectionSupervisor::poll_ppp() {
  if (ppp_.empty()) return std::nullopt;
  Bytes b = std::move(ppp_.front());
  ppp_.pop_front();
  return b;
}

void ConnectionSupervisor::send_ppp(Instant now, ByteView bytes) {
  if (state_ != SupervisorState::online) return;
  (cmux_active_ ? ppp_at_ : at_).send_data(now, bytes);
  pump(now);
}

void ConnectionSupervisor::link_alive(Instant now) {
  if (state_ != SupervisorState::online) return;
  last_alive_ = now;
  if (config_.heartbeat_timeout.count() > 0) deadline_ = now + config_.heartbeat_timeout;
}

void ConnectionSupervisor::ppp_failed(Instant now) {
  if (state_ != SupervisorState::online) return;
  ++telemetry_.dial_failures;
  leave_data(now, Reason::dial_failed);
  pump(now);
}

void ConnectionSupervisor::usb_disconnected(Instant now) {
  if (state_ == SupervisorState::idle || state_ == SupervisorState::usb_lost) return;
  end_online(now, Reason::usb_disconnected);
  abandon_commands();
  teardown_cmux(false);
  telemetry_.last_failure = Reason::usb_disconnected;
  set_state(now, SupervisorState::usb_lost, Reason::usb_disconnected);
  deadline_ = now + config_.usb_timeout;
  pump(now);
  transmits_.clear();
}

void ConnectionSupervisor::usb_connected(Instant now) {
  if (state_ != SupervisorState::usb_lost) return;
  set_state(now, SupervisorState::syncing, Reason::usb_reconnected);
  begin_sync(now);
  pump(now);
}

// --- steps

void ConnectionSupervisor::begin_sync(Instant now) {
  abandon_commands();
  teardown_cmux(true);
  if (state_ != SupervisorState::syncing)
    set_state(now, SupervisorState::syncing, Reason::no_answer);
  sync_tries_ = 0;
  submit(now, a76xx::at_sync(), Tag::sync);
}

void ConnectionSupervisor::begin_recovery(Instant now) {
  abandon_commands();
  teardown_cmux(false);
  set_state(now, SupervisorState::recovering, Reason::no_answer);
  recovery_step_ = 0;
  // Step 1: a previous host may have left the modem in data mode (V.250 section 6.3.1).
  submit(now, a76xx::escape(config_.guard_time), Tag::escape);
}

void ConnectionSupervisor::begin_configure(Instant now, Reason why) {
  abandon_commands();
  set_state(now, SupervisorState::configuring, why);
  submit(now, a76xx::echo_off(), Tag::echo_off);
  submit(now, a76xx::verbose_errors(), Tag::cmee);
  if (config_.network_mode)
    submit(now, AtCommand(a76xx::cnmp(*config_.network_mode), seconds(10)), Tag::cnmp);
}

void ConnectionSupervisor::begin_sim(Instant now) {
  abandon_commands();
  set_state(now, SupervisorState::checking_sim, Reason::configured);
  sim_tries_ = 0;
  submit(now, a76xx::query_sim(), Tag::cpin_query);
}

void ConnectionSupervisor::begin_registration(Instant now, Reason why) {
  abandon_commands();
  set_state(now, SupervisorState::registering, why);
  registration_deadline_ = now + config_.registration_timeout;
  if (radio_cycle_pending_) {
    radio_cycle_pending_ = false;
    begin_radio_cycle(now);
    return;
  }
  poll_registration(now);
}

void ConnectionSupervisor::poll_registration(Instant now) {
  poll_in_flight_ = true;
  submit(now, a76xx::query_signal(), Tag::csq);
  submit(now, a76xx::query_cereg(), Tag::cereg);
  submit(now, a76xx::query_cgreg(), Tag::cgreg);
  submit(now, a76xx::query_creg(), Tag::creg);
}

void ConnectionSupervisor::evaluate_registration(Instant now) {
  poll_in_flight_ = false;
  auto reg = a76xx::data_registration(status_);
  if (reg) {
    telemetry_.registration = reg->stat;
    if (reg->act && telemetry_.technology.empty())
      telemetry_.technology = a76xx::technology_name(*reg->act);
  }
  if (reg && a76xx::is_registered(reg->stat)) {
    begin_attach(now);
    return;
  }
  if (reg && reg->stat == RegStatus::denied) {
    // TS 24.301 / 24.008: a rejected UE does not retry on its own for a long while; neither do
    // we. After the wait the radio is cycled, which makes the modem try again.
    radio_cycle_pending_ = true;
    fail(now, Reason::registration_denied, true);
    after_backoff_ = SupervisorState::registering;
    return;
  }
  if (registration_deadline_ && now >= *registration_deadline_) {
    telemetry_.last_failure = Reason::registration_timeout;
    if (radio_cycles_ >= config_.radio_cycles_before_reset) {
      radio_cycles_ = 0;
      hard_reset(now, Reason::registration_timeout);
      return;
    }
    begin_radio_cycle(now);
    return;
  }
  deadline_ = now + config_.registration_poll;
}

void ConnectionSupervisor::begin_radio_cycle(Instant now) {
  ++radio_cycles_;
  ++telemetry_.radio_cycles;
  events_.push_back(sup_event::Warning{Reason::radio_cycle});
  poll_in_flight_ = true;  // URCs wait until the cycle is done
  submit(now, a76xx::radio(false), Tag::cfun_off);
  submit(now, a76xx::radio(true), Tag::cfun_on);
  submit(now, a76xx::auto_operator(), Tag::cops_auto);
}

void ConnectionSupervisor::begin_attach(Instant now) {
  abandon_commands();
  set_state(now, SupervisorState::attaching, Reason::registered);
  auto cgdcont = a76xx::cgdcont(config_.cid, config_.apn);
  if (!cgdcont.ok()) {
    // A configuration no modem will take: wait long, a config change restarts us.
    telemetry_.last_failure = Reason::configure_failed;
    fail(now, Reason::configure_failed, true);
    return;
  }
  submit(now, AtCommand(*cgdcont, seconds(3)), Tag::cgdcont);
  if (!config_.apn_user.empty() || !config_.apn_password.empty()) {
    const auto auth = config_.auth == a76xx::Auth::none ? a76xx::Auth::pap : config_.auth;
    auto cgauth = a76xx::cgauth(config_.cid, auth, config_.apn_user, config_.apn_password);
    if (cgauth.ok()) submit(now, AtCommand(*cgauth, seconds(3)), Tag::cgauth);
  }
  submit(now, a76xx::query_operator(), Tag::cops_query);
  // Over CMUX the call goes on the PPP channel; the AT channel stays free for polls.
  submit(now, a76xx::dial_command(config_.cid, config_.dial_timeout), Tag::dial, true);
}

void ConnectionSupervisor::go_online(Instant now) {
  sent_.clear();
  deadline_.reset();
  set_state(now, SupervisorState::online, Reason::connected);
  ++telemetry_.connects;
  if (telemetry_.connects > 1) ++telemetry_.reconnects;
  telemetry_.online_since = now;
  dial_failures_ = 0;
  radio_cycles_ = 0;
  consecutive_resets_ = 0;
  last_alive_ = now;
  if (config_.heartbeat_timeout.count() > 0) deadline_ = now + config_.heartbeat_timeout;
  if (cmux_active_) poll_at_ = now + config_.online_poll_interval;
  events_.push_back(sup_event::DataModeStarted{});
  events_.push_back(sup_event::TelemetryUpdated{});
}

void ConnectionSupervisor::end_online(Instant now, Reason why) {
  if (state_ != SupervisorState::online) return;
  if (telemetry_.online_since && now - *telemetry_.online_since >= config_.stable_after)
    config_.short_backoff.reset();
  telemetry_.online_since.reset();
  telemetry_.last_failure = why;
  poll_at_.reset();
  events_.push_back(sup_event::DataModeStopped{why});
}

void ConnectionSupervisor::leave_data(Instant now, Reason why) {
  end_online(now, why);
  sent_.clear();
  deadline_.reset();
  set_state(now, SupervisorState::leaving_data, why);
  leave_reason_ = why;
  if (cmux_active_) {
    // The AT channel is still in command mode: hang the call up from there.
    submit(now, a76xx::hang_up(), Tag::leave_hang_up);
    return;
  }
  submit(now, a76xx::escape(config_.guard_time), Tag::leave_escape);
}

void ConnectionSupervisor::fail(Instant now, Reason why, bool long_wait) {
  abandon_commands();
  telemetry_.last_failure = why;
  Backoff& b = long_wait ? config_.long_backoff : config_.short_backoff;
  set_state(now, SupervisorState::backoff, why);
  Duration wait = b.next();
  if (rng_ && config_.backoff_jitter > 0 && config_.backoff_jitter < 1) {
    const double factor =
        1.0 - config_.backoff_jitter + 2.0 * config_.backoff_jitter * rng_->unit();
    wait = Duration(static_cast<int64_t>(static_cast<double>(wait.count()) * factor));
  }
  deadline_ = now + wait;
  after_backoff_ = SupervisorState::syncing;
}

void ConnectionSupervisor::hard_reset(Instant now, Reason why) {
  end_online(now, why);
  abandon_commands();
  telemetry_.last_failure = why;
  if (!power_) {
    // Nothing to pull: count it and wait, the modem may come back by itself.
    fail(now, why, false);
    return;
  }
  teardown_cmux(false);
  cmux_failed_ = false;  // a fresh modem may take CMUX
  ++telemetry_.hard_resets;
  ++consecutive_resets_;
  status_ = a76xx::ModemStatus{};
  set_state(now, SupervisorState::resetting, why);
  // Escalate: reset line, then the power key (off and on), then the supply if the board can.
  reset_step_ = (consecutive_resets_ - 1) % 3;
  reset_phase_ = 0;
  if (reset_step_ == 2 && !power_->set_supply(false)) reset_step_ = 0;
  switch (reset_step_) {
    case 0:
      power_->set_reset(true);
      deadline_ = now + config_.reset_pulse;
      break;
    case 1:
      power_->set_power_key(true);
      deadline_ = now + config_.power_off_pulse;
      break;
    default:
      deadline_ = now + config_.supply_off_time;
      break;
  }
}

void ConnectionSupervisor::enter_booting(Instant now, Reason why) {
  abandon_commands();
  set_state(now, SupervisorState::booting, why);
  deadline_ = now + config_.boot_timeout;
  submit(now, AtCommand("AT", config_.boot_probe_interval), Tag::boot_probe);
}

void ConnectionSupervisor::on_deadline(Instant now) {
  switch (state_) {
    case SupervisorState::powering_on:
      power_->set_power_key(false);
      enter_booting(now, Reason::start);
      return;
    case SupervisorState::resetting:
      switch (reset_step_) {
        case 0:
          power_->set_reset(false);
          enter_booting(now, Reason::reset_done);
          return;
        case 1:
          // Phase 0: held long enough to switch off; phase 1: off, press to switch on;
          // phase 2: released, boot.
          if (reset_phase_ == 0) {
            power_->set_power_key(false);
            reset_phase_ = 1;
            deadline_ = now + config_.power_off_wait;
          } else if (reset_phase_ == 1) {
            power_->set_power_key(true);
            reset_phase_ = 2;
            deadline_ = now + config_.power_key_pulse;
          } else {
            power_->set_power_key(false);
            enter_booting(now, Reason::reset_done);
          }
          return;
        default:
          if (reset_phase_ == 0) {
            power_->set_supply(true);
            power_->set_power_key(true);
            reset_phase_ = 1;
            deadline_ = now + config_.power_key_pulse;
          } else {
            power_->set_power_key(false);
            enter_booting(now, Reason::reset_done);
          }
          return;
      }
    case SupervisorState::booting:
      if (consecutive_resets_ >= 3) {
        fail(now, Reason::boot_timeout, true);
        after_backoff_ = SupervisorState::resetting;
      } else {
        hard_reset(now, Reason::boot_timeout);
      }
      return;
    case SupervisorState::syncing:
    case SupervisorState::recovering:
      // The pause between AT attempts, or after the CMUX close-down sequence.
      submit(now, a76xx::at_sync(), Tag::sync);
      return;
    case SupervisorState::checking_sim:
      submit(now, a76xx::query_sim(), Tag::cpin_query);
      return;
    case SupervisorState::registering:
      poll_registration(now);
      return;
    case SupervisorState::online:
      leave_data(now, Reason::link_dead);
      return;
    case SupervisorState::backoff:
      switch (after_backoff_) {
        case SupervisorState::registering:
          begin_registration(now, Reason::backoff_over);
          return;
        case SupervisorState::resetting:
          hard_reset(now, Reason::backoff_over);
          return;
        default:
          set_state(now, SupervisorState::syncing, Reason::backoff_over);
          begin_sync(now);
          return;
      }
    case SupervisorState::usb_lost:
      hard_reset(now, Reason::usb_timeout);
      return;
    default:
      return;
  }
}

void ConnectionSupervisor::update_signal(Instant now, const a76xx::Signal& s) {
  telemetry_.signal_dbm = s.dbm;
  telemetry_.signal_bars = s.bars;
  telemetry_.signal_at = now;
  status_.signal = s;
  events_.push_back(sup_event::TelemetryUpdated{});
  if (s.dbm && *s.dbm < config_.poor_signal_dbm) {
    if (!poor_signal_) events_.push_back(sup_event::Warning{Reason::poor_signal});
    poor_signal_ = true;
  } else if (s.dbm && *s.dbm >= config_.poor_signal_dbm + 4) {
    poor_signal_ = false;  // hysteresis: one warning per fade
  }
}

void ConnectionSupervisor::on_response(Instant now, Tag tag, const AtResponse& r) {
  const bool timed_out = r.result == AtResult::timeout;
  switch (tag) {
    case Tag::sync:
      if (!timed_out) {
        // Any answer, even ERROR to a line with CMUX noise in front, proves the AT port.
        begin_configure(now, state_ == SupervisorState::recovering ? Reason::left_in_cmux
                                                                   : Reason::modem_answered);
        return;
      }
      if (state_ == SupervisorState::recovering) {
        hard_reset(now, Reason::no_answer);
        return;
      }
      if (++sync_tries_ >= config_.sync_attempts) {
        telemetry_.last_failure = Reason::no_answer;
        begin_recovery(now);
        return;
      }
      deadline_ = now + config_.sync_interval;
      return;
    case Tag::boot_probe:
      if (!timed_out) {
        begin_configure(now, Reason::modem_answered);
        return;
      }
      if (state_ == SupervisorState::booting)
        submit(now, AtCommand("AT", config_.boot_probe_interval), Tag::boot_probe);
      return;
    case Tag::escape:
      if (r.ok()) {
        submit(now, a76xx::hang_up(), Tag::hang_up_recover);
        return;
      }
      // Step 2: a previous host may have left the modem multiplexed (TS 27.010 section 5.8.2).
      recovery_step_ = 1;
      transmits_.push_back(cmux::Mux::close_sequence());
      deadline_ = now + config_.cmux_close_wait;
      return;
    case Tag::hang_up_recover:
      if (timed_out) {
        hard_reset(now, Reason::no_answer);
        return;
      }
      begin_configure(now, Reason::left_in_data_mode);
      return;
    case Tag::echo_off:
    case Tag::cmee:
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      if (tag == Tag::cmee && !config_.network_mode) after_configure(now);
      return;
    case Tag::cnmp:
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      // ERROR here (a mode the module lacks; a SIM7670G has no AT+CNMP) is reported, not fatal.
      if (!r.ok()) events_.push_back(sup_event::Warning{Reason::configure_failed});
      after_configure(now);
      return;
    case Tag::cmux_start:
      if (r.ok()) {
        // From here the port carries TS 27.010 frames; the SIM check waits for the channels.
        at_.abort_all();
        cmux_active_ = true;
        cmux::MuxConfig mc;
        mc.channels = {config_.cmux_ppp_dlci, config_.cmux_at_dlci};
        mux_.emplace(mc);
        mux_->open(now);
        return;
      }
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      cmux_failed_ = true;
      events_.push_back(sup_event::Warning{Reason::cmux_failed});
      begin_sim(now);
      return;
    case Tag::cpin_query: {
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      const SimState sim = a76xx::sim_state_of(r);
      status_.sim = sim;
      telemetry_.sim = sim;
      switch (sim) {
        case SimState::ready:
          begin_registration(now, Reason::sim_ready);
          return;
        case SimState::pin_required:
          if (pin_sent_) {
            abandon_commands();
            set_state(now, SupervisorState::sim_blocked, Reason::pin_rejected);
            return;
          }
          if (config_.pin.empty()) {
            fail(now, Reason::pin_required, true);
            return;
          }
          if (auto cmd = a76xx::cpin(config_.pin); cmd.ok()) {
            pin_sent_ = true;
            submit(now, AtCommand(*cmd, seconds(5)), Tag::cpin_enter);
          } else {
            abandon_commands();
            set_state(now, SupervisorState::sim_blocked, Reason::pin_rejected);
          }
          return;
        case SimState::puk_required:
        case SimState::other_lock:
          abandon_commands();
          set_state(now, SupervisorState::sim_blocked, Reason::puk_required);
          return;
        case SimState::not_inserted:
          fail(now, Reason::sim_missing, true);
          return;
        case SimState::failure:
        case SimState::not_ready:
        case SimState::unknown:
          // A76xx: "SIM failure" also while the SIM initialises after boot (supervisor.h).
          if (++sim_tries_ >= config_.sim_not_ready_retries) {
            if (sim == SimState::failure)
              fail(now, Reason::sim_failure, true);
            else
              fail(now, Reason::sim_not_ready, false);
            return;
          }
          deadline_ = now + config_.sim_retry_interval;
          return;
      }
      return;
    }
    case Tag::cpin_enter:
      if (r.ok()) {
        deadline_ = now + config_.sim_retry_interval;  // then AT+CPIN? again
        return;
      }
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      // +CME ERROR: incorrect password (16) or anything else: never guess again.
      abandon_commands();
      set_state(now, SupervisorState::sim_blocked,
                a76xx::cme_code(r) == a76xx::cme::kSimPukRequired ? Reason::puk_required
                                                                  : Reason::pin_rejected);
      return;
    case Tag::csq:
      if (timed_out && state_ == SupervisorState::online) return;  // the heartbeat decides
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      for (const auto& l : r.lines)
        if (auto s = a76xx::parse_csq(l)) update_signal(now, *s);
      return;
    case Tag::cereg:
    case Tag::cgreg:
    case Tag::creg:
      for (const auto& l : r.lines) {
        if (auto reg = a76xx::parse_registration(l, true)) {
          auto& slot = reg->domain == a76xx::RegDomain::eps    ? status_.cereg
                       : reg->domain == a76xx::RegDomain::gprs ? status_.cgreg
                                                               : status_.creg;
          slot = reg;
        }
      }
      if (tag == Tag::creg) {
        if (state_ == SupervisorState::registering) {
          evaluate_registration(now);
        } else if (auto reg = a76xx::data_registration(status_)) {
          telemetry_.registration = reg->stat;
          events_.push_back(sup_event::TelemetryUpdated{});
        }
      }
      return;
    case Tag::cfun_off:
    case Tag::cfun_on:
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
      }
      return;
    case Tag::cops_auto:
      // Whatever the answer (a search can end in ERROR), poll again with a fresh deadline.
      status_.cereg.reset();
      status_.cgreg.reset();
      status_.creg.reset();
      registration_deadline_ = now + config_.registration_timeout;
      poll_registration(now);
      return;
    case Tag::cgdcont:
    case Tag::cgauth:
      if (!r.ok()) {
        ++dial_failures_;
        ++telemetry_.dial_failures;
        fail(now, Reason::dial_failed, false);
        after_backoff_ = SupervisorState::registering;
      }
      return;
    case Tag::cops_query:
      for (const auto& l : r.lines) {
        if (auto op = a76xx::parse_cops(l)) {
          status_.op = op;
          telemetry_.operator_name = op->name;
          if (op->act) telemetry_.technology = a76xx::technology_name(*op->act);
          events_.push_back(sup_event::TelemetryUpdated{});
        }
      }
      return;
    case Tag::dial:
      if (r.result == AtResult::connect) {
        go_online(now);
        return;
      }
      ++dial_failures_;
      ++telemetry_.dial_failures;
      if (dial_failures_ >= config_.dial_failures_before_radio_cycle) {
        dial_failures_ = 0;
        radio_cycle_pending_ = true;
      }
      fail(now, Reason::dial_failed, false);
      after_backoff_ = SupervisorState::registering;
      return;
    case Tag::leave_escape:
      if (r.ok()) {
        submit(now, a76xx::hang_up(), Tag::leave_hang_up);
        return;
      }
      // No OK to +++: the call may be gone already; find out whether the modem answers.
      set_state(now, SupervisorState::syncing, Reason::no_answer);
      begin_sync(now);
      return;
    case Tag::leave_hang_up:
      if (timed_out) {
        set_state(now, SupervisorState::syncing, Reason::no_answer);
        begin_sync(now);
        return;
      }
      ppp_at_.leave_data_mode();
      fail(now, leave_reason_, false);
      after_backoff_ = SupervisorState::registering;
      return;
  }
}

void ConnectionSupervisor::after_configure(Instant now) {
  if (config_.use_cmux && !cmux_failed_ && !cmux_active_) {
    submit(now, AtCommand(std::string(a76xx::kCmuxBasic), seconds(3)), Tag::cmux_start);
    return;
  }
  begin_sim(now);
}

void ConnectionSupervisor::poll_online(Instant now) {
  if (state_ != SupervisorState::online || !cmux_active_ || !at_.idle()) return;
  submit(now, a76xx::query_signal(), Tag::csq);
  submit(now, a76xx::query_cereg(), Tag::cereg);
  submit(now, a76xx::query_cgreg(), Tag::cgreg);
  submit(now, a76xx::query_creg(), Tag::creg);
  submit(now, a76xx::query_operator(), Tag::cops_query);
}

void ConnectionSupervisor::on_urc(Instant now, const std::string& line) {
  const auto kind = a76xx::apply_urc(status_, line);
  switch (kind) {
    case a76xx::UrcKind::boot:
      switch (state_) {
        case SupervisorState::idle:
        case SupervisorState::powering_on:
        case SupervisorState::resetting:
        case SupervisorState::usb_lost:
        case SupervisorState::sim_blocked:
          return;
        case SupervisorState::booting:
        case SupervisorState::syncing:
        case SupervisorState::recovering:
        case SupervisorState::backoff:
          begin_configure(now, Reason::modem_ready);
          return;
        default:
          // The modem restarted under us (watchdog, brown-out, firmware crash).
          end_online(now, Reason::modem_rebooted);
          telemetry_.last_failure = Reason::modem_rebooted;
          pin_sent_ = false;
          begin_configure(now, Reason::modem_rebooted);
          return;
      }
    case a76xx::UrcKind::sim:
      telemetry_.sim = status_.sim;
      if (state_ == SupervisorState::checking_sim && status_.sim == SimState::ready) {
        begin_registration(now, Reason::sim_ready);
      } else if (status_.sim == SimState::not_inserted &&
                 (state_ == SupervisorState::registering || state_ == SupervisorState::attaching)) {
        pin_sent_ = false;
        fail(now, Reason::sim_missing, true);
      }
      return;
    case a76xx::UrcKind::registration:
      if (auto reg = a76xx::data_registration(status_)) telemetry_.registration = reg->stat;
      if (state_ == SupervisorState::registering && !poll_in_flight_) {
        deadline_.reset();
        evaluate_registration(now);
      }
      return;
    case a76xx::UrcKind::pdn:
      if (state_ == SupervisorState::online && status_.last_pdn_event &&
          status_.last_pdn_event->kind != a76xx::PdnEvent::Kind::pdn_activated &&
          status_.last_pdn_event->kind != a76xx::PdnEvent::Kind::other) {
        leave_data(now, Reason::network_detached);
      }
      return;
    case a76xx::UrcKind::power_down:
      if (state_ != SupervisorState::resetting && state_ != SupervisorState::booting &&
          state_ != SupervisorState::idle) {
        end_online(now, Reason::modem_rebooted);
        enter_booting(now, Reason::modem_rebooted);
      }
      return;
    default:
      return;
  }
}

}  // namespace cellrtc::modem
