#include "tools/modem-sim/sim_modem.h"

#include <algorithm>

namespace cellrtc::modemsim {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return out;
}

constexpr Duration kCommandDelay = milliseconds(20);
constexpr Duration kGuard = seconds(1);  // S12 default, 50 x 20 ms

}  // namespace

const char* to_string(SimPhase p) {
  switch (p) {
    case SimPhase::off:
      return "off";
    case SimPhase::booting:
      return "booting";
    case SimPhase::command:
      return "command";
    case SimPhase::data:
      return "data";
    case SimPhase::cmux:
      return "cmux";
    case SimPhase::hung:
      return "hung";
  }
  return "?";
}

std::vector<std::string> scenario_names() {
  return {"normal",
          "no_sim",
          "pin_required",
          "slow_registration",
          "registration_denied",
          "signal_fading",
          "no_carrier",
          "hang",
          "reboot",
          "left_in_data_mode",
          "left_in_cmux",
          "lte_fallback",
          "lte_only_no_lte",
          "garbage"};
}

std::optional<Scenario> scenario_by_name(std::string_view name) {
  Scenario s;
  s.name = std::string(name);
  if (name == "normal") return s;
  if (name == "no_sim") {
    s.sim_inserted = false;
    return s;
  }
  if (name == "pin_required") {
    s.sim_pin = "1234";
    return s;
  }
  if (name == "slow_registration") {
    // Longer than one registration timeout; a radio cycle gets it through.
    s.registration_delay = seconds(150);
    s.registration_delay_after_cycle = seconds(5);
    return s;
  }
  if (name == "registration_denied") {
    s.deny_registration = true;
    return s;
  }
  if (name == "signal_fading") {
    // Weak from the start (-107 dBm), fading further until the call drops.
    s.rssi = 3;
    s.signal_profile = {{seconds(30), 1}};
    s.no_carrier_after = seconds(30);
    return s;
  }
  if (name == "no_carrier") {
    s.no_carrier_after = seconds(30);
    return s;
  }
  if (name == "hang") {
    s.hang_at = seconds(40);
    return s;
  }
  if (name == "reboot") {
    s.reboot_at = seconds(40);
    return s;
  }
  if (name == "left_in_data_mode") {
    s.start_in_data_mode = true;
    return s;
  }
  if (name == "left_in_cmux") {
    s.start_in_cmux = true;
    return s;
  }
  if (name == "lte_fallback") {
    s.lte_available = false;
    return s;
  }
  if (name == "lte_only_no_lte") {
    s.model = Model::sim7670g;
    s.lte_available = false;
    return s;
  }
  if (name == "powered_off") {
    s.powered = false;
    s.boot_time = seconds(100);  // far slower than the 9-11 s the hardware design gives
    return s;
  }
  if (name == "garbage") {
    s.garbage_interval = milliseconds(700);
    return s;
  }
  return std::nullopt;
}

SimModem::SimModem(Scenario scenario, uint64_t seed) : sc_(std::move(scenario)), rng_(seed) {}

void SimModem::start(Instant now) {
  t0_ = now;
  if (sc_.garbage_interval.count() > 0) next_garbage_ = now + sc_.garbage_interval;
  if (!sc_.powered) {
    phase_ = SimPhase::off;
    return;
  }
  // Already booted a while ago, SIM unlocked by whoever used it before.
  stats_.boots = 1;
  boot_done_at_ = now;
  sim_unlocked_ = true;
  registered_at_ =
      now + (sc_.start_in_data_mode || sc_.start_in_cmux ? Duration{0} : sc_.registration_delay);
  if (!sc_.sim_inserted) registered_at_.reset();
  if (!sc_.sim_pin.empty() && !sc_.start_in_data_mode) {
    sim_unlocked_ = false;
    registered_at_.reset();
  }
  if (sc_.start_in_data_mode) {
    call_up_ = true;
    echo_ = false;
    enter_data(now);
    return;
  }
  if (sc_.start_in_cmux) {
    echo_ = false;
    phase_ = SimPhase::cmux;
    return;
  }
  phase_ = SimPhase::command;
}

uint8_t SimModem::urc_dlci() const {
  // URCs go to the highest open channel not carrying the call.
  for (int d = 63; d > 0; --d)
    if (dlc_open_[static_cast<size_t>(d)] && !dlc_data_[static_cast<size_t>(d)])
      return static_cast<uint8_t>(d);
  return 0;
}

void SimModem::emit(Instant at, std::string_view text) {
  if (phase_ == SimPhase::cmux) {
    // Multiplexed (this host's AT+CMUX=0): the text travels in UIH frames on a channel.
    const uint8_t dlci = ctx_dlci_ ? ctx_dlci_ : urc_dlci();
    if (dlci == 0 || !dlc_open_[dlci]) return;
    Bytes frames;
    while (!text.empty()) {
      const size_t n = std::min<size_t>(text.size(), 127);
      const auto chunk = as_bytes(text.substr(0, n));
      modem::cmux::encode_into(modem::cmux::Frame{dlci, true, modem::cmux::FrameType::uih, false,
                                                  Bytes(chunk.begin(), chunk.end())},
                               frames);
      text.remove_prefix(n);
    }
    emit_raw(at, std::move(frames));
    return;
  }
  emit_raw(at, Bytes(text.begin(), text.end()));
}

void SimModem::emit_raw(Instant at, Bytes bytes) {
  if (phase_ == SimPhase::off || phase_ == SimPhase::hung) return;
  Out o{at, std::move(bytes)};
  auto it = std::find_if(out_.begin(), out_.end(), [&](const Out& x) { return x.at > at; });
  out_.insert(it, std::move(o));
}

void SimModem::cme(Instant at, int code, std::string_view text) {
  // TS 27.007 section 9.1: +CMEE=0 plain ERROR, 1 numeric, 2 verbose.
  if (cmee_ == 0) return error(at);
  if (cmee_ == 1) return emit_line(at, "+CME ERROR: " + std::to_string(code));
  emit_line(at, "+CME ERROR: " + std::string(text));
}

void SimModem::power_off(Instant now) {
  (void)now;
  phase_ = SimPhase::off;
  out_.clear();
  ready_.clear();
  call_up_ = false;
  data_since_.reset();
  escape_due_.reset();
  boot_done_at_.reset();
  registered_at_.reset();
  reset_cmux();
}

void SimModem::reset_cmux() {
  dlc_open_.fill(false);
  dlc_data_.fill(false);
  for (auto& l : dlc_line_)
    l.clear();
  call_dlci_ = 0;
  ctx_dlci_ = 0;
  cmux_decoder_.reset();
}

bool SimModem::in_call_data() const {
  return phase_ == SimPhase::data ||
         (phase_ == SimPhase::cmux && call_dlci_ != 0 && dlc_data_[call_dlci_]);
}

void SimModem::begin_boot(Instant now) {
  power_off(now);
  phase_ = SimPhase::booting;
  ++stats_.boots;
  echo_ = true;
  cmee_ = 0;
  radio_ = true;
  line_.clear();
  sim_unlocked_ = sc_.sim_pin.empty();
  pdn_announced_ = false;
  boot_done_at_ = now + sc_.boot_time;
}

void SimModem::sim_ready(Instant now) {
  registered_at_ = now + sc_.registration_delay;
}

void SimModem::radio_cycled(Instant now) {
  registered_at_ =
      now + (sc_.registration_delay_after_cycle.count() > 0 ? sc_.registration_delay_after_cycle
                                                            : sc_.registration_delay);
}

void SimModem::finish_boot(Instant now) {
  phase_ = SimPhase::command;
  // A76xx boards print *ATREADY: 1 (RDY is the SIM7600's; see modem/a76xx.h).
  emit_line(now, "*ATREADY: 1");
  const Instant sim_at = now + sc_.sim_init_time;
  sim_init_until_ = sim_at;
  if (!sc_.sim_inserted) {
    emit_line(sim_at, "+CPIN: SIM REMOVED");
    return;
  }
  if (!sim_unlocked_) {
    emit_line(sim_at, "+CPIN: SIM PIN");
    return;
  }
  emit_line(sim_at, "+CPIN: READY");
  emit_line(sim_at + milliseconds(1200), "SMS DONE");
  emit_line(sim_at + milliseconds(2200), "PB DONE");
  sim_ready(now);
}

bool SimModem::sim_usable() const {
  return sc_.sim_inserted && sim_unlocked_;
}

int SimModem::reg_stat_eps(Instant now) const {
  if (!radio_ || !sim_usable() || !registered_at_) return 0;
  if (now < *registered_at_) return 2;
  if (sc_.deny_registration) return 3;
  if (!sc_.lte_available) return sc_.model == Model::a7670e ? 0 : 2;
  return 1;
}

int SimModem::reg_stat_gprs(Instant now) const {
  const int eps = reg_stat_eps(now);
  if (eps == 0 && radio_ && sim_usable() && registered_at_ && now >= *registered_at_ &&
      !sc_.lte_available && sc_.model == Model::a7670e)
    return 1;  // camped on GSM/EDGE
  return eps;
}

bool SimModem::registered(Instant now) const {
  return reg_stat_eps(now) == 1 || reg_stat_gprs(now) == 1;
}

int SimModem::current_rssi(Instant now) const {
  int rssi = sc_.rssi;
  for (const auto& [at, value] : sc_.signal_profile)
    if (now - t0_ >= at) rssi = value;
  return rssi;
}

void SimModem::enter_data(Instant now) {
  if (phase_ == SimPhase::cmux) {
    call_dlci_ = ctx_dlci_;
    dlc_data_[call_dlci_] = true;
  } else {
    phase_ = SimPhase::data;
  }
  data_since_ = now;
  next_ppp_ = now + sc_.ppp_interval;
  last_data_rx_.reset();
  pluses_ = 0;
  escape_due_.reset();
}

void SimModem::leave_data(Instant now, bool no_carrier) {
  const uint8_t saved = ctx_dlci_;
  if (phase_ == SimPhase::cmux) {
    dlc_data_[call_dlci_] = false;
    ctx_dlci_ = call_dlci_;
  } else {
    phase_ = SimPhase::command;
  }
  data_since_.reset();
  next_ppp_.reset();
  escape_due_.reset();
  if (no_carrier) {
    call_up_ = false;
    emit_line(now, "NO CARRIER");
  }
  ctx_dlci_ = saved;
}

void SimModem::execute(Instant now, std::string_view raw) {
  ++stats_.commands;
  const std::string cmd = upper(raw);
  const Instant at = now + kCommandDelay;
  if (cmd.empty()) return ok(at);
  if (cmd == "E0" || cmd == "E1") {
    echo_ = cmd == "E1";
    return ok(at);
  }
  if (cmd.starts_with("+CMEE=")) {
    cmee_ = std::clamp(cmd.back() - '0', 0, 2);
    return ok(at);
  }
  if (cmd == "+CPIN?") {
    if (!sc_.sim_inserted) return cme(at, 10, "SIM not inserted");
    // An A7670G answers "SIM failure" between *ATREADY and +CPIN: READY (LilyGO-T-A76XX's
    // published boot log).
    if (sim_init_until_ && now < *sim_init_until_) return cme(at, 13, "SIM failure");
    if (!sim_unlocked_) {
      emit_line(at, pin_attempts_ > 0 ? "+CPIN: SIM PIN" : "+CPIN: SIM PUK");
      return ok(at);
    }
    emit_line(at, "+CPIN: READY");
    return ok(at);
  }
  if (cmd.starts_with("+CPIN=")) {
    if (!sc_.sim_inserted) return cme(at, 10, "SIM not inserted");
    if (sim_unlocked_) return cme(at, 3, "operation not allowed");
    if (pin_attempts_ == 0) return cme(at, 12, "SIM PUK required");
    std::string pin = cmd.substr(6);
    pin.erase(std::remove(pin.begin(), pin.end(), '"'), pin.end());
    if (pin != sc_.sim_pin) {
      --pin_attempts_;
      return cme(at, 16, "incorrect password");
    }
    sim_unlocked_ = true;
    ok(at);
    emit_line(at + milliseconds(500), "+CPIN: READY");
    emit_line(at + milliseconds(1500), "SMS DONE");
    emit_line(at + milliseconds(2500), "PB DONE");
    sim_ready(now);
    return;
  }
  if (cmd == "+CSQ") {
    // 99,99 until the modem is registered (or finds a cell to be denied on): a state.
    int rssi = 99;
    const int eps = reg_stat_eps(now);
    const int gprs = reg_stat_gprs(now);
    if (eps == 1 || gprs == 1 || eps == 3) rssi = current_rssi(now);
    emit_line(at, "+CSQ: " + std::to_string(rssi) + ",99");
    return ok(at);
  }
  if (cmd == "+CEREG?") {
    emit_line(at, "+CEREG: 0," + std::to_string(reg_stat_eps(now)));
    return ok(at);
  }
  if (cmd == "+CGREG?") {
    emit_line(at, "+CGREG: 0," + std::to_string(reg_stat_gprs(now)));
    return ok(at);
  }
  if (cmd == "+CREG?") {
    emit_line(at, "+CREG: 0," + std::to_string(reg_stat_gprs(now)));
    return ok(at);
  }
  if (cmd == "+COPS?") {
    if (reg_stat_eps(now) == 1) {
      emit_line(at, "+COPS: 0,2,\"" + sc_.operator_numeric + "\",7");
    } else if (reg_stat_gprs(now) == 1) {
      emit_line(at, "+COPS: 0,2,\"" + sc_.operator_numeric + "\",3");  // GSM with EGPRS
    } else {
      emit_line(at, "+COPS: 0");
    }
    return ok(at);
  }
  if (cmd == "+COPS=0") {
    if (sim_usable() && radio_ && !registered(now)) radio_cycled(now);
    return ok(now + seconds(2));
  }
  if (cmd == "+CFUN=0" || cmd == "+CFUN=1") {
    radio_ = cmd.back() == '1';
    pdn_announced_ = false;
    registered_at_.reset();
    if (radio_ && sim_usable()) radio_cycled(now);
    return ok(now + milliseconds(500));
  }
  if (cmd == "+CFUN?") {
    emit_line(at, radio_ ? "+CFUN: 1" : "+CFUN: 0");
    return ok(at);
  }
  if (cmd.starts_with("+CNMP=")) {
    // A76XX manual 4.2.7: 2, 13, 14, 38, ERROR for a mode the module lacks (the A7670E has no
    // WCDMA); the SIM767XX manual (SIM7670G) has no AT+CNMP.
    const std::string mode = cmd.substr(6);
    if (sc_.model == Model::a7670e && (mode == "2" || mode == "13" || mode == "38")) return ok(at);
    return error(at);
  }
  if (cmd.starts_with("+CGDCONT=") || cmd.starts_with("+CGAUTH=") || cmd.starts_with("+IPR=") ||
      cmd.starts_with("+IPREX=") || cmd == "&W")
    return ok(at);
  if (cmd == "D*99#" || cmd == "D*99***1#") {
    ++stats_.dials;
    if (!registered(now) || stats_.dials <= static_cast<uint32_t>(sc_.failing_dials))
      return emit_line(now + seconds(1), "NO CARRIER");
    call_up_ = true;
    emit_line(now + milliseconds(300), "CONNECT 150000000");
    enter_data(now + milliseconds(300));
    return;
  }
  if (cmd == "O") {
    if (!call_up_) return emit_line(at, "NO CARRIER");
    emit_line(at, "CONNECT 150000000");
    enter_data(at);
    return;
  }
  if (cmd == "H") {
    ++stats_.hang_ups;
    if (phase_ == SimPhase::cmux && call_dlci_ != 0 && dlc_data_[call_dlci_]) {
      ok(at);
      leave_data(at, true);  // the call's own channel sees NO CARRIER
      return;
    }
    call_up_ = false;
    return ok(at);
  }
  if (cmd == "+CMUX=0") {
    if (phase_ == SimPhase::cmux || !sc_.cmux_supported) return error(at);
    ok(at);
    phase_ = SimPhase::cmux;
    reset_cmux();
    return;
  }
  if (cmd == "+CGMM") {
    emit_line(at, sc_.model == Model::a7670e ? "A7670E-LASE" : "SIM7670G-MNGV");
    return ok(at);
  }
  error(at);
}

void SimModem::command_line(Instant now, std::string line) {
  // V.250 section 5.2.1: a command line starts with "AT"; whatever came before is noise.
  const std::string up = upper(line);
  const size_t at = up.find("AT");
  if (at == std::string::npos) return;
  execute(now, std::string_view(line).substr(at + 2));
}

void SimModem::data_bytes(Instant now, ByteView bytes) {
  for (uint8_t b : bytes) {
    if (b == '+') {
      if (pluses_ == 0) {
        const bool quiet = !last_data_rx_ || now - *last_data_rx_ >= kGuard;
        pluses_ = quiet ? 1 : 0;
      } else if (pluses_ < 3) {
        ++pluses_;
      } else {
        pluses_ = 0;
      }
      if (pluses_ == 3) escape_due_ = now + kGuard;
      if (pluses_ == 0) ++stats_.ppp_bytes_in;
    } else {
      if (pluses_ > 0) stats_.ppp_bytes_in += static_cast<uint64_t>(pluses_);
      pluses_ = 0;
      escape_due_.reset();
      ++stats_.ppp_bytes_in;
    }
    last_data_rx_ = now;
  }
}

void SimModem::leave_cmux() {
  ++stats_.cmux_closes;
  phase_ = SimPhase::command;
  if (call_dlci_ != 0 && dlc_data_[call_dlci_]) call_up_ = false;
  reset_cmux();
  data_since_.reset();
  next_ppp_.reset();
}

void SimModem::cmux_bytes(Instant now, ByteView bytes) {
  using namespace modem::cmux;
  cmux_decoder_.push(bytes);
  const Instant at = now + kCommandDelay;
  while (auto f = cmux_decoder_.poll()) {
    Bytes reply;
    switch (f->type) {
      case FrameType::sabm:
        dlc_open_[f->dlci] = true;
        encode_into(Frame{f->dlci, true, FrameType::ua, true, {}}, reply);
        emit_raw(at, std::move(reply));
        break;
      case FrameType::disc:
        encode_into(Frame{f->dlci, true, FrameType::ua, true, {}}, reply);
        emit_raw(at, std::move(reply));
        if (f->dlci == 0) {
          leave_cmux();
          return;
        }
        dlc_open_[f->dlci] = false;
        break;
      case FrameType::uih:
      case FrameType::ui:
        if (f->dlci == 0) {
          auto msgs = decode_control(f->info);
          if (!msgs.ok()) break;
          for (const auto& m : *msgs) {
            if (!m.command) continue;
            // Answer with the same type and value (CLD, MSC, Test), C/R = 0.
            encode_into(
                Frame{0, true, FrameType::uih, false, encode_control({m.type, false, m.value})},
                reply);
            emit_raw(at, std::move(reply));
            reply.clear();
            if (m.type == msg::kCld) {
              leave_cmux();
              return;
            }
          }
          break;
        }
        if (!dlc_open_[f->dlci]) break;
        if (dlc_data_[f->dlci]) {
          stats_.ppp_bytes_in += f->info.size();
          break;
        }
        ctx_dlci_ = f->dlci;
        for (uint8_t b : f->info) {
          if (echo_) emit(now, std::string(1, static_cast<char>(b)));
          std::string& line = dlc_line_[f->dlci];
          if (b == '\r') {
            std::string cmd;
            cmd.swap(line);
            command_line(now, std::move(cmd));
            if (phase_ != SimPhase::cmux) break;
          } else if (b != '\n' && line.size() < 512) {
            line.push_back(static_cast<char>(b));
          }
        }
        ctx_dlci_ = 0;
        if (phase_ != SimPhase::cmux) return;
        break;
      default:
        break;
    }
  }
}

void SimModem::handle_bytes(Instant now, ByteView bytes) {
  handle_timeout(now);
  switch (phase_) {
    case SimPhase::off:
    case SimPhase::booting:
    case SimPhase::hung:
      return;
    case SimPhase::data:
      data_bytes(now, bytes);
      return;
    case SimPhase::cmux:
      cmux_bytes(now, bytes);
      return;
    case SimPhase::command:
      break;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    const uint8_t b = bytes[i];
    if (echo_) emit(now, std::string(1, static_cast<char>(b)));
    if (b == '\r') {
      std::string line;
      line.swap(line_);
      command_line(now, std::move(line));
      if (phase_ != SimPhase::command) {
        // CONNECT or CMUX: the rest of this write belongs to the new mode.
        handle_bytes(now, bytes.subspan(i + 1));
        return;
      }
      continue;
    }
    if (b == '\n') continue;
    if (line_.size() < 512) line_.push_back(static_cast<char>(b));
  }
}

void SimModem::handle_timeout(Instant now) {
  if (sc_.hang_at && !hang_done_ && now >= t0_ + *sc_.hang_at) {
    hang_done_ = true;
    if (phase_ != SimPhase::off) {
      out_.clear();
      phase_ = SimPhase::hung;
    }
  }
  if (sc_.reboot_at && !reboot_done_ && now >= t0_ + *sc_.reboot_at) {
    reboot_done_ = true;
    if (phase_ != SimPhase::off) begin_boot(now);
  }
  if (phase_ == SimPhase::booting && boot_done_at_ && now >= *boot_done_at_)
    finish_boot(*boot_done_at_);
  if (in_call_data()) {
    if (escape_due_ && now >= *escape_due_) {
      const Instant at = *escape_due_;
      ++stats_.escapes;
      leave_data(at, false);
      ok(at);
    } else if (sc_.no_carrier_after && !no_carrier_done_ && data_since_ &&
               now >= *data_since_ + *sc_.no_carrier_after) {
      no_carrier_done_ = true;
      leave_data(*data_since_ + *sc_.no_carrier_after, true);
    }
  }
  if (in_call_data() && next_ppp_) {
    ctx_dlci_ = call_dlci_;
    while (now >= *next_ppp_) {
      // An LCP Echo-Request-like frame: flag, address, control, protocol, data, flag.
      static constexpr char kFrame[] =
          "\x7e\xff\x7d\x23\xc0\x21\x09\x01\x00\x08\x12\x34\x56\x78\x7e";
      emit(*next_ppp_, std::string_view(kFrame, sizeof(kFrame) - 1));
      stats_.ppp_bytes_out += sizeof(kFrame) - 1;
      *next_ppp_ += sc_.ppp_interval;
    }
    ctx_dlci_ = 0;
  }
  if ((phase_ == SimPhase::command || phase_ == SimPhase::cmux) && !pdn_announced_ &&
      registered_at_ && now >= *registered_at_ && reg_stat_eps(now) == 1) {
    pdn_announced_ = true;
    emit_line(*registered_at_, "+CGEV: EPS PDN ACT 1");
  }
  if (next_garbage_ && now >= *next_garbage_) {
    if (phase_ == SimPhase::command) {
      // Line noise: control and high-bit bytes only, so it never forms a bogus printable line.
      Bytes junk;
      const uint32_t n = 2 + rng_.uniform(6);
      for (uint32_t i = 0; i < n; ++i) {
        static constexpr uint8_t kNoise[] = {0x00, 0xFF, 0xFE, 0x11, 0x13, 0x1B, 0x80, 0x9F, 0xC3};
        junk.push_back(kNoise[rng_.uniform(sizeof(kNoise))]);
      }
      emit(now, as_chars(junk));
    }
    next_garbage_ = now + sc_.garbage_interval;
  }
  while (!out_.empty() && out_.front().at <= now) {
    ready_.push_back(std::move(out_.front().bytes));
    out_.pop_front();
  }
}

std::optional<Bytes> SimModem::poll_transmit() {
  if (ready_.empty()) return std::nullopt;
  Bytes b = std::move(ready_.front());
  ready_.pop_front();
  return b;
}

std::optional<Instant> SimModem::next_timeout() const {
  std::optional<Instant> t;
  auto consider = [&](std::optional<Instant> x) { t = earliest(t, x); };
  if (!out_.empty()) consider(out_.front().at);
  if (sc_.hang_at && !hang_done_) consider(t0_ + *sc_.hang_at);
  if (sc_.reboot_at && !reboot_done_) consider(t0_ + *sc_.reboot_at);
  if (phase_ == SimPhase::booting) consider(boot_done_at_);
  if (in_call_data()) {
    consider(escape_due_);
    consider(next_ppp_);
    if (sc_.no_carrier_after && !no_carrier_done_ && data_since_)
      consider(*data_since_ + *sc_.no_carrier_after);
  }
  if ((phase_ == SimPhase::command || phase_ == SimPhase::cmux) && !pdn_announced_ &&
      registered_at_ && reg_stat_eps(*registered_at_) == 1)
    consider(registered_at_);
  consider(next_garbage_);
  return t;
}

void SimModem::set_power_key(Instant now, bool asserted) {
  if (asserted) {
    key_down_ = now;
    return;
  }
  if (!key_down_) return;
  const Duration held = now - *key_down_;
  key_down_.reset();
  if (phase_ == SimPhase::off) {
    // A76xx hardware design: PWRKEY low for at least 50 ms switches the module on.
    if (supply_ && !in_reset_ && held >= milliseconds(50)) begin_boot(now);
    return;
  }
  // At least 2.5 s switches it off (a hung firmware obeys too: the key is hardware).
  if (held >= milliseconds(2500)) {
    power_off(now);
  }
}

void SimModem::set_reset(Instant now, bool asserted) {
  if (asserted) {
    in_reset_ = true;
    power_off(now);
    return;
  }
  if (!in_reset_) return;
  in_reset_ = false;
  if (supply_) begin_boot(now);
}

void SimModem::set_supply(Instant now, bool on) {
  supply_ = on;
  if (!on) power_off(now);
}

}  // namespace cellrtc::modemsim
