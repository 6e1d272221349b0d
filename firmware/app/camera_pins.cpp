#include "firmware/app/camera_pins.h"

namespace cellrtc::firmware {
namespace {

// Seeed Studio, "Getting Started with XIAO ESP32S3 (Sense)", camera pin definition (wiki page
// XIAO_ESP32S3_Sense_Getting_Started, "Pin definition" for the OV2640 expansion board): XMCLK
// GPIO10, SDA GPIO40, SCL GPIO39, Y2..Y9 GPIO15, 17, 18, 16, 14, 12, 11, 48, VSYNC GPIO38,
// HREF GPIO47, PCLK GPIO13; no power-down or reset line. The original device's boot log agrees
// on the SCCB pins ("sccb: pin_sda 40 pin_scl 39").
constexpr CameraPins kXiaoSense{
    .pwdn = -1,
    .reset = -1,
    .xclk = 10,
    .sccb_sda = 40,
    .sccb_scl = 39,
    .data = {15, 17, 18, 16, 14, 12, 11, 48},
    .vsync = 38,
    .href = 47,
    .pclk = 13,
};

// Espressif, ESP32-S3-EYE schematic (ESP32-S3-EYE-MB V2.2) and its "Getting Started" guide in
// esp-who (docs/en/get-started/ESP32-S3-EYE_Getting_Started_Guide.md, camera interface table):
// XCLK GPIO15, SIOD GPIO4, SIOC GPIO5, Y2..Y9 GPIO11, 9, 8, 10, 12, 18, 17, 16, VSYNC GPIO6,
// HREF GPIO7, PCLK GPIO13; power-down and reset not wired to the SoC.
constexpr CameraPins kEsp32S3Eye{
    .pwdn = -1,
    .reset = -1,
    .xclk = 15,
    .sccb_sda = 4,
    .sccb_scl = 5,
    .data = {11, 9, 8, 10, 12, 18, 17, 16},
    .vsync = 6,
    .href = 7,
    .pclk = 13,
};

// M5Stack, M5Camera (PSRAM version, "M5Camera" docs page, pin map; the same set as
// CAMERA_MODEL_M5STACK_PSRAM in the Arduino-ESP32 CameraWebServer example): RESET GPIO15,
// XCLK GPIO27, SIOD GPIO25, SIOC GPIO23, Y2..Y9 GPIO32, 35, 34, 5, 39, 18, 36, 19, VSYNC
// GPIO22, HREF GPIO26, PCLK GPIO21. An ESP32 (Xtensa LX6): GPIO 34..39 are inputs only, which
// the data lines are; no USB host, so the modem goes on the UART.
constexpr CameraPins kM5Camera{
    .pwdn = -1,
    .reset = 15,
    .xclk = 27,
    .sccb_sda = 25,
    .sccb_scl = 23,
    .data = {32, 35, 34, 5, 39, 18, 36, 19},
    .vsync = 22,
    .href = 26,
    .pclk = 21,
};

}  // namespace

const CameraPins& camera_pins(CameraBoard board) {
  switch (board) {
    case CameraBoard::esp32s3_eye:
      return kEsp32S3Eye;
    case CameraBoard::m5camera:
      return kM5Camera;
    case CameraBoard::xiao_esp32s3_sense:
      break;
  }
  return kXiaoSense;
}

const char* to_string(CameraBoard board) {
  switch (board) {
    case CameraBoard::xiao_esp32s3_sense:
      return "xiao-esp32s3-sense";
    case CameraBoard::esp32s3_eye:
      return "esp32s3-eye";
    case CameraBoard::m5camera:
      return "m5camera";
  }
  return "?";
}

std::optional<CameraBoard> parse_camera_board(std::string_view name) {
  for (CameraBoard b :
       {CameraBoard::xiao_esp32s3_sense, CameraBoard::esp32s3_eye, CameraBoard::m5camera})
    if (name == to_string(b)) return b;
  return std::nullopt;
}

bool board_is_esp32s3(CameraBoard board) {
  return board != CameraBoard::m5camera;
}

}  // namespace cellrtc::firmware
