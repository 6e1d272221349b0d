// A child process for interop tests: a program no one here wrote (coturn, an aioice script),
// driven line by line over its stdin/stdout, its stderr kept in a log file in the build tree.
//
//   std::string error;
//   auto child = ChildProcess::spawn({.program = "/usr/bin/python3",
//                                     .args = {"script.py", "--flag"},
//                                     .log_path = interop_log_path("script.log")},
//                                    &error);
//   ASSERT_TRUE(child) << error;
//   child->write_line(R"({"type":"hello"})");
//   auto line = child->read_line(std::chrono::seconds(5));  // nullopt: timeout or EOF
//   ASSERT_TRUE(line) << child->log_tail();
//   // ~ChildProcess: SIGTERM, a bounded wait, SIGKILL, and the child reaped (no zombie).
//
// Every wait is bounded by the timeout it is given. stdin/stdout are a socketpair, so writing
// to a child that has gone fails with an error instead of raising SIGPIPE in the test. The
// child gets SIGKILL if the thread that spawned it dies (PR_SET_PDEATHSIG), so a test binary
// killed by ctest's timeout leaves no stray servers behind. Not thread-safe: one test thread
// owns a ChildProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellrtc::interop {

struct ChildProcessOptions {
  std::string program{};            // absolute path, executed as is (no PATH search)
  std::vector<std::string> args{};  // argv[1..]
  std::string log_path{};           // stderr goes here (appended); required
  // true: stdout is read with read_line(). false: stdout goes to the log file too (for chatty
  // servers whose output nobody reads, which would otherwise fill the pipe and block).
  bool capture_stdout = true;
  // Grace period between SIGTERM and SIGKILL when the process is stopped.
  std::chrono::milliseconds stop_grace{2000};
};

class ChildProcess {
 public:
  // Starts the program. On failure (missing program, exec error) returns nullptr and sets
  // *error to a message naming the program and the reason.
  static std::unique_ptr<ChildProcess> spawn(const ChildProcessOptions& options,
                                             std::string* error);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // stop()

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return options_.log_path; }

  // Writes `line` and a '\n' to the child's stdin. False when the child closed it or is gone,
  // or when the write does not complete within `timeout`.
  bool write_line(std::string_view line,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // Closes the child's stdin (the child sees EOF).
  void close_stdin();

  // The next line of the child's stdout without its '\n' (and '\r'). nullopt on timeout or
  // once stdout has ended (stdout_closed() tells which). Lines over 1 MiB are cut there.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  bool stdout_closed() const { return stdout_eof_; }

  // Whether the child still runs (reaps it if it has exited).
  bool running();
  // Waits up to `timeout` for the child to exit by itself; its wait status if it did.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, up to stop_grace for it to exit, then SIGKILL and reap. Returns the wait status
  // (or -1 if the child could not be reaped). Idempotent.
  int stop();

  // The last `max_bytes` of the log file, for assertion messages.
  std::string log_tail(size_t max_bytes = 4096) const;

 private:
  ChildProcess(ChildProcessOptions options, pid_t pid, int stdio_fd)
      : options_(std::move(options)), pid_(pid), stdio_fd_(stdio_fd) {}
  bool reap(bool block_for_a_while, std::chrono::milliseconds timeout);

  ChildProcessOptions options_;
  pid_t pid_ = -1;
  int stdio_fd_ = -1;  // our end of the socketpair: write = child's stdin, read = its stdout
  bool stdin_closed_ = false;
  bool stdout_eof_ = false;
  std::string read_buffer_;
  std::optional<int> exit_status_;
};

// A path under the build tree's interop log directory (created on first use), e.g.
// build/dev/interop-logs/<name>. Logs stay after the run for post-mortems.
std::string interop_log_path(std::string_view name);

// A name that no two processes or fixtures running at the same time share: "<base>-<pid>-<n>".
std::string unique_name(std::string_view base);

// Human-readable wait status: "exited with 3", "killed by signal 9".
std::string describe_wait_status(int status);

}  // namespace cellrtc::interop
