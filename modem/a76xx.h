// SIMCom A76xx (A7670E, SIM7670G) command set: builders for the commands the supervisor sends
// and parsers for what the modem answers, as pure functions over lines, plus the boot and
// network URCs folded into a status value. No I/O; the AtEngine carries the lines.
//
// Sources (cited below by short name and section):
// - [A76XX] SIMCom, "A76XX Series_AT Command Manual", V1.09 (2023-04-27): the A7670E's
//   manual. It follows 3GPP TS 27.007 for +CSQ, +CREG/+CGREG/+CEREG, +COPS, +CPIN, +CGDCONT,
//   +CGEV and +CME ERROR, and V.250 for ATE/ATD/ATO/ATH/+++, with the SIMCom values noted
//   where they differ (<AcT> 8, <stat> 11, +CNMP, +CGAUTH's argument order, +IPR's rates).
// - [SIM767XX] SIMCom, "SIM767XX Series_AT Command Manual", V1.06 (2024-12-06): the manual
//   for the QCX216-based SIM767x modules, which is where the SIM7670G's documentation points.
// - [SIM7600] SIMCom, "SIM7500_SIM7600 Series_AT Command Manual", V3.00: the previous
//   generation, for values the A76xx manuals do not list.
// - The boot URCs (*ATREADY: 1, SMS DONE, PB DONE) are in none of these manuals; they are
//   taken from A7670G boot logs published with LilyGO's LilyGO-T-A76XX examples
//   (examples/MqttsBuiltlnAzureIOTHub/REAMDE.MD, examples/SendLocationFromSMS/README.MD):
//     *ATREADY: 1    (the AT interface accepts commands; seen on the UART of those boards)
//     +CPIN: READY   (or +CPIN: SIM PIN ...; AT+CPIN? answered +CME ERROR: 13 just before it)
//     +CGEV: EPS PDN ACT 1, +CGEV: ME PDN ACT 8,1 (the LTE default bearer came up)
//     SMS DONE, PB DONE (SMS and phonebook initialised; not needed for data)
//   RDY is the SIM7600's boot URC on the UART ([SIM7600] section 1.4, note on p.19); accepted
//   here too. "+CPIN: SIM REMOVED" is the form public A76xx drivers match; the
//   manuals only define the +CPIN <code>s of TS 27.007.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "modem/at_engine.h"

namespace cellrtc::modem::a76xx {

// --- response line helpers

// Splits the parameters of an information response "+CMD: a,"b,c",d" into fields (quotes
// removed, commas inside quotes kept). nullopt when `line` does not start with `prefix`.
std::optional<std::vector<std::string>> fields(std::string_view line, std::string_view prefix);
std::optional<int> to_int(std::string_view s);

// --- +CSQ (TS 27.007 section 8.5): "+CSQ: <rssi>,<ber>"
struct Signal {
  int rssi = 99;  // 0..31, 99 not known
  int ber = 99;   // 0..7, 99 not known
  std::optional<int> dbm;
  int bars = 0;  // 0..5
  bool known() const { return dbm.has_value(); }
};
// rssi 0 = -113 dBm or less, 1 = -111, 2..30 = -109..-53 in 2 dB steps, 31 = -51 or more,
// 99 = not known ([A76XX] 3.2.2, p.68; [SIM767XX] 3.2.2). "+CSQ: 99,99" is what an
// unregistered modem reports: a state (no signal known yet), not an error. [SIM7600] 3.2.8
// (p.65) also defines 100..191 (-116..-25 dBm, 1 dB steps) and 199 (not known) for TD-SCDMA;
// the A76xx manuals do not list them; accepted here all the same.
std::optional<Signal> parse_csq(std::string_view line);
int bars_for_dbm(int dbm);

// --- access technology (TS 27.007 section 7.3 <AcT>, shared by +COPS and +C(E/G)REG). 0..7 as
// in TS 27.007; SIMCom gives 8 its own meaning, "UTRAN HSPA+" ([A76XX] 4.2.2, p.86;
// [SIM767XX] 4.2.2), where TS 27.007 has EC-GSM-IoT. 9 (E-UTRAN NB-S1) is TS 27.007's.
enum class AccessTech : uint8_t {
  gsm = 0,
  gsm_compact = 1,
  utran = 2,
  gsm_egprs = 3,
  utran_hsdpa = 4,
  utran_hsupa = 5,
  utran_hsdpa_hsupa = 6,
  eutran = 7,
  utran_hspa_plus = 8,  // SIMCom's 8
  eutran_nb_s1 = 9,
  unknown = 255,
};
AccessTech access_tech_from(int act);
// Short name for telemetry: "GSM", "EDGE", "UMTS", "HSPA", "HSPA+", "LTE", "NB-IoT", "unknown".
// A GSM cell that offers EGPRS shows as <AcT> 3 ("EDGE"); GPRS without EDGE is <AcT> 0.
const char* technology_name(AccessTech act);

// --- +CREG / +CGREG / +CEREG (TS 27.007 sections 7.2, 10.1.20, 10.1.22; [A76XX] 4.2.1 p.82,
// 5.2.1 p.105, 5.2.2 p.107). <stat> 0..10 as in TS 27.007; the SIMCom manuals number "attached for
// emergency bearer services only" 11 ([A76XX], [SIM767XX]) where TS 27.007 uses 8: both
// parse to emergency_only.
enum class RegStatus : uint8_t {
  not_registered = 0,  // not searching
  home = 1,
  searching = 2,
  denied = 3,
  unknown = 4,
  roaming = 5,
  sms_only_home = 6,
  sms_only_roaming = 7,
  emergency_only = 8,
  csfb_not_preferred_home = 9,
  csfb_not_preferred_roaming = 10,
};
const char* to_string(RegStatus s);
bool is_registered(RegStatus s);

enum class RegDomain : uint8_t { cs, gprs, eps };  // +CREG, +CGREG, +CEREG

struct Registration {
  RegDomain domain = RegDomain::eps;
  std::optional<int> n;  // the read response's <n>; absent in URCs
  RegStatus stat = RegStatus::unknown;
  std::optional<uint32_t> area;  // <lac> or <tac>, hex in the line
  std::optional<uint32_t> cell;  // <ci>, hex
  std::optional<AccessTech> act;
};
// Read response "+CEREG: <n>,<stat>[,<tac>,<ci>[,<AcT>]]" when `read_response` (the A76xx
// sends no <AcT> in the read form, [A76XX] 5.2.2), URC
// "+CEREG: <stat>[,<tac>,<ci>[,<AcT>]]" otherwise (the same for +CREG and +CGREG; +CGREG and
// +CEREG may add <rac>/<cause> fields after <AcT>, ignored). A line whose field count only
// fits the other form is parsed as that form.
std::optional<Registration> parse_registration(std::string_view line, bool read_response);

// --- +COPS? (TS 27.007 section 7.3; [A76XX] 4.2.2, pp.84-86): "+COPS: <mode>[,<format>,
// <oper>[,<AcT>]]", e.g. "+COPS: 0,2,\"46001\",7".
struct Operator {
  int mode = 0;               // 0 automatic, 1 manual, 2 deregistered, 4 manual/automatic
  std::optional<int> format;  // 0 long alphanumeric, 1 short, 2 numeric (MCC+MNC)
  std::string name;           // e.g. "vodafone GR" or "20205"
  std::optional<AccessTech> act;
};
std::optional<Operator> parse_cops(std::string_view line);

// --- +CPIN (TS 27.007 section 8.3; [A76XX] 6.2.2): "+CPIN: <code>"
enum class SimState : uint8_t {
  unknown,
  ready,
  pin_required,  // SIM PIN
  puk_required,  // SIM PUK: only a human with the PUK can help
  other_lock,    // PH-SIM PIN, SIM PIN2, PH-NET PIN ...
  not_inserted,  // +CME ERROR 10, or the URC "+CPIN: SIM REMOVED" (see the sources above)
  not_ready,     // +CPIN: NOT READY / +CME ERROR 14 (SIM busy)
  failure,       // +CME ERROR 13 / 15 (an A7670G also answers 13 while its SIM initialises)
};
const char* to_string(SimState s);
std::optional<SimState> parse_cpin(std::string_view line);
// The SIM state an AT+CPIN? response means, errors included (+CME ERROR: 10 SIM not
// inserted, 13 SIM failure, 14 SIM busy, 15 SIM wrong; numeric or AT+CMEE=2 text).
SimState sim_state_of(const AtResponse& response);

// --- +CME ERROR (TS 27.007 section 9.2.1), numeric or verbose (AT+CMEE=2)
namespace cme {
constexpr int kOperationNotAllowed = 3;
constexpr int kOperationNotSupported = 4;
constexpr int kSimNotInserted = 10;
constexpr int kSimPinRequired = 11;
constexpr int kSimPukRequired = 12;
constexpr int kSimFailure = 13;
constexpr int kSimBusy = 14;
constexpr int kSimWrong = 15;
constexpr int kIncorrectPassword = 16;
constexpr int kNoNetworkService = 30;
constexpr int kNetworkTimeout = 31;
constexpr int kUnknown = 100;
}  // namespace cme
// The numeric code of a +CME ERROR response, from the number or from the verbose text.
std::optional<int> cme_code(const AtResponse& response);

// --- +CGEV (TS 27.007 section 10.1.19; [A76XX] 5.2.15, pp.140-146); the forms the A76xx
// sends. "EPS PDN ACT" is not in the manual's list but is what an A7670G reports when its LTE
// default bearer comes up (boot logs, see the sources above).
struct PdnEvent {
  enum class Kind : uint8_t {
    pdn_activated,    // "+CGEV: EPS PDN ACT <cid>" / "ME PDN ACT <cid>" / "NW PDN ACT <cid>"
    pdn_deactivated,  // "+CGEV: NW PDN DEACT <cid>" / "ME PDN DEACT <cid>"
    me_detach,        // "+CGEV: ME DETACH"
    nw_detach,        // "+CGEV: NW DETACH"
    other,
  };
  Kind kind = Kind::other;
  std::optional<int> cid;
};
std::optional<PdnEvent> parse_cgev(std::string_view line);

// --- command builders (each validates what goes between quotes)

// AT+CGDCONT=<cid>,"<PDP_type>","<APN>" (TS 27.007 section 10.1.1; [A76XX] 5.2.5, p.112:
// <cid> 1..15, PDP types IP, IPV6, IPV4V6). APN: labels of letters, digits and hyphens
// separated by dots (TS 23.003 section 9.1), at most 100 octets; empty means "network
// default".
Result<std::string> cgdcont(int cid, std::string_view apn, std::string_view pdp_type = "IP");
enum class Auth : uint8_t { none = 0, pap = 1, chap = 2 };
// AT+CGAUTH=<cid>,<auth_type>[,"<passwd>"[,"<user>"]] : SIMCom's order, password before user
// ([A76XX] 5.2.16, p.147; [SIM767XX] 5.2.11; TS 27.007 section 10.1.31 puts <userid> first).
// <cid> 1..15; user and password at most 50 characters each (the A76xx's AT+CGAUTH=? answers
// "(1-15),(0-2),50,50"; the SIM767xx allows 64).
Result<std::string> cgauth(int cid, Auth auth, std::string_view user, std::string_view password);
// AT+CPIN="<pin>": 4 to 8 digits.
Result<std::string> cpin(std::string_view pin);
// AT+CNMP=<mode> ([A76XX] 4.2.7, p.93): 2 automatic, 13 GSM only, 14 WCDMA only, 38 LTE only;
// a mode the module does not support answers ERROR (an A7670E has no WCDMA). There is no
// "GSM and LTE" value on the A76xx (51 is the SIM7600's, [SIM7600]): on an A7670E automatic
// is GSM and LTE. The SIM767XX manual has no AT+CNMP at all: leave it unset for a SIM7670G.
// The write command may take up to 10 s ([A76XX] 4.2.7, note 1).
enum class NetworkMode : uint8_t { automatic = 2, gsm_only = 13, wcdma_only = 14, lte_only = 38 };
std::string cnmp(NetworkMode mode);
// AT+IPR=<rate> (V.250 section 6.2.10; [A76XX] 10.2.3, p.257): the UART rate until the next
// reboot; AT+IPREX=<rate> ([A76XX] 10.2.4) sets it permanently (AT&W does not save +IPR,
// whose saving mode is NO_SAVE). Rates: 300, 600, 1200, 2400, 4800, 9600, 19200, 38400,
// 57600, 115200 (the default), 230400, 460800, 921600, 1842000, 3686400; a SIM767xx only goes
// from 600 to 460800 ([SIM767XX] 8.2.3). 0 selects autobauding ("A76XX Series_UART_
// Application Note" V1.02, section 5.3): not offered here. Other rates are refused.
Result<std::string> ipr(uint32_t baud);
Result<std::string> iprex(uint32_t baud);
// ATD*99***<cid># (TS 27.007 section 10.2.1.1, GPRS service code 99); cid 1 gives ATD*99#.
std::string dial(int cid = 1);
// AT+CMUX=0: basic option, default parameters (TS 27.007 section 5.7; [A76XX] 10.2.8, p.263:
// only <mode> 0; the defaults read back as "+CMUX: 0,0,5,1500,0,0,600", N1 = 1500).
inline constexpr std::string_view kCmuxBasic = "AT+CMUX=0";

// The standard bring-up commands with their timeouts and response prefixes. [A76XX] gives
// 9000 ms as the "Max Response Time" of nearly every command, 60 s for AT+COPS; the short
// timeouts below are ours for commands that answer at once in practice.
AtCommand at_sync();                                // "AT", 500 ms
AtCommand echo_off();                               // "ATE0"
AtCommand verbose_errors();                         // "AT+CMEE=2"
AtCommand query_sim();                              // "AT+CPIN?", 5 s
AtCommand query_signal();                           // "AT+CSQ"
AtCommand query_creg();                             // "AT+CREG?"
AtCommand query_cgreg();                            // "AT+CGREG?"
AtCommand query_cereg();                            // "AT+CEREG?"
AtCommand query_operator();                         // "AT+COPS?", 3 s
AtCommand auto_operator();                          // "AT+COPS=0", 120 s (a network search)
AtCommand radio(bool on);                           // "AT+CFUN=1" / "AT+CFUN=0", 10 s
AtCommand dial_command(int cid, Duration timeout);  // enters data mode on CONNECT
AtCommand resume_data();                            // "ATO", enters data mode on CONNECT
AtCommand hang_up();                                // "ATH", 20 s
// "+++" with a guard time of silence before and after (V.250 S12, 1 s by default). The A76xx
// wants at least 1000 ms of silence on each side and the three '+' less than 900 ms apart
// ([A76XX] 2.2.5 note, p.51; [SIM767XX] 2.2.3): they go out in one write.
AtCommand escape(Duration guard = seconds(1));

// --- status folded from URCs and responses
struct ModemStatus {
  bool at_ready = false;  // *ATREADY: 1 or RDY seen since the last reset
  bool sms_done = false;
  bool pb_done = false;
  SimState sim = SimState::unknown;
  std::optional<Signal> signal;
  std::optional<Registration> creg, cgreg, cereg;
  std::optional<Operator> op;
  std::optional<PdnEvent> last_pdn_event;
  std::optional<int> cfun;
};

enum class UrcKind : uint8_t {
  boot,          // RDY, *ATREADY
  sim,           // +CPIN
  registration,  // +CREG/+CGREG/+CEREG
  pdn,           // +CGEV
  radio,         // +CFUN
  init_done,     // SMS DONE, PB DONE
  power_down,    // NORMAL POWER DOWN
  other,
};
// Folds a URC into `status` and says what it was.
UrcKind apply_urc(ModemStatus& status, std::string_view line);
// The registration that counts for data: EPS (LTE) when registered there, else GPRS
// (GSM/EDGE fallback), else CS; nullopt before any report.
std::optional<Registration> data_registration(const ModemStatus& status);

}  // namespace cellrtc::modem::a76xx
