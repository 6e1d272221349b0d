#include "server/log.h"

#include "server/http_message.h"

#include <chrono>
#include <ctime>

namespace cellrtc::server {
namespace {

constexpr std::string_view kLevelNames[] = {"error", "warn", "info", "debug"};

// Plain values are quoted when they hold a space, a quote, '=' or a control character, so one
// line always splits back into the same fields.
void append_plain_value(std::string& out, std::string_view s) {
  bool quote = s.empty();
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) quote = true;
  }
  if (quote) {
    append_json_string(out, s);
  } else {
    out += s;
  }
}

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string Logger::format(LogLevel level, bool json, std::string_view timestamp,
                           std::string_view message, std::initializer_list<LogField> fields) {
  std::string line;
  auto level_name = kLevelNames[static_cast<int>(level)];
  if (json) {
    line += "{";
    if (!timestamp.empty()) {
      line += "\"ts\":";
      append_json_string(line, timestamp);
      line += ",";
    }
    line += "\"level\":";
    append_json_string(line, level_name);
    line += ",\"msg\":";
    append_json_string(line, message);
    for (const auto& f : fields) {
      line += ",";
      append_json_string(line, f.key);
      line += ":";
      append_json_string(line, f.value);
    }
    line += "}";
  } else {
    if (!timestamp.empty()) {
      line += timestamp;
      line += ' ';
    }
    line += level_name;
    line += ' ';
    line += message;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      append_plain_value(line, f.value);
    }
  }
  return line;
}

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  std::string line = format(level, json_, utc_timestamp(), message, fields);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace cellrtc::server
