// The README's run command, as a user runs it: scripts/run.sh builds and starts cellrtc-server
// and a test-pattern cellrtc-device and prints the viewer URL; the URL it printed, opened in
// headless Chromium, shows frames; Ctrl-C (SIGINT to the script) stops both processes.
// The test reuses this build (--preset of this build directory, --no-setup: the suite's setup
// already ran scripts/setup.sh) and picks free ports; everything else is the script unchanged.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "browser/browser_test_util.h"
#include "browser/cellrtc_processes.h"
#include "browser/viewer_driver.h"
#include "interop/child_process.h"
#include "support/build_paths.h"

namespace cellrtc::browser {
namespace {

using namespace std::chrono_literals;

// Processes whose command line mentions `needle` (other than this test's own).
int processes_mentioning(const std::string& needle) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) ++count;
  }
  return count;
}

TEST(RunScript, PrintsAViewerUrlThatShowsFramesAndStopsOnCtrlC) {
  if (!std::filesystem::exists(server_binary()) || !std::filesystem::exists(device_binary())) {
    GTEST_SKIP() << "cellrtc-server or cellrtc-device not built";
  }
  auto port = free_loopback_port();
  auto udp_port = free_loopback_port();
  ASSERT_TRUE(port && udp_port && *port != *udp_port);
  const std::string preset =
      std::filesystem::path(cellrtc::test_paths::binary_dir()).filename().string();
  const std::string port_text = std::to_string(*port);

  std::string error;
  auto script = interop::ChildProcess::spawn(
      {.program = "/bin/bash",
       .args = {cellrtc::test_paths::source_dir() + "/scripts/run.sh", "--preset", preset,
                "--no-setup", "--port", port_text, "--udp-port", std::to_string(*udp_port)},
       .log_path = cellrtc::test_paths::binary_dir() + "/tests/run_script.log",
       .stop_grace = 5000ms},
      &error);
  ASSERT_TRUE(script) << error;

  // The script builds (nothing to do in a built tree), starts both, then prints the URL.
  std::string url;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (url.empty() && std::chrono::steady_clock::now() < deadline) {
    auto line = script->read_line(1s);
    if (!line) {
      ASSERT_TRUE(script->running()) << script->log_tail();
      continue;
    }
    const std::string prefix = "run: viewer URL: ";
    if (line->rfind(prefix, 0) == 0) url = line->substr(prefix.size());
  }
  ASSERT_FALSE(url.empty()) << "no viewer URL printed\n" << script->log_tail();
  EXPECT_EQ(url, "http://127.0.0.1:" + port_text + "/?device=demo");

  auto driver = ViewerDriver::start(&error);
  ASSERT_TRUE(driver) << error;
  ASSERT_TRUE(driver->request({{"type", "open"}, {"url", url}, {"viewers", 1}}))
      << driver->last_error();
  // The URL names the device: the page plays it without a click.
  auto stats = wait_stats(*driver, 0, 40s,
                          [](const nlohmann::json& s) { return s.value("framesDrawn", 0) >= 10; });
  ASSERT_TRUE(stats) << driver->last_error() << "\n" << script->log_tail();
  const auto& s = (*stats)["stats"];
  EXPECT_GE(s.value("framesDrawn", 0), 10) << stats->dump() << "\n" << script->log_tail();
  EXPECT_EQ(strictly_increasing(int_list(s["seqs"])), "");
  driver->close();

  // Ctrl-C: the script stops the device (which ends its session) and the server, then exits 0.
  ASSERT_EQ(::kill(script->pid(), SIGINT), 0);
  auto code = script->wait(20s);
  ASSERT_TRUE(code) << "run.sh still running after SIGINT\n" << script->log_tail();
  EXPECT_EQ(*code, 0) << script->log_tail();
  // Both children are gone: nothing still listens on the script's port.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(processes_mentioning("127.0.0.1:" + port_text), 0);
  EXPECT_FALSE(http_get(*port, "/healthz", 1000ms)) << "the server still answers";
}

}  // namespace
}  // namespace cellrtc::browser
