#include "modem/at_engine.h"

#include <algorithm>

#include "core/common/text.h"

namespace cellrtc::modem {
namespace {

using text::iequals;
using text::trim;

// "\nNO CARRIER\r": the modem's result after a PPP session ends (V.250 section 6.3.1). PPP
// frames travel between 0x7E flags, so the text shows between frames.
constexpr std::string_view kNoCarrier = "\nNO CARRIER\r";

}  // namespace

const char* to_string(AtResult r) {
  switch (r) {
    case AtResult::ok:
      return "OK";
    case AtResult::error:
      return "ERROR";
    case AtResult::cme_error:
      return "+CME ERROR";
    case AtResult::cms_error:
      return "+CMS ERROR";
    case AtResult::connect:
      return "CONNECT";
    case AtResult::no_carrier:
      return "NO CARRIER";
    case AtResult::busy:
      return "BUSY";
    case AtResult::no_answer:
      return "NO ANSWER";
    case AtResult::no_dialtone:
      return "NO DIALTONE";
    case AtResult::timeout:
      return "timeout";
    case AtResult::aborted:
      return "aborted";
  }
  return "?";
}

std::optional<AtResult> final_result_of(std::string_view line) {
  line = trim(line);
  if (line == "OK") return AtResult::ok;
  if (line == "ERROR") return AtResult::error;
  if (line.starts_with("+CME ERROR:")) return AtResult::cme_error;
  if (line.starts_with("+CMS ERROR:")) return AtResult::cms_error;
  // V.250 section 6.3.1: "CONNECT" optionally followed by a rate ("CONNECT 150000000").
  if (line == "CONNECT" || line.starts_with("CONNECT ")) return AtResult::connect;
  if (line == "NO CARRIER") return AtResult::no_carrier;
  if (line == "BUSY") return AtResult::busy;
  if (line == "NO ANSWER") return AtResult::no_answer;
  if (line == "NO DIALTONE") return AtResult::no_dialtone;
  return std::nullopt;
}

AtEngine::AtEngine(AtEngineConfig config) : config_(std::move(config)), parser_(config_.max_line) {}

Result<uint32_t> AtEngine::submit(Instant now, AtCommand command) {
  if (command.text.empty()) return Error{Errc::invalid_argument, "empty AT command"};
  if (command.text.find_first_of("\r\n") != std::string::npos)
    return Error{Errc::invalid_argument, "AT command holds a line end"};
  if (queued() >= config_.max_queue) return Error{Errc::limit_exceeded, "AT command queue full"};
  Pending p;
  p.id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  p.command = std::move(command);
  p.response.id = p.id;
  p.response.command = p.command.text;
  const uint32_t id = p.id;
  queue_.push_back(std::move(p));
  pump(now);
  return id;
}

void AtEngine::write(Instant now, Bytes bytes) {
  if (bytes.empty()) return;
  transmits_.push_back(std::move(bytes));
  last_tx_ = now;
}

void AtEngine::pump(Instant now) {
  if (in_flight_ || queue_.empty()) return;
  Pending& next = queue_.front();
  if (next.command.raw) {
    // Guard time before the escape: no byte sent for `guard` (S12, V.250 section 6.3.1).
    if (last_tx_ && now < *last_tx_ + next.command.guard) return;
  } else if (data_mode_) {
    return;  // waits for command mode
  }
  in_flight_ = std::move(next);
  queue_.pop_front();
  Pending& p = *in_flight_;
  ++stats_.commands;
  Bytes out(p.command.text.begin(), p.command.text.end());
  if (p.command.raw) {
    write(now, std::move(out));
    p.guard_end = now + p.command.guard;
    p.deadline = p.guard_end + p.command.timeout;
    if (data_mode_) {
      data_mode_ = false;
      parser_.reset();
      carrier_window_.clear();
      events_.push_back(DataModeEnded{false});
    }
  } else {
    out.push_back('\r');
    write(now, std::move(out));
    p.deadline = now + p.command.timeout;
  }
  p.sent = true;
}

bool AtEngine::is_urc(std::string_view line) const {
  for (const auto& prefix : config_.urc_prefixes)
    if (line.starts_with(prefix)) return true;
  return false;
}

void AtEngine::emit_urc(std::string_view line) {
  ++stats_.urcs;
  events_.push_back(AtUrc{std::string(line)});
}

void AtEngine::finish(AtResult result, std::string_view final_line) {
  Pending p = std::move(*in_flight_);
  in_flight_.reset();
  AtResponse& r = p.response;
  r.result = result;
  r.final_line = std::string(final_line);
  if (result == AtResult::cme_error || result == AtResult::cms_error) {
    std::string_view rest = trim(final_line.substr(final_line.find(':') + 1));
    r.error_text = std::string(rest);
    if (!rest.empty() && rest.size() <= 6 &&
        std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      int v = 0;
      for (char c : rest)
        v = v * 10 + (c - '0');
      r.error_code = v;
    }
  }
  if (result == AtResult::timeout) ++stats_.timeouts;
  if (result == AtResult::connect && p.command.enters_data_mode) {
    data_mode_ = true;
    carrier_window_.clear();
  }
  events_.push_back(std::move(r));
}

void AtEngine::on_line(Instant now, std::string_view line) {
  (void)now;
  if (in_flight_ && in_flight_->sent) {
    Pending& p = *in_flight_;
    if (!p.echo_seen && p.response.lines.empty() && iequals(trim(line), p.command.text)) {
      p.echo_seen = true;
      ++stats_.echoes;
      return;
    }
    if (auto final = final_result_of(line)) {
      finish(*final, line);
      return;
    }
    const bool own =
        !p.command.response_prefix.empty() && line.starts_with(p.command.response_prefix);
    if (!own && is_urc(line)) {
      emit_urc(line);
      return;
    }
    if (p.response.lines.size() < config_.max_response_lines) p.response.lines.emplace_back(line);
    return;
  }
  if (final_result_of(line)) {
    ++stats_.stray_lines;  // the late end of a command that timed out
    return;
  }
  if (line.size() >= 2 && (line[0] == 'A' || line[0] == 'a') &&
      (line[1] == 'T' || line[1] == 't')) {
    ++stats_.echoes;  // echo of a command whose response already ended
    return;
  }
  emit_urc(line);
}

void AtEngine::handle_bytes(Instant now, ByteView bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (data_mode_) {
      if (swallow_lf_) {
        swallow_lf_ = false;
        if (bytes[i] == '\n') {
          ++i;
          continue;
        }
      }
      ByteView rest = bytes.subspan(i);
      std::string combined = carrier_window_;
      combined.append(as_chars(rest));
      const size_t at = combined.find(kNoCarrier);
      if (at == std::string::npos) {
        data_.emplace_back(rest.begin(), rest.end());
        const size_t keep = std::min(combined.size(), kNoCarrier.size() - 1);
        carrier_window_ = combined.substr(combined.size() - keep);
        return;
      }
      // Data before the text; the text itself becomes the final line of the call.
      const size_t window = carrier_window_.size();
      const size_t data_end = at > window ? at - window : 0;
      if (data_end > 0) data_.emplace_back(rest.begin(), rest.begin() + data_end);
      const size_t consumed = at + kNoCarrier.size() - window;
      data_mode_ = false;
      carrier_window_.clear();
      parser_.reset();
      swallow_lf_ = true;
      events_.push_back(DataModeEnded{true});
      i += consumed;
      continue;
    }
    const uint8_t b = bytes[i++];
    if (swallow_lf_) {
      swallow_lf_ = false;
      if (b == '\n') continue;
    }
    if (auto line = parser_.push(b)) {
      const bool was_data = data_mode_;
      on_line(now, *line);
      if (!was_data && data_mode_ && parser_.just_ended_with_cr()) swallow_lf_ = true;
    }
  }
  pump(now);
}

void AtEngine::handle_timeout(Instant now) {
  if (in_flight_ && in_flight_->sent && now >= in_flight_->deadline) finish(AtResult::timeout, "");
  pump(now);
}

std::optional<Instant> AtEngine::next_timeout() const {
  if (in_flight_) return in_flight_->deadline;
  if (!queue_.empty() && queue_.front().command.raw && last_tx_)
    return *last_tx_ + queue_.front().command.guard;
  return std::nullopt;
}

void AtEngine::send_data(Instant now, ByteView bytes) {
  if (!data_mode_ || bytes.empty()) return;
  // An escape is waiting for its guard time: the line must stay silent.
  if (!queue_.empty() && queue_.front().command.raw) return;
  write(now, Bytes(bytes.begin(), bytes.end()));
}

void AtEngine::leave_data_mode() {
  if (!data_mode_) return;
  data_mode_ = false;
  carrier_window_.clear();
  parser_.reset();
  events_.push_back(DataModeEnded{false});
}

void AtEngine::abort_all() {
  if (in_flight_) finish(AtResult::aborted, "");
  while (!queue_.empty()) {
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    finish(AtResult::aborted, "");
  }
  data_mode_ = false;
  swallow_lf_ = false;
  carrier_window_.clear();
  parser_.reset();
}

std::optional<Bytes> AtEngine::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Bytes b = std::move(transmits_.front());
  transmits_.pop_front();
  return b;
}

std::optional<AtEvent> AtEngine::poll_event() {
  if (events_.empty()) return std::nullopt;
  AtEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Bytes> AtEngine::poll_data() {
  if (data_.empty()) return std::nullopt;
  Bytes b = std::move(data_.front());
  data_.pop_front();
  return b;
}

}  // namespace cellrtc::modem
