// The AT line parser and engine on arbitrary modem output: the first byte picks a command set
// and chunking, the rest is what the modem "sent". Beyond memory safety it checks the engine's
// contract: no line holds CR, LF or a control byte, none is longer than max_line, responses
// keep at most max_response_lines, the queue stays bounded and every submitted command ends.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "modem/at_engine.h"

namespace cellrtc::modem {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_line(std::string_view line, size_t max_line) {
  check(!line.empty() && line.size() <= max_line);
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    check((u >= 0x20 && u <= 0x7E) || u == '\t');
  }
}

void run(ByteView input) {
  if (input.empty()) return;
  const uint8_t mode = input[0];
  input = input.subspan(1);
  AtEngineConfig config;
  config.max_line = 64;
  config.max_queue = 4;
  config.max_response_lines = 8;
  AtEngine at(config);
  Instant now;
  uint64_t submitted = 0;
  uint64_t finished = 0;
  auto submit = [&](AtCommand c) {
    if (at.submit(now, std::move(c)).ok()) ++submitted;
  };
  const size_t chunk = 1 + (mode & 0x0F);
  size_t pos = 0;
  while (pos < input.size()) {
    if (at.idle()) {
      switch ((pos / chunk + mode) % 4) {
        case 0:
          submit({"AT+CSQ", seconds(1), "+CSQ:"});
          break;
        case 1:
          submit({"ATD*99#", seconds(30), "", true});
          break;
        case 2: {
          AtCommand esc{"+++", seconds(1)};
          esc.raw = true;
          esc.guard = seconds(1);
          submit(esc);
          break;
        }
        default:
          submit({"AT+CREG?", seconds(1), "+CREG:"});
          break;
      }
    }
    const size_t n = std::min(chunk, input.size() - pos);
    at.handle_bytes(now, input.subspan(pos, n));
    pos += n;
    if (mode & 0x80) {
      now += milliseconds(700);
      at.handle_timeout(now);
    }
    if (at.in_data_mode() && (mode & 0x40)) at.send_data(now, input.subspan(0, 1));
    while (auto t = at.poll_transmit())
      check(!t->empty());
    while (at.poll_data()) {
    }
    while (auto e = at.poll_event()) {
      if (auto* r = std::get_if<AtResponse>(&*e)) {
        ++finished;
        check(r->lines.size() <= config.max_response_lines);
        for (const auto& l : r->lines)
          check_line(l, config.max_line);
      } else if (auto* u = std::get_if<AtUrc>(&*e)) {
        check_line(u->line, config.max_line);
      }
    }
    check(at.queued() <= config.max_queue);
  }
  at.abort_all();
  while (auto e = at.poll_event())
    if (std::holds_alternative<AtResponse>(*e)) ++finished;
  check(finished == submitted);
  check(at.idle() && !at.in_data_mode());
}

}  // namespace
}  // namespace cellrtc::modem

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::modem::run(cellrtc::ByteView(data, size));
  return 0;
}
