// AT command engine (ITU-T V.250, 3GPP TS 27.007), sans-IO: bytes and time in; bytes to the
// modem, responses, unsolicited result codes, data-mode bytes and the next deadline out.
//
//   AtEngine at(config);
//   auto id = at.submit(now, {"AT+CSQ", seconds(1), "+CSQ:"});
//   at.handle_bytes(now, bytes_from_modem);
//   at.handle_timeout(now);
//   while (auto out = at.poll_transmit()) port.write(*out);
//   while (auto e = at.poll_event()) ...   // AtResponse, AtUrc, DataModeEnded
//   while (auto d = at.poll_data()) ...    // bytes received in data mode (PPP)
//   wake_at = at.next_timeout();
//
// One command is in flight at a time (V.250 section 5.2.4: the DCE takes the next command
// line only after the final result of the previous one). Every command has its own timeout;
// a command whose final result never comes completes with AtResult::timeout and the queue
// moves on. V.250 has no command tags, so a final result that arrives after its command timed
// out is taken for the next command's; callers treat a timeout as "resynchronise" (the
// supervisor does: AT until it answers, then the whole bring-up again). Lines that arrive while a
// command is in flight are its intermediate response unless they are recognised URCs (list in
// AtEngineConfig) that do not carry the command's own response prefix, so a +CREG URC in the middle
// of an AT+CSQ response stays a URC while the "+CREG: 0,1" answer to AT+CREG? stays the response.
// With echo on (ATE1, the A76xx default after power-up) the echoed command line is recognised and
// dropped.
//
// A command marked `enters_data_mode` (ATD*99#, ATO) that completes with CONNECT switches the
// engine to data mode: every following byte, including the rest of the read that carried
// CONNECT, is data (poll_data) until the host escapes with +++ or the modem ends the call
// with "NO CARRIER" (V.250 section 6.3.1), which the engine spots between PPP frames.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "modem/at_line_parser.h"

namespace cellrtc::modem {

// Final result codes (V.250 section 5.7.2; +CME/+CMS ERROR from TS 27.007 section 9.2 and
// TS 27.005 section 3.2.5), plus the engine's own outcomes.
enum class AtResult : uint8_t {
  ok,
  error,
  cme_error,
  cms_error,
  connect,
  no_carrier,
  busy,
  no_answer,
  no_dialtone,
  timeout,  // no final result within the command's timeout
  aborted,  // dropped by abort_all (modem reset, USB gone)
};
const char* to_string(AtResult r);

// Classifies a line as a final result code; nullopt when it is not one.
std::optional<AtResult> final_result_of(std::string_view line);

struct AtCommand {
  AtCommand() = default;
  AtCommand(std::string text_, Duration timeout_ = seconds(1), std::string response_prefix_ = {},
            bool enters_data_mode_ = false)
      : text(std::move(text_)),
        timeout(timeout_),
        response_prefix(std::move(response_prefix_)),
        enters_data_mode(enters_data_mode_) {}

  std::string text;  // without the trailing CR, e.g. "AT+CSQ"
  Duration timeout = seconds(1);
  // Intermediate lines starting with this prefix belong to the command even when they look
  // like a URC (AT+CREG? answers "+CREG: ..."). Empty: no such line expected.
  std::string response_prefix;
  bool enters_data_mode = false;  // CONNECT switches to data mode (ATD*99#, ATO)
  // Sent as is, without CR, after `guard` of silence on the line, and followed by `guard`
  // of silence before the timeout starts (the +++ escape, V.250 section 6.3.1 with S12).
  bool raw = false;
  Duration guard{0};
};

struct AtResponse {
  uint32_t id = 0;
  std::string command;
  AtResult result = AtResult::ok;
  // +CME ERROR / +CMS ERROR: the numeric code when the modem sent one (AT+CMEE=1), and the
  // text after the colon in either form (AT+CMEE=2 gives "SIM not inserted").
  std::optional<int> error_code;
  std::string error_text;
  std::string final_line;  // "CONNECT 150000000", "OK", ...
  std::vector<std::string> lines;
  bool ok() const { return result == AtResult::ok; }
};

struct AtUrc {
  std::string line;
};

// The modem left data mode by itself (NO CARRIER) or the engine returned to command mode.
struct DataModeEnded {
  bool no_carrier = false;
};

using AtEvent = std::variant<AtResponse, AtUrc, DataModeEnded>;

struct AtEngineConfig {
  size_t max_line = AtLineParser::kDefaultMaxLine;
  size_t max_queue = 16;
  size_t max_response_lines = 64;
  // Lines starting with one of these are URCs unless they carry the in-flight command's
  // response prefix: the TS 27.007 ones, the SIMCom ones of the A76XX Series AT Command
  // Manual V1.09 (its commands' URCs), and the boot messages that manual does not list
  // (*ATREADY, SMS DONE, PB DONE from published A7670G logs, RDY from the SIM7600 manual;
  // see modem/a76xx.h).
  std::vector<std::string> urc_prefixes = {"+CREG:",  "+CGREG:",
                                           "+CEREG:", "+CPIN:",
                                           "RDY",     "+CFUN:",
                                           "PB DONE", "SMS DONE",
                                           "+CGEV:",  "*ATREADY:",
                                           "+CMTI:",  "RING",
                                           "+CTZV:",  "*PSUTTZ:",
                                           "DST:",    "+CTZE:",
                                           "+CSQN:",  "+CPSI:",
                                           "+PPPD:",  "+CMUX:",
                                           "+CLIP:",  "NORMAL POWER DOWN",
                                           "+CUSD:"};
};

struct AtEngineStats {
  uint64_t commands = 0;
  uint64_t timeouts = 0;
  uint64_t urcs = 0;
  uint64_t stray_lines = 0;  // not a URC, nothing in flight
  uint64_t echoes = 0;
};

class AtEngine {
 public:
  explicit AtEngine(AtEngineConfig config = {});

  // Queues a command; returns its id. Fails when the queue is full or the text has a CR/LF.
  Result<uint32_t> submit(Instant now, AtCommand command);
  // Drops every queued and in-flight command (each completes as `aborted`), leaves data mode
  // and forgets partial lines: for a modem that rebooted or a port that went away.
  void abort_all();

  void handle_bytes(Instant now, ByteView bytes);
  void handle_timeout(Instant now);
  std::optional<Bytes> poll_transmit();
  std::optional<AtEvent> poll_event();
  std::optional<Bytes> poll_data();
  std::optional<Instant> next_timeout() const;

  // Data mode: bytes for the modem (PPP). Ignored in command mode.
  void send_data(Instant now, ByteView bytes);
  bool in_data_mode() const { return data_mode_; }
  // The host believes the modem left data mode by other means (CMUX channel closed, +++
  // answered elsewhere): parse lines again.
  void leave_data_mode();

  bool idle() const { return !in_flight_ && queue_.empty(); }
  size_t queued() const { return queue_.size() + (in_flight_ ? 1 : 0); }
  const AtEngineStats& stats() const { return stats_; }
  const AtLineParserStats& line_stats() const { return parser_.stats(); }

 private:
  struct Pending {
    uint32_t id;
    AtCommand command;
    bool sent = false;
    Instant deadline;   // final result due (after sending)
    Instant guard_end;  // raw commands: silence after sending until the timeout starts
    bool echo_seen = false;
    AtResponse response;
  };

  void pump(Instant now);
  void on_line(Instant now, std::string_view line);
  bool is_urc(std::string_view line) const;
  void finish(AtResult result, std::string_view final_line);
  void emit_urc(std::string_view line);
  void write(Instant now, Bytes bytes);

  AtEngineConfig config_;
  AtLineParser parser_;
  std::deque<Pending> queue_;
  std::optional<Pending> in_flight_;
  uint32_t next_id_ = 1;
  bool data_mode_ = false;
  bool swallow_lf_ = false;
  std::string carrier_window_;  // tail of the data stream, to spot NO CARRIER
  std::optional<Instant> last_tx_;
  std::deque<Bytes> transmits_;
  std::deque<AtEvent> events_;
  std::deque<Bytes> data_;
  AtEngineStats stats_;
};

}  // namespace cellrtc::modem
