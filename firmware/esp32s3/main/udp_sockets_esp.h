// The publisher's UDP sockets on lwIP (BSD sockets API of ESP-IDF v5.4), and the watcher task
// whose select() covers the session's sockets (UDP, and the TCP connections of
// tcp_sockets_esp.h: readable, and writable while one connects or has bytes queued): when one is
// ready it wakes the loop (sockets_readable) and waits until the loop has read them before it
// selects again, so the inbox never fills with wake-ups. Only the loop task touches
// SessionSockets; the watcher sees a copy of its watch set, given when it changes.
#pragma once

#include <vector>

#include "firmware/app/session_sockets.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "loop_queue.h"

namespace cellrtc::firmware::esp {

class LwipDatagramSockets final : public DatagramSockets {
 public:
  Result<Bound> open(const SocketAddress& local) override;
  Status send(int handle, const SocketAddress& to, ByteView data) override;
  std::optional<Received> receive(int handle, std::span<uint8_t> buffer) override;
  void close(int handle) override;
};

class SocketWatcher {
 public:
  explicit SocketWatcher(LoopQueue& loop) : loop_(loop), lock_(xSemaphoreCreateMutex()) {}
  bool start();
  // The loop: the sockets to watch now.
  void set(WatchSet sockets);
  // The loop read what was there: select again.
  void rearm();

 private:
  static void task(void* self);

  LoopQueue& loop_;
  SemaphoreHandle_t lock_;
  WatchSet sockets_;  // under lock_
  TaskHandle_t task_ = nullptr;
};

}  // namespace cellrtc::firmware::esp
