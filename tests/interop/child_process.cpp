#include "interop/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include "support/build_paths.h"

namespace cellrtc::interop {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxLineBytes = 1 << 20;
// How long exec may take before the spawn is declared failed.
constexpr std::chrono::milliseconds kExecTimeout{5000};
// How long to wait for a SIGKILLed child to be reaped.
constexpr std::chrono::milliseconds kReapAfterKill{5000};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reports errno to the parent and leaves the child (async-signal-safe).
[[noreturn]] void child_fail(int status_fd) {
  int e = errno;
  ssize_t ignored = ::write(status_fd, &e, sizeof e);
  (void)ignored;
  ::_exit(127);
}

// In the child between fork and exec only async-signal-safe calls are allowed: no allocation,
// no locks. Reports errno through `status_fd` (close-on-exec, so EOF means exec succeeded).
[[noreturn]] void exec_child(int stdio_fd, int log_fd, bool capture_stdout, int status_fd,
                             pid_t parent, char* const* argv) {
  // Die with the test: SIGKILL when the spawning thread exits. If the parent is already gone
  // (the race before prctl), leave now.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(status_fd);
  if (::getppid() != parent) ::_exit(126);
  // Restore default signal handling the test process may have changed.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (::dup2(stdio_fd, STDIN_FILENO) < 0) child_fail(status_fd);
  if (::dup2(capture_stdout ? stdio_fd : log_fd, STDOUT_FILENO) < 0) child_fail(status_fd);
  if (::dup2(log_fd, STDERR_FILENO) < 0) child_fail(status_fd);
    // Nothing else of the test process (sockets, other children's pipes) leaks into the child:
    // close_range with CLOEXEC keeps `status_fd` usable until exec succeeds.
#ifdef SYS_close_range
  ::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
  ::execv(argv[0], argv);
  child_fail(status_fd);
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(const ChildProcessOptions& options,
                                                  std::string* error) {
  auto fail = [&](const std::string& what) -> std::unique_ptr<ChildProcess> {
    if (error) *error = options.program + ": " + what;
    return nullptr;
  };
  if (options.log_path.empty()) return fail("ChildProcessOptions::log_path is required");
  if (::access(options.program.c_str(), X_OK) != 0) {
    return fail(std::string("not an executable file (") + std::strerror(errno) + ")");
  }

  // Everything the child needs is prepared before fork: it must not allocate afterwards.
  std::vector<std::string> args_storage;
  args_storage.push_back(options.program);
  args_storage.insert(args_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : args_storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return fail("cannot open log " + options.log_path + ": " + std::strerror(errno));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    ::close(log_fd);
    return fail(std::string("socketpair: ") + std::strerror(errno));
  }
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    ::close(pair[0]);
    ::close(pair[1]);
    return fail(std::string("pipe2: ") + std::strerror(errno));
  }

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    exec_child(pair[1], log_fd, options.capture_stdout, status_pipe[1], parent, argv.data());
  }
  int saved_errno = errno;
  ::close(log_fd);
  ::close(pair[1]);
  ::close(status_pipe[1]);
  if (pid < 0) {
    ::close(pair[0]);
    ::close(status_pipe[0]);
    return fail(std::string("fork: ") + std::strerror(saved_errno));
  }

  // Our end is non-blocking: every read and write below is bounded by poll.
  ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) | O_NONBLOCK);
  std::unique_ptr<ChildProcess> child(new ChildProcess(options, pid, pair[0]));

  // Exec succeeded when the status pipe reaches EOF without an errno on it.
  pollfd p{status_pipe[0], POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(kExecTimeout.count()));
  int child_errno = 0;
  ssize_t n = ready > 0 ? ::read(status_pipe[0], &child_errno, sizeof child_errno) : -1;
  ::close(status_pipe[0]);
  if (ready <= 0) {
    child->stop();
    return fail("exec did not complete within 5 s");
  }
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    child->stop();
    return fail(std::string("exec failed: ") + std::strerror(child_errno));
  }
  return child;
}

ChildProcess::~ChildProcess() {
  stop();
  close_fd(stdio_fd_);
}

bool ChildProcess::write_line(std::string_view line, std::chrono::milliseconds timeout) {
  if (stdin_closed_ || stdio_fd_ < 0) return false;
  std::string data(line);
  data.push_back('\n');
  auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(stdio_fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int left = remaining_ms(deadline);
      if (left == 0) return false;
      pollfd p{stdio_fd_, POLLOUT, 0};
      ::poll(&p, 1, left);
      continue;
    }
    return false;  // EPIPE, ECONNRESET: the child is gone or closed its stdin
  }
  return true;
}

void ChildProcess::close_stdin() {
  if (stdin_closed_ || stdio_fd_ < 0) return;
  ::shutdown(stdio_fd_, SHUT_WR);
  stdin_closed_ = true;
}

std::optional<std::string> ChildProcess::read_line(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  // Bounded by the deadline: each pass either consumes bytes, sees EOF, or polls with the
  // time left (and poll returning 0 with no time left ends the loop).
  while (true) {
    size_t nl = read_buffer_.find('\n');
    if (nl != std::string::npos || read_buffer_.size() >= kMaxLineBytes) {
      size_t take = nl != std::string::npos ? nl : kMaxLineBytes;
      std::string line = read_buffer_.substr(0, take);
      read_buffer_.erase(0, nl != std::string::npos ? take + 1 : take);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (stdout_eof_ || stdio_fd_ < 0) {
      // A last line without '\n' still counts once stdout has ended.
      if (read_buffer_.empty()) return std::nullopt;
      std::string line;
      line.swap(read_buffer_);
      return line;
    }
    char chunk[4096];
    ssize_t n = ::recv(stdio_fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      read_buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      stdout_eof_ = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      stdout_eof_ = true;
      continue;
    }
    int left = remaining_ms(deadline);
    if (left == 0) return std::nullopt;
    pollfd p{stdio_fd_, POLLIN, 0};
    ::poll(&p, 1, left);
  }
}

bool ChildProcess::reap(bool block_for_a_while, std::chrono::milliseconds timeout) {
  if (exit_status_) return true;
  if (pid_ <= 0) return true;
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      // ECHILD: reaped elsewhere; nothing is left to wait for.
      exit_status_ = -1;
      return true;
    }
    if (!block_for_a_while || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ChildProcess::running() {
  return !reap(false, std::chrono::milliseconds(0));
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (reap(true, timeout)) return exit_status_;
  return std::nullopt;
}

int ChildProcess::stop() {
  if (pid_ <= 0) return exit_status_.value_or(-1);
  if (!reap(false, std::chrono::milliseconds(0))) {
    ::kill(pid_, SIGTERM);
    if (!reap(true, options_.stop_grace)) {
      ::kill(pid_, SIGKILL);
      reap(true, kReapAfterKill);
    }
  }
  return exit_status_.value_or(-1);
}

std::string ChildProcess::log_tail(size_t max_bytes) const {
  std::ifstream in(options_.log_path, std::ios::binary);
  if (!in) return "(no log at " + options_.log_path + ")";
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in.tellg());
  size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return "--- " + options_.log_path + (start > 0 ? " (tail)" : "") + " ---\n" + text;
}

std::string interop_log_path(std::string_view name) {
  std::filesystem::path dir =
      std::filesystem::path(cellrtc::test_paths::binary_dir()) / "interop-logs";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return (dir / std::string(name)).string();
}

std::string unique_name(std::string_view base) {
  // The process id tells concurrent test binaries apart (ctest -j); the monotonic clock tells
  // apart the fixtures of one process, which start one after another.
  auto ticks =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  return std::string(base) + "-" + std::to_string(::getpid()) + "-" + std::to_string(ticks);
}

std::string describe_wait_status(int status) {
  if (status < 0) return "not reaped";
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace cellrtc::interop
