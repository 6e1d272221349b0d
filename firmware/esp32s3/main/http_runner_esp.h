// The publisher's HTTP requests on esp_http_client (ESP-IDF v5.4), in a task of their own so a
// slow server never stalls the loop: one request at a time, so answers come back in the order
// asked. The response is gathered by firmware/app's ResponseCollector under the WHIP limits;
// each finished request wakes the loop with an http_done event.
#pragma once

#include <optional>

#include "firmware/app/request_runner.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "loop_queue.h"

namespace cellrtc::firmware::esp {

class EspRequestRunner final : public RequestRunner {
 public:
  // `ca_pem`: the server's CA (PEM, NUL-terminated, outlives the runner), or null for the
  // ESP x509 certificate bundle.
  EspRequestRunner(LoopQueue& loop, whip::WhipLimits limits, const char* ca_pem);
  // Starts the task (after esp_netif_init).
  bool start();

  bool submit(const streamer::PendingRequest& request) override;
  std::optional<CompletedRequest> poll_completed() override;

 private:
  static void task(void* self);
  CompletedRequest perform(const streamer::PendingRequest& request);

  LoopQueue& loop_;
  whip::WhipLimits limits_;
  const char* ca_pem_;
  QueueHandle_t todo_;  // streamer::PendingRequest*
  QueueHandle_t done_;  // CompletedRequest*
};

}  // namespace cellrtc::firmware::esp
