#include "modem/a76xx.h"

#include <algorithm>
#include <array>

#include "core/common/text.h"

namespace cellrtc::modem::a76xx {
namespace {

using text::trim;

std::optional<uint32_t> hex_value(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 8) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

// Characters that may go between quotes in a command line: printable, no quote, no
// backslash (V.250 section 5.4.2.2 string constants; SIMCom takes no escapes).
bool quotable(std::string_view s, size_t max) {
  if (s.size() > max) return false;
  for (char c : s)
    if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') return false;
  return true;
}

// [A76XX] 5.2.5 and 5.2.16: <cid> 1..15; AT+CGAUTH=? gives 50 as the longest user and password.
constexpr int kMaxCid = 15;
constexpr size_t kMaxCredential = 50;

// [A76XX] 10.2.3 / 10.2.4: the rates AT+IPR and AT+IPREX take.
bool listed_rate(uint32_t baud) {
  static constexpr std::array<uint32_t, 15> kRates = {300,    600,    1200,   2400,    4800,
                                                      9600,   19200,  38400,  57600,   115200,
                                                      230400, 460800, 921600, 1842000, 3686400};
  return std::find(kRates.begin(), kRates.end(), baud) != kRates.end();
}

}  // namespace

std::optional<int> to_int(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 9) return std::nullopt;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
  }
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

std::optional<std::vector<std::string>> fields(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  std::string_view rest = line.substr(prefix.size());
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  bool had_any = false;
  for (char c : rest) {
    if (c == '"') {
      quoted = !quoted;
      had_any = true;
      continue;
    }
    if (c == ',' && !quoted) {
      out.emplace_back(quoted ? cur : std::string(trim(cur)));
      cur.clear();
      if (out.size() > 32) return std::nullopt;
      continue;
    }
    cur.push_back(c);
    had_any = true;
  }
  if (quoted) return std::nullopt;  // unbalanced quote: a cut line
  if (had_any || !out.empty()) out.emplace_back(trim(cur));
  return out;
}

// --- +CSQ

int bars_for_dbm(int dbm) {
  // Our thresholds for a 0..5 indicator (none are standard): >= -65 excellent, -75, -85,
  // -95, -105, below that one bar as long as anything is received.
  if (dbm >= -65) return 5;
  if (dbm >= -75) return 4;
  if (dbm >= -85) return 3;
  if (dbm >= -95) return 2;
  if (dbm >= -105) return 1;
  return dbm > -113 ? 1 : 0;
}

std::optional<Signal> parse_csq(std::string_view line) {
  auto f = fields(line, "+CSQ:");
  if (!f || f->size() != 2) return std::nullopt;
  auto rssi = to_int((*f)[0]);
  auto ber = to_int((*f)[1]);
  if (!rssi || !ber) return std::nullopt;
  Signal s;
  s.rssi = *rssi;
  s.ber = *ber;
  if (*rssi >= 0 && *rssi <= 31) {
    s.dbm = -113 + 2 * *rssi;
  } else if (*rssi >= 100 && *rssi <= 191) {
    s.dbm = -116 + (*rssi - 100);
  } else if (*rssi != 99 && *rssi != 199) {
    return std::nullopt;
  }
  if ((*ber < 0 || *ber > 7) && *ber != 99) return std::nullopt;
  s.bars = s.dbm ? bars_for_dbm(*s.dbm) : 0;
  return s;
}

// --- access technology

AccessTech access_tech_from(int act) {
  if (act >= 0 && act <= 9) return static_cast<AccessTech>(act);
  return AccessTech::unknown;
}

const char* technology_name(AccessTech act) {
  switch (act) {
    case AccessTech::gsm:
    case AccessTech::gsm_compact:
      return "GSM";
    case AccessTech::gsm_egprs:
      return "EDGE";
    case AccessTech::utran:
      return "UMTS";
    case AccessTech::utran_hsdpa:
    case AccessTech::utran_hsupa:
    case AccessTech::utran_hsdpa_hsupa:
      return "HSPA";
    case AccessTech::eutran:
      return "LTE";
    case AccessTech::utran_hspa_plus:
      return "HSPA+";
    case AccessTech::eutran_nb_s1:
      return "NB-IoT";
    case AccessTech::unknown:
      break;
  }
  return "unknown";
}

// --- registration

const char* to_string(RegStatus s) {
  switch (s) {
    case RegStatus::not_registered:
      return "not registered";
    case RegStatus::home:
      return "registered (home)";
    case RegStatus::searching:
      return "searching";
    case RegStatus::denied:
      return "registration denied";
    case RegStatus::unknown:
      return "unknown";
    case RegStatus::roaming:
      return "registered (roaming)";
    case RegStatus::sms_only_home:
      return "registered for SMS only (home)";
    case RegStatus::sms_only_roaming:
      return "registered for SMS only (roaming)";
    case RegStatus::emergency_only:
      return "emergency bearer services only";
    case RegStatus::csfb_not_preferred_home:
      return "registered (home, CSFB not preferred)";
    case RegStatus::csfb_not_preferred_roaming:
      return "registered (roaming, CSFB not preferred)";
  }
  return "?";
}

bool is_registered(RegStatus s) {
  return s == RegStatus::home || s == RegStatus::roaming ||
         s == RegStatus::csfb_not_preferred_home || s == RegStatus::csfb_not_preferred_roaming;
}

std::optional<Registration> parse_registration(std::string_view line, bool read_response) {
  Registration r;
  std::optional<std::vector<std::string>> f;
  if ((f = fields(line, "+CEREG:"))) {
    r.domain = RegDomain::eps;
  } else if ((f = fields(line, "+CGREG:"))) {
    r.domain = RegDomain::gprs;
  } else if ((f = fields(line, "+CREG:"))) {
    r.domain = RegDomain::cs;
  } else {
    return std::nullopt;
  }
  if (f->empty()) return std::nullopt;
  // Field counts: URC 1, 3 or 4+; read response 2, 4 or 5+. A count that fits only one form
  // decides; otherwise the caller's context does.
  bool with_n = read_response;
  if (f->size() == 1) with_n = false;
  if (f->size() == 2) with_n = true;
  if (f->size() == 3) with_n = false;
  size_t i = 0;
  if (with_n) {
    auto n = to_int((*f)[i++]);
    if (!n) return std::nullopt;
    r.n = *n;
  }
  auto stat = to_int((*f)[i++]);
  if (!stat || *stat < 0 || *stat > 11) return std::nullopt;
  // SIMCom numbers "emergency bearer services only" 11 (see a76xx.h).
  r.stat = *stat == 11 ? RegStatus::emergency_only : static_cast<RegStatus>(*stat);
  if (i + 1 < f->size()) {
    if (!(*f)[i].empty()) r.area = hex_value((*f)[i]);
    if (!(*f)[i + 1].empty()) r.cell = hex_value((*f)[i + 1]);
    i += 2;
    if (i < f->size() && !(*f)[i].empty()) {
      auto act = to_int((*f)[i]);
      if (act) r.act = access_tech_from(*act);
    }
  }
  return r;
}

// --- +COPS

std::optional<Operator> parse_cops(std::string_view line) {
  auto f = fields(line, "+COPS:");
  if (!f || f->empty() || f->size() > 4) return std::nullopt;
  auto mode = to_int((*f)[0]);
  if (!mode || *mode < 0 || *mode > 4) return std::nullopt;
  Operator op;
  op.mode = *mode;
  if (f->size() >= 3) {
    auto format = to_int((*f)[1]);
    if (!format || *format < 0 || *format > 2) return std::nullopt;
    op.format = *format;
    op.name = (*f)[2];
  }
  if (f->size() == 4) {
    auto act = to_int((*f)[3]);
    if (!act) return std::nullopt;
    op.act = access_tech_from(*act);
  }
  return op;
}

// --- SIM

const char* to_string(SimState s) {
  switch (s) {
    case SimState::unknown:
      return "unknown";
    case SimState::ready:
      return "ready";
    case SimState::pin_required:
      return "PIN required";
    case SimState::puk_required:
      return "PUK required";
    case SimState::other_lock:
      return "locked";
    case SimState::not_inserted:
      return "not inserted";
    case SimState::not_ready:
      return "not ready";
    case SimState::failure:
      return "failure";
  }
  return "?";
}

std::optional<SimState> parse_cpin(std::string_view line) {
  if (!line.starts_with("+CPIN:")) return std::nullopt;
  std::string_view code = trim(line.substr(6));
  if (code == "READY") return SimState::ready;
  if (code == "SIM PIN") return SimState::pin_required;
  if (code == "SIM PUK") return SimState::puk_required;
  // A76xx URCs when the card goes or is not usable yet.
  if (code == "SIM REMOVED" || code == "NOT INSERTED" || code == "ABSENT")
    return SimState::not_inserted;
  if (code == "NOT READY") return SimState::not_ready;
  if (code.empty()) return std::nullopt;
  return SimState::other_lock;  // PH-SIM PIN, SIM PIN2, SIM PUK2, PH-NET PIN, ...
}

std::optional<int> cme_code(const AtResponse& r) {
  if (r.result != AtResult::cme_error) return std::nullopt;
  if (r.error_code) return r.error_code;
  // Verbose texts of TS 27.007 section 9.2.1 (AT+CMEE=2).
  static constexpr std::array<std::pair<int, std::string_view>, 13> kTexts = {{
      {cme::kOperationNotAllowed, "operation not allowed"},
      {cme::kOperationNotSupported, "operation not supported"},
      {cme::kSimNotInserted, "SIM not inserted"},
      {cme::kSimPinRequired, "SIM PIN required"},
      {cme::kSimPukRequired, "SIM PUK required"},
      {cme::kSimFailure, "SIM failure"},
      {cme::kSimBusy, "SIM busy"},
      {cme::kSimWrong, "SIM wrong"},
      {cme::kIncorrectPassword, "incorrect password"},
      {cme::kNoNetworkService, "no network service"},
      {cme::kNetworkTimeout, "network timeout"},
      {cme::kUnknown, "unknown"},
      {cme::kSimNotInserted, "SIM not insert"},  // a spelling some SIMCom firmware uses
  }};
  for (const auto& [code, phrase] : kTexts)
    if (text::iequals(r.error_text, phrase)) return code;
  return std::nullopt;
}

SimState sim_state_of(const AtResponse& r) {
  if (r.ok()) {
    for (const auto& l : r.lines)
      if (auto s = parse_cpin(l)) return *s;
    return SimState::unknown;
  }
  switch (cme_code(r).value_or(-1)) {
    case cme::kSimNotInserted:
      return SimState::not_inserted;
    case cme::kSimPinRequired:
      return SimState::pin_required;
    case cme::kSimPukRequired:
      return SimState::puk_required;
    case cme::kSimFailure:
    case cme::kSimWrong:
      return SimState::failure;
    case cme::kSimBusy:
      return SimState::not_ready;
    default:
      return SimState::unknown;
  }
}

// --- +CGEV

std::optional<PdnEvent> parse_cgev(std::string_view line) {
  if (!line.starts_with("+CGEV:")) return std::nullopt;
  std::string_view rest = trim(line.substr(6));
  PdnEvent e;
  auto tail_cid = [&](std::string_view prefix) {
    std::string_view t = trim(rest.substr(prefix.size()));
    const size_t comma = t.find(',');
    return to_int(t.substr(0, comma));
  };
  if (rest.starts_with("EPS PDN ACT")) {
    e.kind = PdnEvent::Kind::pdn_activated;
    e.cid = tail_cid("EPS PDN ACT");
  } else if (rest.starts_with("ME PDN ACT")) {
    e.kind = PdnEvent::Kind::pdn_activated;
    e.cid = tail_cid("ME PDN ACT");
  } else if (rest.starts_with("NW PDN ACT")) {
    e.kind = PdnEvent::Kind::pdn_activated;
    e.cid = tail_cid("NW PDN ACT");
  } else if (rest.starts_with("NW PDN DEACT")) {
    e.kind = PdnEvent::Kind::pdn_deactivated;
    e.cid = tail_cid("NW PDN DEACT");
  } else if (rest.starts_with("ME PDN DEACT")) {
    e.kind = PdnEvent::Kind::pdn_deactivated;
    e.cid = tail_cid("ME PDN DEACT");
  } else if (rest == "ME DETACH") {
    e.kind = PdnEvent::Kind::me_detach;
  } else if (rest == "NW DETACH") {
    e.kind = PdnEvent::Kind::nw_detach;
  }
  return e;
}

// --- builders

Result<std::string> cgdcont(int cid, std::string_view apn, std::string_view pdp_type) {
  if (cid < 1 || cid > kMaxCid) return Error{Errc::invalid_argument, "PDP context id out of range"};
  if (pdp_type != "IP" && pdp_type != "IPV6" && pdp_type != "IPV4V6")
    return Error{Errc::invalid_argument, "unknown PDP type"};
  if (apn.size() > 100) return Error{Errc::invalid_argument, "APN longer than 100 octets"};
  char prev = '.';
  for (char c : apn) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!(alnum || c == '-' || (c == '.' && prev != '.')))
      return Error{Errc::invalid_argument, "APN holds a character outside TS 23.003 labels"};
    prev = c;
  }
  std::string out = "AT+CGDCONT=" + std::to_string(cid) + ",\"" + std::string(pdp_type) + "\",\"";
  out.append(apn);
  out.push_back('"');
  return out;
}

Result<std::string> cgauth(int cid, Auth auth, std::string_view user, std::string_view password) {
  if (cid < 1 || cid > kMaxCid) return Error{Errc::invalid_argument, "PDP context id out of range"};
  if (!quotable(user, kMaxCredential) || !quotable(password, kMaxCredential))
    return Error{Errc::invalid_argument, "APN user or password not quotable"};
  std::string out =
      "AT+CGAUTH=" + std::to_string(cid) + "," + std::to_string(static_cast<int>(auth));
  if (auth != Auth::none) {
    out += ",\"" + std::string(password) + "\"";
    if (!user.empty()) out += ",\"" + std::string(user) + "\"";
  }
  return out;
}

Result<std::string> cpin(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 8 ||
      !std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return Error{Errc::invalid_argument, "a PIN is 4 to 8 digits"};
  return "AT+CPIN=\"" + std::string(pin) + "\"";
}

std::string cnmp(NetworkMode mode) {
  return "AT+CNMP=" + std::to_string(static_cast<int>(mode));
}

Result<std::string> ipr(uint32_t baud) {
  if (!listed_rate(baud)) return Error{Errc::invalid_argument, "baud rate the A76xx does not list"};
  return "AT+IPR=" + std::to_string(baud);
}

Result<std::string> iprex(uint32_t baud) {
  if (!listed_rate(baud)) return Error{Errc::invalid_argument, "baud rate the A76xx does not list"};
  return "AT+IPREX=" + std::to_string(baud);
}

std::string dial(int cid) {
  if (cid <= 1) return "ATD*99#";
  return "ATD*99***" + std::to_string(cid) + "#";
}

AtCommand at_sync() {
  return AtCommand("AT", milliseconds(500));
}
AtCommand echo_off() {
  return AtCommand("ATE0", seconds(1));
}
AtCommand verbose_errors() {
  return AtCommand("AT+CMEE=2", seconds(1));
}
AtCommand query_sim() {
  return AtCommand("AT+CPIN?", seconds(5), "+CPIN:");
}
AtCommand query_signal() {
  return AtCommand("AT+CSQ", seconds(1), "+CSQ:");
}
AtCommand query_creg() {
  return AtCommand("AT+CREG?", seconds(1), "+CREG:");
}
AtCommand query_cgreg() {
  return AtCommand("AT+CGREG?", seconds(1), "+CGREG:");
}
AtCommand query_cereg() {
  return AtCommand("AT+CEREG?", seconds(1), "+CEREG:");
}
AtCommand query_operator() {
  return AtCommand("AT+COPS?", seconds(3), "+COPS:");
}
AtCommand auto_operator() {
  return AtCommand("AT+COPS=0", seconds(120));
}
AtCommand radio(bool on) {
  return AtCommand(on ? "AT+CFUN=1" : "AT+CFUN=0", seconds(10), "+CFUN:");
}
AtCommand dial_command(int cid, Duration timeout) {
  return AtCommand(dial(cid), timeout, "", true);
}
AtCommand resume_data() {
  return AtCommand("ATO", seconds(5), "", true);
}
AtCommand hang_up() {
  return AtCommand("ATH", seconds(20));
}
AtCommand escape(Duration guard) {
  AtCommand c("+++", seconds(2));
  c.raw = true;
  c.guard = guard;
  return c;
}

// --- status

UrcKind apply_urc(ModemStatus& st, std::string_view line) {
  line = trim(line);
  if (line == "RDY" || line.starts_with("*ATREADY:")) {
    st = ModemStatus{};
    st.at_ready = true;
    return UrcKind::boot;
  }
  if (auto sim = parse_cpin(line)) {
    st.sim = *sim;
    return UrcKind::sim;
  }
  if (line.starts_with("+CREG:") || line.starts_with("+CGREG:") || line.starts_with("+CEREG:")) {
    auto r = parse_registration(line, false);
    if (!r) return UrcKind::other;
    auto& slot = r->domain == RegDomain::eps    ? st.cereg
                 : r->domain == RegDomain::gprs ? st.cgreg
                                                : st.creg;
    slot = r;
    return UrcKind::registration;
  }
  if (auto e = parse_cgev(line)) {
    st.last_pdn_event = e;
    return UrcKind::pdn;
  }
  if (line.starts_with("+CFUN:")) {
    auto f = fields(line, "+CFUN:");
    if (f && !f->empty()) st.cfun = to_int((*f)[0]);
    return UrcKind::radio;
  }
  if (line == "SMS DONE") {
    st.sms_done = true;
    return UrcKind::init_done;
  }
  if (line == "PB DONE") {
    st.pb_done = true;
    return UrcKind::init_done;
  }
  if (line == "NORMAL POWER DOWN") {
    st.at_ready = false;
    return UrcKind::power_down;
  }
  return UrcKind::other;
}

std::optional<Registration> data_registration(const ModemStatus& st) {
  for (const auto* r : {&st.cereg, &st.cgreg, &st.creg})
    if (*r && is_registered((*r)->stat)) return **r;
  for (const auto* r : {&st.cereg, &st.cgreg, &st.creg})
    if (*r && (*r)->stat == RegStatus::denied) return **r;
  for (const auto* r : {&st.cereg, &st.cgreg, &st.creg})
    if (*r) return **r;
  return std::nullopt;
}

}  // namespace cellrtc::modem::a76xx
