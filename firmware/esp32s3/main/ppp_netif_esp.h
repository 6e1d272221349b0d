// The PPP network interface on esp_netif (lwIP's PPPoS) with a driver of our own: frames lwIP
// sends go to the app's inbox (the supervisor writes them to the modem, raw or on a CMUX
// channel), frames from the modem come in through esp_netif_receive(). Address and PPP status
// events become netif up/down for the app.
#pragma once

#include "esp_event.h"
#include "esp_netif.h"
#include "firmware/app/ports.h"
#include "loop_queue.h"

namespace cellrtc::firmware::esp {

class EspPppNetif final : public PppNetif {
 public:
  explicit EspPppNetif(LoopQueue& queue) : queue_(queue) {}
  // Creates the interface (esp_netif_init and the default event loop must be up) with the
  // APN's credentials for PAP/CHAP.
  esp_err_t init(const char* user, const char* password);

  void start() override;
  void stop() override;
  void input(ByteView frame_bytes) override;

 private:
  struct Driver {
    esp_netif_driver_base_t base;
    EspPppNetif* self;
  };
  static esp_err_t post_attach(esp_netif_t* netif, void* args);
  static esp_err_t transmit(void* handle, void* buffer, size_t len);
  static void on_ip_event(void* arg, esp_event_base_t base, int32_t id, void* data);
  static void on_ppp_status(void* arg, esp_event_base_t base, int32_t id, void* data);

  LoopQueue& queue_;
  esp_netif_t* netif_ = nullptr;
  Driver driver_{};
  bool running_ = false;
};

}  // namespace cellrtc::firmware::esp
