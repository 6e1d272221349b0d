// Splits the byte stream from a modem's AT port into lines (ITU-T V.250 section 5.7: a result
// or response is framed <CR><LF>text<CR><LF>; with echo on, the echoed command line ends with
// <CR> alone). Sans-IO: bytes in, lines out.
//
// - A line ends at CR or LF; empty lines are skipped, so CRLF, LFCR and lone CRs all work.
// - Bytes that cannot be part of an AT response (controls other than CR, LF and TAB; bytes
//   with the high bit set, which a UART at the wrong baud rate or a PPP frame leaks) are
//   dropped and counted, so line noise never reaches a parser.
// - A line longer than `max_line` is dropped whole (counted), never truncated into something
//   that might parse as a different response.
// - The "> " prompt (AT+CMGS and friends) has no line end; it is reported as a line of its own
//   when it is the first thing on a line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cellrtc::modem {

struct AtLineParserStats {
  uint64_t lines = 0;
  uint64_t dropped_bytes = 0;   // garbage outside the printable range
  uint64_t overlong_lines = 0;  // over max_line, dropped
};

class AtLineParser {
 public:
  static constexpr size_t kDefaultMaxLine = 512;
  explicit AtLineParser(size_t max_line = kDefaultMaxLine) : max_line_(max_line) {}

  // Feeds one byte; returns a complete line when this byte ended one. The view stays valid
  // until the next call.
  std::optional<std::string_view> push(uint8_t byte);

  // True when the last byte pushed was the CR that ended a line (the caller, switching to
  // data mode on CONNECT, then swallows the LF that follows).
  bool just_ended_with_cr() const { return ended_with_cr_; }
  // Throws away a partial line (after a mode switch).
  void reset();
  const AtLineParserStats& stats() const { return stats_; }

 private:
  size_t max_line_;
  std::string line_;
  std::string done_;
  bool overflow_ = false;
  bool ended_with_cr_ = false;
  AtLineParserStats stats_;
};

}  // namespace cellrtc::modem
