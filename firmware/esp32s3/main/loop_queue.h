// The app's inbox: driver callbacks and tasks (USB, UART, lwIP, camera) post here, and only the
// loop task touches FirmwareApp. A bounded FreeRTOS queue of owned events; a full queue drops
// the new event and counts it (the supervisor and PPP recover from lost bytes, as on a noisy
// line).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"
#include "esp_netif_ip_addr.h"
#include "firmware/app/ports.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

namespace cellrtc::firmware::esp {

struct LoopEvent {
  enum class Kind : uint8_t {
    modem_bytes,
    modem_link_up,
    modem_link_down,
    ppp_output,
    netif_up,
    netif_down,  // flag: the PPP peer stopped answering
    camera_frame,
    camera_failed,
    http_done,         // the HTTP task finished a request (RequestRunner::poll_completed)
    sockets_readable,  // a session's socket is readable, or a connection writable
  };
  Kind kind;
  Bytes bytes;
  bool flag = false;
  IpAddress address;  // netif_up: the interface's IPv4 address
  CameraFrame frame;
  const char* why = "";
};

// esp_ip4_addr_t holds the address as lwIP does, in network byte order.
inline IpAddress ipv4_of(const esp_ip4_addr_t& ip) {
  uint8_t b[4];
  std::memcpy(b, &ip.addr, sizeof(b));
  return IpAddress::v4(b[0], b[1], b[2], b[3]);
}

class LoopQueue {
 public:
  explicit LoopQueue(UBaseType_t depth) : queue_(xQueueCreate(depth, sizeof(LoopEvent*))) {}
  // From any task; never blocks. False when the queue was full (the event is deleted).
  bool post(LoopEvent* e) {
    if (xQueueSend(queue_, &e, 0) == pdTRUE) return true;
    delete e;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // The loop task: the next event, or null after `wait`.
  LoopEvent* take(TickType_t wait) {
    LoopEvent* e = nullptr;
    return xQueueReceive(queue_, &e, wait) == pdTRUE ? e : nullptr;
  }
  uint32_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  QueueHandle_t queue_;
  std::atomic<uint32_t> dropped_{0};
};

}  // namespace cellrtc::firmware::esp
