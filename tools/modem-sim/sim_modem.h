// A simulated SIMCom A7670E / SIM7670G for tests and lab runs (not product code). Sans-IO like
// the code it tests: bytes from the host and time in, bytes for the host out, so tests drive
// it under virtual time, in-process or through a pseudo-terminal (pty.h), and the
// cellrtc-modem-sim executable serves it on a pty in real time.
//
// It answers the command set the supervisor uses with the A76xx formats (see modem/a76xx.h),
// echoes until ATE0, emits the boot URCs (*ATREADY: 1, +CPIN: ..., SMS DONE, PB DONE), enters
// data mode on ATD*99# (then sends a PPP-like frame every ppp_interval and counts what the host
// sends), leaves it on +++ framed by guard times, and follows a Scenario: SIM absent or PIN
// locked, slow or denied registration, signal fading, NO CARRIER while online, hanging, a
// spontaneous reboot, being left in data or CMUX mode by a previous host, LTE unavailable
// (an A7670E falls back to GSM/EDGE, a SIM7670G finds nothing), garbage on the line.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/time.h"
#include "modem/cmux_frame.h"
#include "modem/supervisor.h"

namespace cellrtc::modemsim {

enum class Model : uint8_t { a7670e, sim7670g };

struct Scenario {
  std::string name = "normal";
  Model model = Model::a7670e;
  bool powered = true;               // already booted when the test starts
  Duration boot_time = seconds(12);  // power-on to *ATREADY
  // *ATREADY to +CPIN: <code>; AT+CPIN? answers "+CME ERROR: 13" (SIM failure) meanwhile, as
  // an A7670G does (modem/a76xx.h).
  Duration sim_init_time = milliseconds(300);
  bool sim_inserted = true;
  std::string sim_pin;                       // non-empty: the SIM asks for this PIN
  Duration registration_delay = seconds(4);  // SIM ready to registered
  // After AT+CFUN=0/1 or AT+COPS=0; zero: registration_delay again.
  Duration registration_delay_after_cycle{0};
  bool deny_registration = false;
  bool lte_available = true;
  int rssi = 20;  // +CSQ once registered
  // Signal steps: from this offset after start, the rssi is the value.
  std::vector<std::pair<Duration, int>> signal_profile;
  int failing_dials = 0;  // the first N ATD*99# answer NO CARRIER although registered
  std::optional<Duration> no_carrier_after;  // online this long, then NO CARRIER (once)
  std::optional<Duration> hang_at;           // from this time on, silent until reset
  std::optional<Duration> reboot_at;         // spontaneous reboot at this time
  bool start_in_data_mode = false;
  bool start_in_cmux = false;
  Duration garbage_interval{0};  // zero: none
  bool cmux_supported = true;    // AT+CMUX=0 answers ERROR when false
  Duration ppp_interval = seconds(1);
  std::string operator_numeric = "20205";
};

// The built-in scenarios by name: normal, no_sim, pin_required, slow_registration,
// registration_denied, signal_fading, no_carrier, hang, reboot, left_in_data_mode,
// left_in_cmux, lte_fallback, lte_only_no_lte, garbage, powered_off.
std::optional<Scenario> scenario_by_name(std::string_view name);
std::vector<std::string> scenario_names();

enum class SimPhase : uint8_t { off, booting, command, data, cmux, hung };
const char* to_string(SimPhase p);

struct SimStats {
  uint32_t boots = 0;
  uint32_t commands = 0;
  uint32_t dials = 0;
  uint32_t escapes = 0;
  uint32_t hang_ups = 0;
  uint64_t ppp_bytes_in = 0;
  uint64_t ppp_bytes_out = 0;
  uint32_t cmux_closes = 0;
};

class SimModem {
 public:
  SimModem(Scenario scenario, uint64_t seed = 1);

  // Call once with the time the scenario starts (offsets in Scenario count from it).
  void start(Instant now);
  void handle_bytes(Instant now, ByteView bytes);
  void handle_timeout(Instant now);
  std::optional<Bytes> poll_transmit();
  std::optional<Instant> next_timeout() const;

  // Control lines, as the board would wire them.
  void set_power_key(Instant now, bool asserted);
  void set_reset(Instant now, bool asserted);
  void set_supply(Instant now, bool on);

  SimPhase phase() const { return phase_; }
  bool registered(Instant now) const;
  const SimStats& stats() const { return stats_; }
  const Scenario& scenario() const { return sc_; }

 private:
  struct Out {
    Instant at;
    Bytes bytes;
  };
  void emit(Instant at, std::string_view text);
  void emit_raw(Instant at, Bytes bytes);
  uint8_t urc_dlci() const;
  void reset_cmux();
  void leave_cmux();
  bool in_call_data() const;
  void emit_line(Instant at, std::string_view line) {
    emit(at, "\r\n" + std::string(line) + "\r\n");
  }
  void power_off(Instant now);
  void begin_boot(Instant now);
  void finish_boot(Instant now);
  void sim_ready(Instant now);
  void radio_cycled(Instant now);
  void command_line(Instant now, std::string line);
  void execute(Instant now, std::string_view cmd);
  void ok(Instant at) { emit_line(at, "OK"); }
  void error(Instant at) { emit_line(at, "ERROR"); }
  void cme(Instant at, int code, std::string_view text);
  bool sim_usable() const;
  int reg_stat_eps(Instant now) const;
  int reg_stat_gprs(Instant now) const;
  int current_rssi(Instant now) const;
  void enter_data(Instant now);
  void leave_data(Instant now, bool no_carrier);
  void data_bytes(Instant now, ByteView bytes);
  void cmux_bytes(Instant now, ByteView bytes);

  Scenario sc_;
  SeededRandom rng_;
  Instant t0_;
  SimPhase phase_ = SimPhase::off;
  SimStats stats_;
  std::deque<Out> out_;
  std::deque<Bytes> ready_;
  bool pdn_announced_ = false;

  // Modem settings, reset by a reboot.
  bool echo_ = true;
  int cmee_ = 0;
  bool radio_ = true;
  std::string line_;
  bool sim_unlocked_ = false;
  int pin_attempts_ = 3;
  std::optional<Instant> boot_done_at_;
  std::optional<Instant> sim_init_until_;  // AT+CPIN? answers "SIM failure" until then
  std::optional<Instant> registered_at_;   // when registration completes (if not denied)
  bool call_up_ = false;
  bool no_carrier_done_ = false;
  bool hang_done_ = false;
  bool reboot_done_ = false;
  std::optional<Instant> data_since_;
  std::optional<Instant> next_ppp_;
  std::optional<Instant> next_garbage_;
  // +++ detection: time of the last byte before the pluses, pluses seen, escape due.
  std::optional<Instant> last_data_rx_;
  int pluses_ = 0;
  std::optional<Instant> escape_due_;
  // Power key press start.
  std::optional<Instant> key_down_;
  bool in_reset_ = false;
  bool supply_ = true;
  modem::cmux::Decoder cmux_decoder_;
  // CMUX entered by this host (AT+CMUX=0): channels, each in command or data mode.
  std::array<bool, 64> dlc_open_{};
  std::array<bool, 64> dlc_data_{};
  std::array<std::string, 64> dlc_line_;
  uint8_t call_dlci_ = 0;
  uint8_t ctx_dlci_ = 0;  // the channel a response goes to (0: URC routing)
};

// The supervisor's GPIO interface wired to a simulated modem; the test keeps `clock` current.
class SimPower final : public modem::ModemPower {
 public:
  SimPower(SimModem& modem, const Instant& clock) : modem_(modem), clock_(clock) {}
  void set_power_key(bool asserted) override { modem_.set_power_key(clock_, asserted); }
  void set_reset(bool asserted) override { modem_.set_reset(clock_, asserted); }
  bool set_supply(bool on) override {
    modem_.set_supply(clock_, on);
    return true;
  }

 private:
  SimModem& modem_;
  const Instant& clock_;
};

}  // namespace cellrtc::modemsim
