// Modem telemetry for the device's `telemetry` messages (docs/protocol.md: "modem"): a thread
// that asks the modem's AT port every `interval` (modem/linux/modem_query.h: signal, operator,
// technology) and hands each answer, or the failure, to a callback on that thread. The data
// path stays with the OS (pppd or ModemManager on another port): this only reads.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/common/time.h"
#include "core/media/control_message.h"

namespace cellrtc::device {

struct ModemPollerConfig {
  std::string port;  // the AT port, e.g. /dev/serial/by-id/...-if04-port0 (A7670E)
  uint32_t baud = 115200;
  Duration interval = seconds(30);
  Duration timeout = seconds(10);  // one query
};

class ModemPoller {
 public:
  // `telemetry` absent: the query failed, `error` says why.
  using Callback =
      std::function<void(std::optional<media::ModemTelemetry> telemetry, const std::string& error)>;

  // Starts querying at once. The callback runs on the poller's thread.
  ModemPoller(ModemPollerConfig config, Callback callback);
  // Stops the thread (a query in progress finishes first, within its timeout).
  ~ModemPoller();
  ModemPoller(const ModemPoller&) = delete;
  ModemPoller& operator=(const ModemPoller&) = delete;

  // One query, on the calling thread.
  static std::optional<media::ModemTelemetry> query(const ModemPollerConfig& config,
                                                    std::string* error);

 private:
  void run();

  ModemPollerConfig config_;
  Callback callback_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace cellrtc::device
