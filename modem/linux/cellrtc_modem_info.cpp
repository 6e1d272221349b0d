// cellrtc-modem-info --modem PORT [--baud 115200] [--timeout-ms 10000]
// PORT: the modem's AT port, e.g. /dev/serial/by-id/...-if04-port0 (docs/cellular.md).
// Prints the modem's signal, operator, technology and registration as one JSON line. The
// device agent runs the same query (modem_query.h) for its telemetry.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "modem/linux/modem_query.h"

int main(int argc, char** argv) {
  std::string path;
  uint32_t baud = 0;
  long timeout_ms = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--modem") == 0) {
      path = argv[i + 1];
    } else if (std::strcmp(argv[i], "--baud") == 0) {
      baud = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    } else if (std::strcmp(argv[i], "--timeout-ms") == 0) {
      timeout_ms = std::strtol(argv[i + 1], nullptr, 10);
    }
  }
  if (path.empty()) {
    std::fprintf(stderr,
                 "usage: %s --modem PORT [--baud 115200] [--timeout-ms 10000]\n"
                 "  PORT: the modem's AT port, e.g. /dev/serial/by-id/...-if04-port0\n",
                 argv[0]);
    return 2;
  }
  auto port = cellrtc::modem::posix::SerialPort::open(path, baud);
  if (!port.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), port.error().reason);
    return 1;
  }
  auto report = cellrtc::modem::posix::query_modem(*port, cellrtc::milliseconds(timeout_ms));
  if (!report.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), report.error().reason);
    return 1;
  }
  std::printf("%s\n", cellrtc::modem::posix::to_json(*report).c_str());
  return 0;
}
