// The real cellrtc-server binary as a child process on loopback, for process tests: started on
// free ports (--listen 127.0.0.1:0 --udp-port 0), its startup lines parsed, stopped at the end.
//
//   std::string error;
//   auto server = ServerProcess::start({"--request-burst", "3"}, &error);
//   ASSERT_TRUE(server) << error;
//   auto r = http_get(server->http_port(), "/healthz");
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "interop/child_process.h"

namespace cellrtc::process {

std::string server_binary();

class ServerProcess {
 public:
  // Starts the server with `args` after the loopback/free-port defaults (later flags win) and
  // waits for its "ready" line. nullptr and *error (with the server's log) on failure.
  static std::unique_ptr<ServerProcess> start(const std::vector<std::string>& args,
                                              std::string* error);

  uint16_t http_port() const { return http_port_; }
  uint16_t media_port() const { return media_port_; }
  const std::string& listening() const { return listening_; }  // "http://127.0.0.1:PORT"
  const std::string& demo_token() const { return demo_token_; }
  const std::vector<std::string>& lines() const { return lines_; }
  interop::ChildProcess& child() { return *child_; }
  std::string log_tail(size_t max_bytes = 4096) const { return child_->log_tail(max_bytes); }

 private:
  std::unique_ptr<interop::ChildProcess> child_;
  std::vector<std::string> lines_;
  std::string listening_;
  std::string demo_token_;
  uint16_t http_port_ = 0;
  uint16_t media_port_ = 0;
};

// Runs the binary to its end (a configuration error, --help): exit status, stdout and stderr.
struct Finished {
  int wait_status = -1;
  std::string out;
  std::string log;
};
Finished run_server_to_end(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A fresh directory under the system's temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

}  // namespace cellrtc::process
