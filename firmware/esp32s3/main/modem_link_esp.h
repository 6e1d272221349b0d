// The byte link to the modem on esp_modem's DTE: the USB CDC-ACM terminal of
// espressif/esp_modem_usb_dte (usb_host_cdc_acm underneath) with the A7670's USB ids, or the
// UART terminal. Only the DTE is used, as a byte pipe: the AT dialogue, CMUX and the dial are
// the portable ConnectionSupervisor's (modem/supervisor.h), not esp_modem's DCE. Also the GPIO
// ModemPower for the PWRKEY and RESET lines.
#pragma once

#include <memory>

#include "cxx_include/esp_modem_dte.hpp"
#include "firmware/app/firmware_config.h"
#include "firmware/app/ports.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "loop_queue.h"
#include "modem/supervisor.h"

namespace cellrtc::firmware::esp {

class EspModemLink final : public ModemLink {
 public:
  EspModemLink(const FirmwareConfig& config, LoopQueue& queue);
  // USB: starts the task that waits for the modem to enumerate (and again after every
  // disconnection). UART: opens the port at once.
  esp_err_t start();
  void write(ByteView bytes) override;

 private:
  static void usb_task_main(void* self);
  void usb_task();
  void attach(std::shared_ptr<esp_modem::DTE> dte);

  FirmwareConfig config_;
  LoopQueue& queue_;
  SemaphoreHandle_t lock_;
  SemaphoreHandle_t gone_;
  std::shared_ptr<esp_modem::DTE> dte_;
};

class GpioModemPower final : public modem::ModemPower {
 public:
  GpioModemPower(int power_key_pin, int reset_pin, bool active_high);
  void set_power_key(bool asserted) override;
  void set_reset(bool asserted) override;

 private:
  void drive(int pin, bool asserted);
  int power_key_pin_;
  int reset_pin_;
  bool active_high_;
};

}  // namespace cellrtc::firmware::esp
