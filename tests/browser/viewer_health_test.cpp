// The firmware's own telemetry on the viewer page: the ESP32 app logic (FirmwareApp,
// PublisherStreamer; host stand-ins for the IDF glue, host_firmware.h) publishes to the real
// cellrtc-server, its telemetry carries the `device` object (docs/protocol.md) from the heap
// monitor, and the page shows free heap, its low-water mark and PSRAM beside the signal bars;
// the bench firmware has no modem, so the signal bars stay hidden.
#include <gtest/gtest.h>

#include <filesystem>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/host_firmware.h"
#include "browser/viewer_driver.h"

namespace cellrtc::browser {
namespace {

using namespace std::chrono_literals;

TEST(ViewerHealthTest, ShowsTheFirmwaresFreeHeapAndPsram) {
  if (!std::filesystem::exists(server_binary())) GTEST_SKIP() << "cellrtc-server not built";
  std::string error;
  auto server = ServerProcess::start({.device_id = "cam1"}, &error);
  ASSERT_TRUE(server) << error;
  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  firmware::HeapStats heap;
  heap.internal_free = 181'000;
  heap.internal_min_free = 150'000;
  heap.psram_free = 7'900'000;
  auto firmware = HostFirmware::start(
      {.whip_url = server->url("/whip"), .token = server->options().device_token, .heap = heap},
      &error);
  ASSERT_TRUE(firmware) << error;
  ASSERT_TRUE(server->wait_device_state("cam1", "live", 20s)) << server->log_tail();
  ASSERT_TRUE(
      driver->request({{"type", "open"}, {"url", server->url("/?device=cam1")}, {"viewers", 1}}))
      << driver->last_error();
  auto shown = wait_viewer(*driver, 0, 20s, [](const nlohmann::json& a) {
    return !a["overlay"].value("health", "").empty();
  });
  ASSERT_TRUE(shown) << driver->last_error();
  const auto& device = (*shown)["stats"]["telemetry"]["device"];
  ASSERT_TRUE(device.is_object()) << shown->dump();
  EXPECT_EQ(device.value("heap_free", 0), 181000) << shown->dump();
  EXPECT_EQ((*shown)["overlay"].value("health", ""),
            "Free heap 181 KB, Lowest 150 KB, PSRAM 7.9 MB")
      << shown->dump();
  EXPECT_EQ((*shown)["overlay"].value("signal", "?"), "") << shown->dump();  // no modem
  driver->close();
}

}  // namespace
}  // namespace cellrtc::browser
