// The A76xx response parsers on arbitrary lines: each input is split into lines and every line
// goes through every parser and the URC folder. Beyond memory safety it checks their contract:
// a parsed +CSQ has dBm only for known rssi values and bars within 0..5, registrations carry a
// status the enum knows, field splitting never yields more than 33 fields.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "modem/a76xx.h"

namespace cellrtc::modem::a76xx {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void run_line(std::string_view line, ModemStatus& st) {
  if (auto s = parse_csq(line)) {
    check(s->bars >= 0 && s->bars <= 5);
    check(s->known() == ((s->rssi >= 0 && s->rssi <= 31) || (s->rssi >= 100 && s->rssi <= 191)));
    if (s->dbm) check(*s->dbm >= -116 && *s->dbm <= -25);
  }
  for (bool read : {true, false}) {
    if (auto r = parse_registration(line, read)) {
      check(static_cast<int>(r->stat) <= 10);
      (void)to_string(r->stat);
      if (r->act) (void)technology_name(*r->act);
    }
  }
  if (auto op = parse_cops(line)) {
    check(op->mode >= 0 && op->mode <= 4);
    if (op->act) (void)technology_name(*op->act);
  }
  if (auto sim = parse_cpin(line)) (void)to_string(*sim);
  (void)parse_cgev(line);
  for (std::string_view prefix : {"+CSQ:", "+COPS:", "+CEREG:", ""})
    if (auto f = fields(line, prefix)) check(f->size() <= 33);
  (void)apply_urc(st, line);
  (void)data_registration(st);
  AtResponse r;
  r.result = AtResult::cme_error;
  r.error_text = std::string(line);
  (void)cme_code(r);
  (void)sim_state_of(r);
}

}  // namespace
}  // namespace cellrtc::modem::a76xx

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cellrtc::modem::a76xx::ModemStatus st;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\n') {
      cellrtc::modem::a76xx::run_line(in.substr(start, i - start), st);
      start = i + 1;
    }
  }
  return 0;
}
