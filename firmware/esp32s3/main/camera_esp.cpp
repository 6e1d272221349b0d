#include "camera_esp.h"

#include "esp_log.h"
#include "esp_timer.h"

namespace cellrtc::firmware::esp {
namespace {

constexpr const char* kTag = "camera";

framesize_t to_framesize(FrameSize s) {
  switch (s) {
    case FrameSize::qqvga:
      return FRAMESIZE_QQVGA;
    case FrameSize::qcif:
      return FRAMESIZE_QCIF;
    case FrameSize::hqvga:
      return FRAMESIZE_HQVGA;
    case FrameSize::qvga:
      return FRAMESIZE_QVGA;
    case FrameSize::cif:
      return FRAMESIZE_CIF;
    case FrameSize::hvga:
      return FRAMESIZE_HVGA;
    case FrameSize::vga:
      return FRAMESIZE_VGA;
    case FrameSize::svga:
      return FRAMESIZE_SVGA;
    case FrameSize::xga:
      return FRAMESIZE_XGA;
    case FrameSize::hd:
      return FRAMESIZE_HD;
    case FrameSize::sxga:
      return FRAMESIZE_SXGA;
    case FrameSize::uxga:
      return FRAMESIZE_UXGA;
  }
  return FRAMESIZE_VGA;
}

}  // namespace

esp_err_t EspCamera::init(const CameraPins& pins, FrameSize size, int jpeg_quality, int fb_count) {
  camera_config_t c{};
  c.pin_pwdn = pins.pwdn;
  c.pin_reset = pins.reset;
  c.pin_xclk = pins.xclk;
  c.pin_sccb_sda = pins.sccb_sda;
  c.pin_sccb_scl = pins.sccb_scl;
  c.pin_d0 = pins.data[0];
  c.pin_d1 = pins.data[1];
  c.pin_d2 = pins.data[2];
  c.pin_d3 = pins.data[3];
  c.pin_d4 = pins.data[4];
  c.pin_d5 = pins.data[5];
  c.pin_d6 = pins.data[6];
  c.pin_d7 = pins.data[7];
  c.pin_vsync = pins.vsync;
  c.pin_href = pins.href;
  c.pin_pclk = pins.pclk;
  c.xclk_freq_hz = static_cast<int>(pins.xclk_hz);
  c.ledc_timer = LEDC_TIMER_0;
  c.ledc_channel = LEDC_CHANNEL_0;
  c.pixel_format = PIXFORMAT_JPEG;
  // The driver sizes its JPEG buffers for the frame size given here (width x height / 5):
  // the largest size the streamer may ask for.
  c.frame_size = to_framesize(size);
  c.jpeg_quality = camera_jpeg_quality(jpeg_quality);
  c.fb_count = static_cast<size_t>(fb_count);
  c.fb_location = CAMERA_FB_IN_PSRAM;
  c.grab_mode = CAMERA_GRAB_LATEST;  // the newest frame wins, as on the wire
  esp_err_t err = esp_camera_init(&c);
  if (err != ESP_OK) return err;
  xTaskCreatePinnedToCore(&EspCamera::task_main, "camera", 4096, this, 5, &task_, 1);
  return ESP_OK;
}

Status EspCamera::apply(const CameraSettings& settings) {
  sensor_t* s = esp_camera_sensor_get();
  if (!s) return Error{Errc::invalid_state, "no camera sensor"};
  if (s->set_framesize(s, to_framesize(settings.size)) != 0)
    return Error{Errc::invalid_argument, "the sensor refused the frame size"};
  if (s->set_quality(s, camera_jpeg_quality(settings.jpeg_quality)) != 0)
    return Error{Errc::invalid_argument, "the sensor refused the JPEG quality"};
  return {};
}

void EspCamera::release(uint32_t frame_id) {
  camera_fb_t* fb = nullptr;
  portENTER_CRITICAL(&lock_);
  std::swap(fb, lent_[frame_id % lent_.size()]);
  portEXIT_CRITICAL(&lock_);
  if (fb) esp_camera_fb_return(fb);
}

void EspCamera::task_main(void* self) {
  static_cast<EspCamera*>(self)->run();
}

void EspCamera::run() {
  for (;;) {
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
    camera_fb_t* fb = esp_camera_fb_get();
    auto* e = new LoopEvent{};
    if (!fb) {
      e->kind = LoopEvent::Kind::camera_failed;
      e->why = "esp_camera_fb_get returned no frame";
      queue_.post(e);
      continue;
    }
    portENTER_CRITICAL(&lock_);
    const uint32_t id = next_id_++;
    lent_[id % lent_.size()] = fb;
    portEXIT_CRITICAL(&lock_);
    e->kind = LoopEvent::Kind::camera_frame;
    e->frame =
        CameraFrame{id, ByteView(fb->buf, fb->len), static_cast<uint16_t>(fb->width),
                    static_cast<uint16_t>(fb->height), Instant::from_us(esp_timer_get_time())};
    if (!queue_.post(e)) {
      release(id);  // the loop is behind: this frame is not wanted
      continue;
    }
    ESP_LOGD(kTag, "frame %u: %u bytes", static_cast<unsigned>(id), static_cast<unsigned>(fb->len));
  }
}

}  // namespace cellrtc::firmware::esp
