// The publisher's HTTP requests on esp_http_client (ESP-IDF v5.4), in a task of their own so a
// slow server never stalls the loop: one request at a time, so answers come back in the order
// asked. The response is gathered by firmware/app's ResponseCollector under the WHIP limits;
// each finished request wakes the loop with an http_done event. cancel_all (the network is
// gone) drops what is queued and what has finished, and aborts the request being performed by
// shutting its socket down (esp_http_client_get_socket, ESP-IDF v5.4.4+ and v5.5.3+; before
// those, lwIP aborts the connection when PPP loses its address, or the request's timeout ends
// it, and its answer is dropped).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "firmware/app/request_runner.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "loop_queue.h"

namespace cellrtc::firmware::esp {

class EspRequestRunner final : public RequestRunner {
 public:
  // `ca_pem`: the server's CA (PEM, NUL-terminated, outlives the runner), or null for the
  // ESP x509 certificate bundle. The TURN names of a WHIP answer's Link headers and of
  // `turn_urls` are looked up on this task, before the loop gets the answer.
  EspRequestRunner(LoopQueue& loop, whip::WhipLimits limits, const char* ca_pem,
                   std::vector<std::string> turn_urls);
  // Starts the task (after esp_netif_init).
  bool start();

  bool submit(const streamer::PendingRequest& request) override;
  std::optional<CompletedRequest> poll_completed() override;
  // From the loop task.
  void cancel_all() override;

  // What the HTTP task's event handler records of the request being performed.
  void on_connected(int socket, uint32_t generation);
  void on_disconnected();

 private:
  // A request and the cancellation generation it belongs to: anything of an older generation
  // is not performed, and its answer is not given back.
  struct Job {
    streamer::PendingRequest request;
    uint32_t generation;
  };
  struct Finished {
    CompletedRequest done;
    uint32_t generation;
  };
  static void task(void* self);
  CompletedRequest perform(const Job& job);

  LoopQueue& loop_;
  whip::WhipLimits limits_;
  const char* ca_pem_;
  const std::vector<std::string> turn_urls_;
  QueueHandle_t todo_;  // Job*
  QueueHandle_t done_;  // Finished*
  std::atomic<uint32_t> generation_{0};
  // The socket of the request being performed (-1: none): set once it is connected, cleared
  // before esp_http_client closes it, so cancel_all shuts down only a socket still open.
  std::mutex inflight_mutex_;
  int inflight_socket_ = -1;
};

}  // namespace cellrtc::firmware::esp
