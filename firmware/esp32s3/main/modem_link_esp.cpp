#include "modem_link_esp.h"

#include "cxx_include/esp_modem_api.hpp"
#include "driver/gpio.h"
#include "esp_log.h"
#include "esp_modem_config.h"
#include "sdkconfig.h"
#if CONFIG_CELLRTC_MODEM_LINK_USB
#include "cxx_include/esp_modem_usb_api.hpp"
#include "esp_modem_usb_config.h"
#endif

namespace cellrtc::firmware::esp {
namespace {
constexpr const char* kTag = "modem";
}

EspModemLink::EspModemLink(const FirmwareConfig& config, LoopQueue& queue)
    : config_(config),
      queue_(queue),
      lock_(xSemaphoreCreateMutex()),
      gone_(xSemaphoreCreateBinary()) {}

void EspModemLink::attach(std::shared_ptr<esp_modem::DTE> dte) {
  // The error callback first: setting it re-arms the DTE's command callbacks on the primary
  // terminal, which on a one-port link would replace the read callback below.
  dte->set_error_cb([this](esp_modem::terminal_error err) {
    if (err == esp_modem::terminal_error::DEVICE_GONE) xSemaphoreGive(gone_);
  });
  // Every byte to the app's inbox; false: the DTE may reuse its buffer.
  dte->set_read_cb([this](uint8_t* data, size_t len) {
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::modem_bytes;
    e->bytes.assign(data, data + len);
    queue_.post(e);
    return false;
  });
  xSemaphoreTake(lock_, portMAX_DELAY);
  dte_ = std::move(dte);
  xSemaphoreGive(lock_);
}

esp_err_t EspModemLink::start() {
  if (config_.modem_link == ModemLinkKind::uart) {
    esp_modem_dte_config_t dte_config = ESP_MODEM_DTE_DEFAULT_CONFIG();
    dte_config.uart_config.tx_io_num = config_.uart.tx_pin;
    dte_config.uart_config.rx_io_num = config_.uart.rx_pin;
    dte_config.uart_config.rts_io_num = -1;
    dte_config.uart_config.cts_io_num = -1;
    dte_config.uart_config.flow_control = ESP_MODEM_FLOW_CONTROL_NONE;
    dte_config.uart_config.baud_rate = static_cast<int>(config_.uart.baud);
    // PPP at 921600 baud fills 4 KB in 45 ms; the loop task drains it sooner.
    dte_config.uart_config.rx_buffer_size = 8192;
    dte_config.uart_config.tx_buffer_size = 2048;
    dte_config.dte_buffer_size = 2048;
    auto dte = esp_modem::create_uart_dte(&dte_config);
    if (!dte) return ESP_FAIL;
    attach(std::move(dte));
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::modem_link_up;
    queue_.post(e);
    return ESP_OK;
  }
#if CONFIG_CELLRTC_MODEM_LINK_USB
  return xTaskCreate(&EspModemLink::usb_task_main, "modem_usb", 4096, this, 6, nullptr) == pdPASS
             ? ESP_OK
             : ESP_ERR_NO_MEM;
#else
  return ESP_ERR_NOT_SUPPORTED;
#endif
}

void EspModemLink::usb_task_main(void* self) {
  static_cast<EspModemLink*>(self)->usb_task();
}

void EspModemLink::usb_task() {
#if CONFIG_CELLRTC_MODEM_LINK_USB
  // A7670E: 1e0e:9011, AT on interface 4, the modem port on 5 (esp_modem_usb_config.h). The
  // DTE's secondary terminal is the modem port: the supervisor's AT commands and PPP both go
  // there (it takes AT commands as well as the AT port does).
  struct esp_modem_usb_term_config usb_config = ESP_MODEM_A7670_USB_CONFIG();
  usb_config.timeout_ms = 0;  // wait for the modem as long as it takes
  const esp_modem_dte_config_t dte_config = ESP_MODEM_DTE_DEFAULT_USB_CONFIG(usb_config);
  for (;;) {
    ESP_LOGI(kTag, "waiting for the USB modem");
    auto dte = esp_modem::create_usb_dte(&dte_config);  // blocks until it enumerates
    if (!dte) {
      vTaskDelay(pdMS_TO_TICKS(1000));
      continue;
    }
    // Installs the USB host library once; later DTEs reuse it.
    usb_config.install_usb_host = false;
    attach(std::move(dte));
    ESP_LOGI(kTag, "USB modem connected");
    auto* up = new LoopEvent{};
    up->kind = LoopEvent::Kind::modem_link_up;
    queue_.post(up);
    xSemaphoreTake(gone_, portMAX_DELAY);
    ESP_LOGW(kTag, "USB modem gone");
    xSemaphoreTake(lock_, portMAX_DELAY);
    dte_.reset();
    xSemaphoreGive(lock_);
    auto* down = new LoopEvent{};
    down->kind = LoopEvent::Kind::modem_link_down;
    queue_.post(down);
  }
#endif
}

void EspModemLink::write(ByteView bytes) {
  xSemaphoreTake(lock_, portMAX_DELAY);
  // A link without a modem drops the bytes: the supervisor's timers notice.
  if (dte_) dte_->write(const_cast<uint8_t*>(bytes.data()), bytes.size());
  xSemaphoreGive(lock_);
}

GpioModemPower::GpioModemPower(int power_key_pin, int reset_pin, bool active_high)
    : power_key_pin_(power_key_pin), reset_pin_(reset_pin), active_high_(active_high) {
  for (int pin : {power_key_pin_, reset_pin_}) {
    if (pin < 0) continue;
    gpio_reset_pin(static_cast<gpio_num_t>(pin));
    gpio_set_direction(static_cast<gpio_num_t>(pin), GPIO_MODE_OUTPUT);
    drive(pin, false);
  }
}

void GpioModemPower::drive(int pin, bool asserted) {
  if (pin < 0) return;
  gpio_set_level(static_cast<gpio_num_t>(pin), asserted == active_high_ ? 1 : 0);
}

void GpioModemPower::set_power_key(bool asserted) {
  drive(power_key_pin_, asserted);
}

void GpioModemPower::set_reset(bool asserted) {
  drive(reset_pin_, asserted);
}

}  // namespace cellrtc::firmware::esp
