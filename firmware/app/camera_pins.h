// Camera pin sets of the boards the firmware knows, as data: the GPIO numbers esp32-camera's
// camera_config_t wants (pin_d0..pin_d7 are the sensor's Y2..Y9 lines), per board. The glue
// copies the chosen set into camera_config_t; nothing here touches hardware.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cellrtc::firmware {

enum class CameraBoard : uint8_t {
  xiao_esp32s3_sense,  // Seeed Studio XIAO ESP32S3 Sense (OV2640), the default
  esp32s3_eye,         // Espressif ESP32-S3-EYE (OV2640)
  m5camera,            // M5Stack M5Camera (OV2640, PSRAM version); an ESP32, not an S3
};

// -1: the line is not wired (the sensor's power-down or reset then stays at its default).
struct CameraPins {
  int pwdn = -1;
  int reset = -1;
  int xclk = -1;
  int sccb_sda = -1;
  int sccb_scl = -1;
  std::array<int, 8> data{};  // d0 (Y2) .. d7 (Y9)
  int vsync = -1;
  int href = -1;
  int pclk = -1;
  uint32_t xclk_hz = 20'000'000;  // OV2640 XVCLK, 6..27 MHz (OV2640 datasheet, table 8)
};

const CameraPins& camera_pins(CameraBoard board);
const char* to_string(CameraBoard board);
// "xiao-esp32s3-sense", "esp32s3-eye", "m5camera" (as Kconfig names them).
std::optional<CameraBoard> parse_camera_board(std::string_view name);
// Whether the board's SoC is the ESP32-S3 (USB host for the modem); false: UART only.
bool board_is_esp32s3(CameraBoard board);

}  // namespace cellrtc::firmware
