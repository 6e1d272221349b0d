#include "process/server_process.h"

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include "support/build_paths.h"

namespace cellrtc::process {

std::string server_binary() {
  return cellrtc::test_paths::binary_dir() + "/server/cellrtc-server";
}

namespace {

uint16_t port_after_last_colon(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(text.substr(colon + 1)));
}

std::vector<std::string> with_defaults(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--listen", "127.0.0.1:0", "--udp-port",
                                  "0",        "--log-level", "debug"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

}  // namespace

std::unique_ptr<ServerProcess> ServerProcess::start(const std::vector<std::string>& args,
                                                    std::string* error) {
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
  server->child_ = interop::ChildProcess::spawn(
      {.program = server_binary(),
       .args = with_defaults(args),
       .log_path = interop::interop_log_path(interop::unique_name("cellrtc-server") + ".log")},
      error);
  if (!server->child_) return nullptr;
  // Generous: a loaded 2-core machine (and ASan) may take seconds to start.
  while (auto line = server->child_->read_line(std::chrono::seconds(30))) {
    server->lines_.push_back(*line);
    if (line->rfind("listening ", 0) == 0) {
      server->listening_ = line->substr(10);
      server->http_port_ = port_after_last_colon(*line);
    } else if (line->rfind("media udp ", 0) == 0 && server->media_port_ == 0) {
      server->media_port_ = port_after_last_colon(*line);
    } else if (line->rfind("device demo token ", 0) == 0) {
      server->demo_token_ = line->substr(18);
    } else if (*line == "ready") {
      return server;
    }
  }
  *error = "cellrtc-server did not become ready; its log:\n" + server->child_->log_tail();
  return nullptr;
}

Finished run_server_to_end(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout) {
  Finished finished;
  std::string error;
  auto child = interop::ChildProcess::spawn(
      {.program = server_binary(),
       .args = args,
       .log_path = interop::interop_log_path(interop::unique_name("cellrtc-server-run") + ".log")},
      &error);
  if (!child) {
    finished.log = error;
    return finished;
  }
  while (auto line = child->read_line(timeout))
    finished.out += *line + "\n";
  if (auto status = child->wait(timeout)) finished.wait_status = *status;
  finished.log = child->log_tail();
  return finished;
}

TempDir::TempDir() {
  auto base = std::filesystem::temp_directory_path() / interop::unique_name("cellrtc-process");
  std::filesystem::create_directories(base);
  path_ = base.string();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& text) const {
  std::ofstream(file(name), std::ios::binary) << text;
}

}  // namespace cellrtc::process
