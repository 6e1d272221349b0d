// Viewer pages in headless Chromium for the browser tests: tests/browser/viewer_driver.mjs under
// node, one JSON request per line, each answered with the same "id" (the protocol is described at
// the top of that script).
//
//   std::string error;
//   auto viewers = ViewerDriver::start(&error);
//   ASSERT_TRUE(viewers) << error;
//   ASSERT_TRUE(viewers->request({{"type", "open"}, {"url", url}, {"viewers", 1}}))
//       << viewers->last_error();
//   auto stats = viewers->stats(0);    // window.cellrtcViewer.stats() and the overlay's texts
//
// Every wait is bounded; the script exits by itself after `lifetime`, and Chromium goes with it.
//
// In the cellular lab (tests/lab) the script and its Chromium run in the viewer's network
// namespace through a command prefix (netns_exec_prefix("cltest-viewer")); there pages are on
// the lab's server address and the browser's candidates are its lab addresses (the script's
// --lab-network), instead of loopback only.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "interop/child_process.h"

namespace cellrtc::browser {

class ViewerDriver {
 public:
  static std::unique_ptr<ViewerDriver> start(
      std::string* error, std::chrono::seconds lifetime = std::chrono::seconds(90),
      const std::vector<std::string>& command_prefix = {});

  // Sends `request` with a fresh "id" and waits for its answer. The answer (type "ok"), or
  // nullopt with last_error() saying why (an "error" answer, a timeout, the script gone).
  std::optional<nlohmann::json> request(
      nlohmann::json request, std::chrono::milliseconds timeout = std::chrono::milliseconds(35000));
  // {"stats": window.cellrtcViewer.stats(), "overlay": {...}, "console": [...]} of a viewer.
  std::optional<nlohmann::json> stats(int viewer);

  // Closes Chromium and waits for the script (the destructor does the same, less politely).
  void close();

  const std::string& last_error() const { return last_error_; }
  std::string log_tail() const { return process_->log_tail(); }

 private:
  explicit ViewerDriver(std::unique_ptr<interop::ChildProcess> process)
      : process_(std::move(process)) {}

  std::unique_ptr<interop::ChildProcess> process_;
  int next_id_ = 1;
  std::string last_error_;
};

// The script's path in the source tree.
std::string viewer_driver_script();

}  // namespace cellrtc::browser
