#include "device/modem_poller.h"

#include "modem/linux/modem_query.h"
#include "modem/linux/serial_port.h"

namespace cellrtc::device {

ModemPoller::ModemPoller(ModemPollerConfig config, Callback callback)
    : config_(std::move(config)), callback_(std::move(callback)) {
  thread_ = std::thread([this] { run(); });
}

ModemPoller::~ModemPoller() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::optional<media::ModemTelemetry> ModemPoller::query(const ModemPollerConfig& config,
                                                        std::string* error) {
  // The port is opened per query: a modem that re-enumerates (after a reset) comes back.
  auto port = modem::posix::SerialPort::open(config.port, config.baud);
  if (!port) {
    *error = config.port + ": " + port.error().reason;
    return std::nullopt;
  }
  auto report = modem::posix::query_modem(*port, config.timeout);
  if (!report) {
    *error = config.port + ": " + report.error().reason;
    return std::nullopt;
  }
  media::ModemTelemetry t;
  if (report->signal && report->signal->dbm) {
    t.rssi_dbm = *report->signal->dbm;
    t.bars = report->signal->bars;
  }
  if (report->op) t.operator_name = report->op->name;
  t.tech = report->technology;
  return t;
}

void ModemPoller::run() {
  for (;;) {
    std::string error;
    auto telemetry = query(config_, &error);
    callback_(std::move(telemetry), error);
    std::unique_lock<std::mutex> lock(mutex_);
    if (wake_.wait_for(lock, config_.interval, [this] { return stop_; })) return;
  }
}

}  // namespace cellrtc::device
