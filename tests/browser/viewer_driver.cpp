#include "browser/viewer_driver.h"
#include "support/build_paths.h"

namespace cellrtc::browser {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string viewer_driver_script() {
  return cellrtc::test_paths::source_dir() + "/tests/browser/viewer_driver.mjs";
}

std::unique_ptr<ViewerDriver> ViewerDriver::start(std::string* error, std::chrono::seconds lifetime,
                                                  const std::vector<std::string>& command_prefix) {
  std::vector<std::string> args = {viewer_driver_script(), "--timeout",
                                   std::to_string(lifetime.count())};
  if (!command_prefix.empty()) args.push_back("--lab-network");
  interop::ChildProcessOptions options{
      .program = "/usr/bin/node",
      .args = std::move(args),
      .log_path = interop::interop_log_path(interop::unique_name("viewer-driver") + ".log"),
      .stop_grace = std::chrono::milliseconds(6000)};
  if (!command_prefix.empty()) {
    std::vector<std::string> all(command_prefix.begin() + 1, command_prefix.end());
    all.push_back(options.program);
    all.insert(all.end(), options.args.begin(), options.args.end());
    options.program = command_prefix.front();
    options.args = std::move(all);
  }
  auto process = interop::ChildProcess::spawn(options, error);
  if (!process) return nullptr;
  // Launching Chromium on a loaded machine takes a few seconds.
  auto deadline = Clock::now() + 40s;
  while (Clock::now() < deadline) {
    auto line = process->read_line(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!line) break;
    auto message = nlohmann::json::parse(*line, nullptr, false);
    if (message.is_discarded() || !message.is_object()) continue;
    if (message.value("type", "") == "ready") {
      return std::unique_ptr<ViewerDriver>(new ViewerDriver(std::move(process)));
    }
    if (message.value("type", "") == "error") {
      *error = "viewer driver: " + message.value("error", std::string("error"));
      break;
    }
  }
  if (error->empty()) *error = "viewer driver did not become ready";
  *error += "\n" + process->log_tail();
  return nullptr;
}

std::optional<nlohmann::json> ViewerDriver::request(nlohmann::json request,
                                                    std::chrono::milliseconds timeout) {
  const int id = next_id_++;
  request["id"] = id;
  if (!process_->write_line(request.dump())) {
    last_error_ = "viewer driver gone: " + process_->log_tail();
    return std::nullopt;
  }
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto line = process_->read_line(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!line) break;
    auto answer = nlohmann::json::parse(*line, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) continue;
    if (answer.value("type", "") == "error" && !answer.contains("id")) {
      last_error_ = answer.value("error", std::string("error"));  // the script's own end
      return std::nullopt;
    }
    if (!answer.contains("id") || answer["id"] != id) continue;
    if (answer.value("type", "") == "ok") return answer;
    last_error_ = answer.value("error", std::string("error"));
    return std::nullopt;
  }
  last_error_ = std::string(process_->stdout_closed() ? "viewer driver exited" : "no answer") +
                " to " + request.dump() + "\n" + process_->log_tail();
  return std::nullopt;
}

std::optional<nlohmann::json> ViewerDriver::stats(int viewer) {
  return request({{"type", "stats"}, {"viewer", viewer}});
}

void ViewerDriver::close() {
  if (process_->write_line(R"({"type":"close"})")) process_->wait(8000ms);
  process_->stop();
}

}  // namespace cellrtc::browser
