#include "modem/linux/modem_query.h"

#include <array>
#include <chrono>
#include <variant>
#include <vector>

#include "modem/at_engine.h"

namespace cellrtc::modem::posix {
namespace {

Instant steady_now() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return Instant::from_us(std::chrono::duration_cast<std::chrono::microseconds>(t).count());
}

// Runs one command to completion over the port.
Result<AtResponse> run(SerialPort& port, AtEngine& at, AtCommand cmd) {
  auto id = at.submit(steady_now(), std::move(cmd));
  if (!id.ok()) return id.error();
  std::array<uint8_t, 512> buf{};
  for (;;) {
    while (auto out = at.poll_transmit())
      if (auto s = port.write_all(*out, seconds(2)); !s.ok()) return s.error();
    while (auto e = at.poll_event()) {
      if (auto* r = std::get_if<AtResponse>(&*e); r && r->id == *id) return std::move(*r);
    }
    const Instant now = steady_now();
    Duration wait = milliseconds(100);
    if (auto t = at.next_timeout()) wait = *t > now ? *t - now : Duration{0};
    auto n = port.read_some(buf, wait);
    if (!n.ok()) return n.error();
    if (*n > 0) at.handle_bytes(steady_now(), ByteView(buf.data(), *n));
    at.handle_timeout(steady_now());
  }
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

Result<ModemReport> query_modem(SerialPort& port, Duration timeout) {
  AtEngine at;
  ModemReport report;
  const Instant deadline = steady_now() + timeout;
  bool answered = false;
  while (!answered && steady_now() < deadline) {
    auto r = run(port, at, a76xx::at_sync());
    if (!r.ok()) return r.error();
    answered = r->result != AtResult::timeout;
  }
  if (!answered) return Error{Errc::timeout, "the modem does not answer AT"};
  (void)run(port, at, a76xx::echo_off());
  (void)run(port, at, a76xx::verbose_errors());
  if (auto r = run(port, at, AtCommand("AT+CGMM", seconds(1)));
      r.ok() && r->ok() && !r->lines.empty())
    report.model = r->lines.front();
  if (auto r = run(port, at, a76xx::query_sim()); r.ok()) report.sim = a76xx::sim_state_of(*r);
  if (auto r = run(port, at, a76xx::query_signal()); r.ok())
    for (const auto& l : r->lines)
      if (auto s = a76xx::parse_csq(l)) report.signal = s;
  if (auto r = run(port, at, a76xx::query_operator()); r.ok())
    for (const auto& l : r->lines)
      if (auto op = a76xx::parse_cops(l)) report.op = op;
  a76xx::ModemStatus st;
  for (auto cmd : {a76xx::query_cereg(), a76xx::query_cgreg(), a76xx::query_creg()}) {
    auto r = run(port, at, cmd);
    if (!r.ok()) continue;
    for (const auto& l : r->lines) {
      if (auto reg = a76xx::parse_registration(l, true)) {
        auto& slot = reg->domain == a76xx::RegDomain::eps    ? st.cereg
                     : reg->domain == a76xx::RegDomain::gprs ? st.cgreg
                                                             : st.creg;
        slot = reg;
      }
    }
  }
  auto reg = a76xx::data_registration(st);
  if (reg) report.registration = reg->stat;
  if (report.op && report.op->act) {
    report.technology = a76xx::technology_name(*report.op->act);
  } else if (reg && reg->act) {
    report.technology = a76xx::technology_name(*reg->act);
  }
  return report;
}

std::string to_json(const ModemReport& r) {
  std::string out = "{\"model\":" + (r.model.empty() ? "null" : quoted(r.model));
  out += ",\"sim\":" + quoted(a76xx::to_string(r.sim));
  if (r.signal && r.signal->dbm) {
    out += ",\"signal_dbm\":" + std::to_string(*r.signal->dbm);
    out += ",\"bars\":" + std::to_string(r.signal->bars);
  } else {
    out += ",\"signal_dbm\":null,\"bars\":0";
  }
  out += ",\"operator\":" + (r.op && !r.op->name.empty() ? quoted(r.op->name) : "null");
  out += ",\"technology\":" + (r.technology.empty() ? "null" : quoted(r.technology));
  out += ",\"registration\":" + quoted(a76xx::to_string(r.registration));
  return out + "}";
}

}  // namespace cellrtc::modem::posix
