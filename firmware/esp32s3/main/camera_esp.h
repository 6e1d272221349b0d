// Camera port on esp32-camera: OV2640, JPEG, frame buffers in PSRAM, CAMERA_GRAB_LATEST. A task
// of its own waits for requests and blocks in esp_camera_fb_get(); the frame buffer itself is
// lent to the app (no copy) and returned with esp_camera_fb_return() when its lease ends.
#pragma once

#include <array>

#include "esp_camera.h"
#include "firmware/app/camera_pins.h"
#include "firmware/app/ports.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "loop_queue.h"

namespace cellrtc::firmware::esp {

class EspCamera final : public Camera {
 public:
  explicit EspCamera(LoopQueue& queue) : queue_(queue) {}
  esp_err_t init(const CameraPins& pins, FrameSize size, int jpeg_quality, int fb_count);

  Status apply(const CameraSettings& settings) override;
  void request_frame() override { xTaskNotifyGive(task_); }
  void release(uint32_t frame_id) override;

 private:
  static void task_main(void* self);
  void run();

  LoopQueue& queue_;
  TaskHandle_t task_ = nullptr;
  portMUX_TYPE lock_ = portMUX_INITIALIZER_UNLOCKED;
  // Frames out on loan, by id % size (fb_count <= 4, so ids never collide while lent).
  std::array<camera_fb_t*, 8> lent_{};
  uint32_t next_id_ = 1;
};

}  // namespace cellrtc::firmware::esp
