#pragma once

// cellrtc-server's log: one line per event on stderr, plain ("2026-11-24T15:00:00.123Z info
// http request method=GET path=/healthz status=200") or JSON ({"ts":...,"level":"info",
// "msg":"http request","method":"GET",...}). Fields are key=value pairs; callers pass paths
// without their query and never tokens, TURN secrets or credentials.

#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace cellrtc::server {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

std::optional<LogLevel> parse_log_level(std::string_view text);

struct LogField {
  std::string_view key;
  std::string value;
};

class Logger {
 public:
  // Writes to `out` (stderr in the server; a temporary file in tests).
  Logger(LogLevel level, bool json, std::FILE* out = stderr)
      : level_(level), json_(json), out_(out) {}

  bool enabled(LogLevel level) const { return level <= level_; }
  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
  void error(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::error, m, f);
  }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::warn, m, f);
  }
  void info(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::info, m, f);
  }
  void debug(std::string_view m, std::initializer_list<LogField> f = {}) {
    log(LogLevel::debug, m, f);
  }

  // The line log() writes, without the timestamp (for tests): "info msg k=v".
  static std::string format(LogLevel level, bool json, std::string_view timestamp,
                            std::string_view message, std::initializer_list<LogField> fields);

 private:
  LogLevel level_;
  bool json_;
  std::FILE* out_;
};

}  // namespace cellrtc::server
