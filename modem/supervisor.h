// Connection supervisor: brings the cellular link up and keeps it up, unattended. Sans-IO:
// bytes from the modem's port and time in; bytes for the port, PPP bytes, events with reasons
// and the next deadline out. Power and reset lines come through an injected interface.
//
//   ConnectionSupervisor sup(config, &gpio);
//   sup.start(now);
//   sup.handle_bytes(now, from_port);          // AT responses and URCs, or PPP in data mode
//   sup.handle_timeout(now);
//   while (auto b = sup.poll_transmit()) port.write(*b);
//   while (auto p = sup.poll_ppp()) ppp.input(*p);   // data mode only
//   sup.send_ppp(now, frame);                   // PPP output, data mode only
//   sup.link_alive(now);                        // the application saw traffic come back
//   while (auto e = sup.poll_event()) ...       // StateChanged{from, to, reason}, DataMode...
//   wake_at = sup.next_timeout();
//
// The sequence (A76xx, see a76xx.h for the formats): AT until it answers (or *ATREADY) → ATE0,
// AT+CMEE=2, AT+CNMP (→ AT+CMUX=0 and the channels) → AT+CPIN? (and the PIN once) → poll AT+CSQ,
// +CEREG?, +CGREG?, +CREG? until registered → AT+CGDCONT (+CGAUTH), AT+COPS? → ATD*99# → CONNECT:
// online, PPP runs.
//
// Failures and what the supervisor does about each:
// - modem not answering AT: retry; then +++ with guard times (a previous host left it in data
//   mode) and ATH; then the CMUX close-down sequence (left in CMUX mode); then a hard reset
//   through the GPIO interface (reset line, then power key, then supply), waiting up to
//   boot_timeout for *ATREADY (an A7670 boots in about 9 s on USB and 11 s on the UART,
//   "A7670 Series Hardware Design" V1.06 table 11; boot_timeout leaves a wide margin);
// - SIM missing, failed or locked: long backoff, then look again. "SIM failure" (+CME ERROR:
//   13) is retried like "not ready" first: an A7670G answers AT+CPIN? with it while the SIM
//   is still initialising after *ATREADY (LilyGO-T-A76XX's published A7670G boot log). A PIN is
//   sent once per SIM insertion; a PIN the SIM rejects is never retried (that would burn the PUK
//   counter), the supervisor stays in sim_blocked until restarted with another PIN;
// - no registration within registration_timeout: radio off and on (AT+CFUN=0/1) and automatic
//   operator selection (AT+COPS=0), then a hard reset after radio_cycles_before_reset;
// - registration denied: long backoff, never a tight loop;
// - the data call failing (ERROR, NO CARRIER, timeout on ATD): backoff; after
//   dial_failures_before_radio_cycle a radio cycle;
// - PPP dropped (NO CARRIER in data mode) and the silent dead link (no link_alive for
//   heartbeat_timeout while online): leave data mode (+++, ATH) and dial again;
// - USB disconnect: wait for re-enumeration, then resynchronise; a hard reset when it does
//   not come back within usb_timeout;
// - the modem rebooting by itself (*ATREADY / RDY outside boot): start over from configuring;
// - poor signal: a warning event, telemetry keeps the value.
// Retries back off exponentially (short for transient failures, long for SIM and network
// refusals), capped; the short backoff starts over after stable_after online.
//
// With use_cmux the modem is multiplexed (TS 27.010, AT+CMUX=0) once it answers: PPP on one
// channel, AT on another, and signal, registration and operator are polled while online.
// Without it the AT port carries PPP while online, so signal and registration are those of
// the last poll before dialling; the telemetry says when it was taken.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/time.h"
#include "modem/a76xx.h"
#include "modem/at_engine.h"
#include "modem/cmux_mux.h"

namespace cellrtc::modem {

// The modem's control lines, driven by the supervisor. Levels are logical (asserted =
// pressed / in reset / powered); the board glue maps them to pins and polarities.
class ModemPower {
 public:
  virtual ~ModemPower() = default;
  virtual void set_power_key(bool asserted) = 0;
  virtual void set_reset(bool asserted) = 0;
  // Cuts or restores the modem's supply through a load switch; false when the board has none.
  virtual bool set_supply(bool on) {
    (void)on;
    return false;
  }
};

struct Backoff {
  Duration initial;
  Duration max;
  uint32_t attempt = 0;
  Duration next() {
    Duration d = initial;
    for (uint32_t i = 0; i < attempt && d < max; ++i)
      d *= 2;
    if (d > max) d = max;
    ++attempt;
    return d;
  }
  void reset() { attempt = 0; }
};

struct SupervisorConfig {
  std::string apn;
  std::string apn_user;
  std::string apn_password;
  a76xx::Auth auth = a76xx::Auth::none;  // pap/chap when apn_user is set
  std::string pin;                       // empty: none configured
  int cid = 1;
  std::optional<a76xx::NetworkMode> network_mode;  // AT+CNMP; absent leaves the modem's

  // Control line timings, from SIMCom's "A7670 Series Hardware Design" V1.06 (in Chinese,
  // "A7670系列硬件设计手册"), section 3.2: PWRKEY low for Ton (typically 50 ms; no minimum
  // given) switches the module on (table 11); low for Toff >= 2.5 s switches it off, shutdown
  // takes about 2 s and the next switch-on must wait Toff-on >= 2 s after it (table 12);
  // RESET low for Treset >= 2 s, 2.5 s recommended (table 13). The same section asks not to
  // cut VBAT without switching off first (the flash can suffer): the supply step is the last
  // resort, for a module that answered neither RESET nor PWRKEY.
  bool power_on_at_start = false;  // pulse the power key first (board powers the modem off)
  Duration power_key_pulse = milliseconds(1000);  // >= Ton, well short of Toff
  Duration power_off_pulse = milliseconds(3000);  // >= Toff (2.5 s)
  Duration power_off_wait = seconds(4);           // key released to next press: shutdown + Toff-on
  Duration reset_pulse = milliseconds(2500);      // Treset, recommended value
  Duration supply_off_time = seconds(5);
  Duration boot_timeout = seconds(120);       // typical boot 9-11 s (table 11): a wide margin
  Duration boot_probe_interval = seconds(3);  // AT while waiting for *ATREADY

  int sync_attempts = 5;  // AT with no answer before the recovery steps
  Duration sync_interval = milliseconds(500);
  Duration guard_time = seconds(1);  // around +++
  Duration cmux_close_wait = seconds(1);

  Duration sim_retry_interval = seconds(1);
  int sim_not_ready_retries = 10;

  Duration registration_timeout = seconds(90);
  Duration registration_poll = seconds(2);
  int radio_cycles_before_reset = 2;

  Duration dial_timeout = seconds(30);
  int dial_failures_before_radio_cycle = 3;

  // TS 27.010 multiplexing (AT+CMUX=0): PPP on one channel, AT on another, so signal and
  // registration keep being polled while online. A modem that refuses CMUX is run without it
  // until the next hard reset.
  bool use_cmux = false;
  uint8_t cmux_ppp_dlci = 1;
  uint8_t cmux_at_dlci = 2;
  Duration online_poll_interval = seconds(30);  // CMUX only

  Duration heartbeat_timeout = seconds(60);  // zero: no dead-link detection
  Duration usb_timeout = seconds(30);

  Backoff short_backoff{seconds(2), seconds(300)};
  Backoff long_backoff{seconds(300), seconds(3600)};
  Duration stable_after = seconds(120);  // online this long resets the short backoff

  int poor_signal_dbm = -105;
  // Each backoff is spread uniformly over +-jitter of its nominal length when the supervisor
  // has a Random source, so a fleet that lost the same cell does not come back in lockstep.
  double backoff_jitter = 0.2;
};

enum class SupervisorState : uint8_t {
  idle,          // not started, or stopped
  powering_on,   // power key pulse
  booting,       // waiting for *ATREADY or an AT answer
  syncing,       // AT until it answers
  recovering,    // +++/ATH, CMUX close-down: the modem is stuck in a mode
  configuring,   // ATE0, AT+CMEE=2, AT+CNMP
  checking_sim,  // AT+CPIN?, PIN entry
  registering,   // polling registration and signal, radio cycles
  attaching,     // AT+CGDCONT, AT+CGAUTH, AT+COPS?, ATD*99#
  online,        // data mode: PPP runs
  leaving_data,  // +++ and ATH before dialling again
  backoff,       // waiting before the next try
  resetting,     // hard reset through the GPIO interface
  usb_lost,      // the port went away
  sim_blocked,   // wrong PIN or PUK needed: a human must act
};
const char* to_string(SupervisorState s);

enum class Reason : uint8_t {
  start,
  stop,
  modem_answered,
  modem_ready,  // *ATREADY
  no_answer,
  left_in_data_mode,  // answered after +++
  left_in_cmux,       // answered after the CMUX close-down
  configured,
  configure_failed,
  sim_ready,
  sim_missing,
  sim_not_ready,
  sim_failure,
  pin_required,  // and none configured
  pin_rejected,
  puk_required,
  registered,
  registration_timeout,
  registration_denied,
  radio_cycle,
  dial_failed,
  connected,
  no_carrier,
  link_dead,
  usb_disconnected,
  usb_reconnected,
  usb_timeout,
  modem_rebooted,
  reset_done,
  boot_timeout,
  backoff_over,
  poor_signal,
  network_detached,  // +CGEV: NW PDN DEACT / NW DETACH / ME DETACH while online (CMUX)
  cmux_failed,
};
const char* to_string(Reason r);

struct Telemetry {
  std::optional<int> signal_dbm;
  int signal_bars = 0;
  std::optional<Instant> signal_at;  // when the signal was last read
  std::string operator_name;
  std::string technology;  // "LTE", "EDGE", "GSM", ...
  a76xx::RegStatus registration = a76xx::RegStatus::unknown;
  a76xx::SimState sim = a76xx::SimState::unknown;
  std::optional<Instant> online_since;
  uint32_t connects = 0;
  uint32_t reconnects = 0;  // connects after the first
  uint32_t hard_resets = 0;
  uint32_t radio_cycles = 0;
  uint32_t dial_failures = 0;
  Reason last_failure = Reason::start;
  // Time online in the current session, zero when offline.
  Duration uptime(Instant now) const { return online_since ? now - *online_since : Duration{0}; }
};

namespace sup_event {
struct StateChanged {
  SupervisorState from;
  SupervisorState to;
  Reason reason;
  Instant at;
};
struct DataModeStarted {};  // start PPP
struct DataModeStopped {    // stop PPP
  Reason reason;
};
struct Warning {
  Reason reason;
};
struct TelemetryUpdated {};
}  // namespace sup_event

using SupervisorEvent =
    std::variant<sup_event::StateChanged, sup_event::DataModeStarted, sup_event::DataModeStopped,
                 sup_event::Warning, sup_event::TelemetryUpdated>;

class ConnectionSupervisor {
 public:
  // `power` may be null (no control lines): hard resets are then skipped and counted as
  // failures that back off. `rng` may be null: backoffs then take their nominal length.
  ConnectionSupervisor(SupervisorConfig config, ModemPower* power, Random* rng = nullptr);

  void start(Instant now);
  void stop(Instant now);

  void handle_bytes(Instant now, ByteView bytes);
  void handle_timeout(Instant now);
  std::optional<Bytes> poll_transmit();
  std::optional<SupervisorEvent> poll_event();
  std::optional<Bytes> poll_ppp();
  std::optional<Instant> next_timeout() const;

  void send_ppp(Instant now, ByteView bytes);
  // The application saw the link work (a PPP echo reply, a STUN response, any packet in).
  void link_alive(Instant now);
  // PPP could not negotiate over a CONNECTed call: treated as a failed data call.
  void ppp_failed(Instant now);
  void usb_disconnected(Instant now);
  void usb_connected(Instant now);

  SupervisorState state() const { return state_; }
  const Telemetry& telemetry() const { return telemetry_; }
  const a76xx::ModemStatus& modem_status() const { return status_; }
  const AtEngine& at() const { return at_; }

 private:
  enum class Tag : uint8_t {
    sync,
    boot_probe,
    escape,
    hang_up_recover,
    echo_off,
    cmee,
    cnmp,
    cpin_query,
    cpin_enter,
    csq,
    cereg,
    cgreg,
    creg,
    cfun_off,
    cfun_on,
    cops_auto,
    cgdcont,
    cgauth,
    cops_query,
    dial,
    leave_escape,
    leave_hang_up,
    cmux_start,
  };
  struct Sent {
    uint32_t id;
    Tag tag;
    bool ppp_channel;  // sent on the CMUX PPP channel's engine
  };

  void set_state(Instant now, SupervisorState to, Reason why);
  void submit(Instant now, AtCommand cmd, Tag tag, bool ppp_channel = false);
  void after_configure(Instant now);
  void teardown_cmux(bool send_close);
  void on_mux_event(Instant now, cmux::MuxEvent e);
  void poll_online(Instant now);
  bool drain_engine(Instant now, AtEngine& engine, bool ppp_channel);
  void pump(Instant now);
  void on_response(Instant now, Tag tag, const AtResponse& r);
  void on_urc(Instant now, const std::string& line);
  void on_deadline(Instant now);
  void fail(Instant now, Reason why, bool long_wait);

  void begin_sync(Instant now);
  void begin_recovery(Instant now);
  void begin_configure(Instant now, Reason why);
  void begin_sim(Instant now);
  void begin_registration(Instant now, Reason why);
  void poll_registration(Instant now);
  void evaluate_registration(Instant now);
  void begin_radio_cycle(Instant now);
  void begin_attach(Instant now);
  void go_online(Instant now);
  void leave_data(Instant now, Reason why);
  void hard_reset(Instant now, Reason why);
  void enter_booting(Instant now, Reason why);
  void end_online(Instant now, Reason why);
  void update_signal(Instant now, const a76xx::Signal& s);
  void abandon_commands();

  SupervisorConfig config_;
  ModemPower* power_;
  Random* rng_;
  AtEngine at_;      // the AT port, or the CMUX AT channel
  AtEngine ppp_at_;  // the CMUX PPP channel (dial, then PPP)
  std::optional<cmux::Mux> mux_;
  bool cmux_active_ = false;
  bool cmux_failed_ = false;
  std::optional<Instant> poll_at_;  // next telemetry poll while online over CMUX
  a76xx::ModemStatus status_;
  Telemetry telemetry_;
  SupervisorState state_ = SupervisorState::idle;

  std::deque<Sent> sent_;
  std::optional<Instant> deadline_;  // the current state's own timer
  // Step counters within a state.
  int sync_tries_ = 0;
  int recovery_step_ = 0;
  int reset_step_ = 0;  // 0 reset line, 1 power key, 2 supply
  int reset_phase_ = 0;
  int sim_tries_ = 0;
  bool pin_sent_ = false;
  int radio_cycles_ = 0;
  int dial_failures_ = 0;
  int consecutive_resets_ = 0;
  bool radio_cycle_pending_ = false;
  bool poll_in_flight_ = false;
  bool poor_signal_ = false;
  std::optional<Instant> registration_deadline_;
  std::optional<Instant> last_alive_;
  SupervisorState after_backoff_ = SupervisorState::syncing;
  Reason leave_reason_ = Reason::link_dead;

  std::deque<Bytes> transmits_;
  std::deque<Bytes> ppp_;
  std::deque<SupervisorEvent> events_;
};

}  // namespace cellrtc::modem
