#include "lab/lab_network.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "browser/cellrtc_processes.h"
#include "interop/child_process.h"
#include "support/build_paths.h"

namespace cellrtc::lab {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::array<const char*, 7> kNodes = {"dev",  "cgnat", "inet",  "srv",
                                               "turn", "vnat",  "viewer"};

// lab.sh with CELLRTC_LAB=prefix and the link emulator, as a child process.
std::unique_ptr<interop::ChildProcess> run_lab_script(const std::string& prefix,
                                                      const std::vector<std::string>& args,
                                                      bool capture_stdout, std::string* error) {
  std::vector<std::string> argv = {"CELLRTC_LAB=" + prefix};
  if (auto linkem = linkem_binary()) argv.push_back("CELLRTC_LINKEM=" + *linkem);
  argv.push_back("/bin/bash");
  argv.push_back(lab_script());
  argv.insert(argv.end(), args.begin(), args.end());
  return interop::ChildProcess::spawn(
      {.program = "/usr/bin/env",
       .args = argv,
       .log_path = interop::interop_log_path(interop::unique_name("lab-" + prefix) + ".log"),
       .capture_stdout = capture_stdout,
       .stop_grace = std::chrono::milliseconds(10000)},
      error);
}

// Runs lab.sh to its end; true if it exits 0 within `timeout`, else *error says why.
bool run_to_end(const std::string& prefix, const std::vector<std::string>& args,
                std::chrono::milliseconds timeout, std::string* error) {
  auto process = run_lab_script(prefix, args, false, error);
  if (!process) return false;
  auto status = process->wait(timeout);
  if (!status) {
    process->stop();
    *error = "lab.sh " + args.front() + " did not finish within " +
             std::to_string(timeout.count()) + " ms:\n" + process->log_tail();
    return false;
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    *error = "lab.sh " + args.front() + " " + interop::describe_wait_status(*status) + ":\n" +
             process->log_tail();
    return false;
  }
  return true;
}

std::optional<ino_t> inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string lab_script() {
  return cellrtc::test_paths::source_dir() + "/scripts/lab/lab.sh";
}

std::optional<std::string> linkem_binary() {
  if (const char* env = std::getenv("CELLRTC_LINKEM"); env && *env) {
    if (::access(env, X_OK) == 0) return std::string(env);
    return std::nullopt;
  }
  std::string built = cellrtc::test_paths::binary_dir() + "/tools/linkem/cellrtc-linkem";
  if (::access(built.c_str(), X_OK) == 0) return built;
  return std::nullopt;
}

bool profile_exists(const std::string& name) {
  return std::filesystem::exists(cellrtc::test_paths::source_dir() + "/tools/linkem/profiles/" +
                                 name + ".toml");
}

std::unique_ptr<LabNetwork> LabNetwork::up(const std::string& prefix,
                                           const std::vector<std::string>& args,
                                           std::string* error) {
  std::vector<std::string> command = {"up"};
  command.insert(command.end(), args.begin(), args.end());
  if (!run_to_end(prefix, command, 90s, error)) {
    // A failed up tears itself down; a killed one may not have: make sure.
    std::string ignored;
    run_to_end(prefix, {"down"}, 60s, &ignored);
    return nullptr;
  }
  std::vector<ino_t> namespaces;
  for (const char* node : kNodes) {
    auto inode = inode_of("/run/netns/" + prefix + "-" + node);
    if (!inode) {
      *error = "lab.sh up succeeded but there is no namespace " + prefix + "-" + node;
      std::string ignored;
      run_to_end(prefix, {"down"}, 60s, &ignored);
      return nullptr;
    }
    namespaces.push_back(*inode);
  }
  return std::unique_ptr<LabNetwork>(new LabNetwork(prefix, std::move(namespaces)));
}

LabNetwork::~LabNetwork() {
  if (!down_) {
    std::string ignored;
    down(&ignored);
  }
}

std::vector<std::string> LabNetwork::exec_prefix(const std::string& node) const {
  return browser::netns_exec_prefix(netns(node));
}

std::optional<std::string> LabNetwork::exec(const std::string& node,
                                            const std::vector<std::string>& command,
                                            std::chrono::milliseconds timeout) {
  std::vector<std::string> args = {"exec", node};
  args.insert(args.end(), command.begin(), command.end());
  std::string error;
  auto process = run_lab_script(prefix_, args, true, &error);
  if (!process) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  std::string output;
  while (Clock::now() < deadline && output.size() < (4u << 20)) {
    auto line = process->read_line(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!line) break;
    output += *line + "\n";
  }
  if (!process->stdout_closed()) {
    process->stop();
    return std::nullopt;
  }
  auto status = process->wait(std::max(
      1ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    process->stop();
    return std::nullopt;
  }
  return output;
}

bool LabNetwork::down(std::string* error) {
  down_ = true;
  return run_to_end(prefix_, {"down"}, 60s, error);
}

std::vector<std::string> LabNetwork::leftovers() const {
  std::vector<std::string> left;
  for (const char* node : kNodes) {
    if (std::filesystem::exists("/run/netns/" + prefix_ + "-" + node)) {
      left.push_back("namespace " + prefix_ + "-" + node);
    }
  }
  const std::string radio_argument = prefix_ + "-dev:radio0";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string comm = read_file(entry.path() / "comm");
    const std::string name = pid + " (" + comm.substr(0, comm.find('\n')) + ")";
    // A process of a gone namespace that is still alive (a zombie has no namespaces left).
    if (auto inode = inode_of(entry.path() / "ns" / "net")) {
      for (ino_t lab_namespace : namespaces_) {
        if (*inode == lab_namespace) left.push_back("process " + name + " in a lab namespace");
      }
    }
    // The link emulator lives in the root namespace; its arguments name the lab.
    std::string cmdline = read_file(entry.path() / "cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = '\n';
    }
    if (("\n" + cmdline).find("\n" + radio_argument + "\n") != std::string::npos) {
      left.push_back("process " + name + " with argument " + radio_argument);
    }
  }
  if (std::filesystem::exists("/run/cellrtc-lab/" + prefix_)) {
    left.push_back("state directory /run/cellrtc-lab/" + prefix_);
  }
  return left;
}

}  // namespace cellrtc::lab
