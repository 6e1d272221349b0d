// One-shot telemetry from a modem's AT port on Linux, for the device agent (cellrtc-device
// --modem PORT; on an A7670E the AT port is USB interface 4, /dev/serial/by-id/...-if04-port0,
// see docs/cellular.md): signal, operator, technology, registration, SIM state. The data path
// stays with the OS (ModemManager or pppd on the modem's other port), so this only reads.
#pragma once

#include <optional>
#include <string>

#include "core/common/result.h"
#include "core/common/time.h"
#include "modem/a76xx.h"
#include "modem/linux/serial_port.h"

namespace cellrtc::modem::posix {

struct ModemReport {
  std::string model;  // AT+CGMM, e.g. "A7670E-LASE"
  a76xx::SimState sim = a76xx::SimState::unknown;
  std::optional<a76xx::Signal> signal;
  std::optional<a76xx::Operator> op;
  a76xx::RegStatus registration = a76xx::RegStatus::unknown;
  std::string technology;  // "LTE", "EDGE", ... from +COPS or the registration's AcT
};

// Runs AT, ATE0, AT+CMEE=2, AT+CGMM, AT+CPIN?, AT+CSQ, AT+COPS?, AT+CEREG?, AT+CGREG?,
// AT+CREG? over `port` (the port's echo setting is changed to off). Fails when the modem does
// not answer AT within `timeout`.
Result<ModemReport> query_modem(SerialPort& port, Duration timeout = seconds(10));

// {"model":..,"sim":..,"signal_dbm":..,"bars":..,"operator":..,"technology":..,
//  "registration":..} with null for what is unknown.
std::string to_json(const ModemReport& report);

}  // namespace cellrtc::modem::posix
