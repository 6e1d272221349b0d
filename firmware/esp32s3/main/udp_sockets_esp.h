// The publisher's UDP sockets on lwIP (BSD sockets API of ESP-IDF v5.4), and the watcher task
// whose select() covers them: when one holds datagrams it wakes the loop (sockets_readable) and
// waits until the loop has read them before it selects again, so the inbox never fills with
// wake-ups. Only the loop task touches SessionSockets; the watcher sees a copy of the handles.
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
  void set_handles(std::vector<int> handles);
  // The loop read what was there: select again.
  void rearm();

 private:
  static void task(void* self);

  LoopQueue& loop_;
  SemaphoreHandle_t lock_;
  std::vector<int> handles_;  // under lock_
  TaskHandle_t task_ = nullptr;
};

}  // namespace cellrtc::firmware::esp
