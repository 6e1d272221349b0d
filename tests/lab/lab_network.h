// The cellular lab (scripts/lab/lab.sh, docs/lab.md) for tests: brought up under a prefix of
// the test's own, commands run in its namespaces, torn down, and what it left behind listed.
//
//   std::string error;
//   auto lab = LabNetwork::up("cltest", {"--profile", "hspa"}, &error);
//   ASSERT_TRUE(lab) << error;
//   auto server = ServerProcess::start({..., .command_prefix = lab->exec_prefix("srv")}, &error);
//   ...
//   ASSERT_TRUE(lab->down(&error)) << error;
//   EXPECT_EQ(lab->leftovers(), std::vector<std::string>{});
//
// Every wait is bounded; the destructor tears the lab down if the test did not.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellrtc::lab {

// The whole content of a file (the lab's state files, /proc entries); "" when unreadable.
std::string read_file(const std::filesystem::path& path);

// scripts/lab/lab.sh in the source tree.
std::string lab_script();
// The link emulator lab.sh will use: $CELLRTC_LINKEM, else this build's cellrtc-linkem; nullopt
// when there is none.
std::optional<std::string> linkem_binary();
// Whether tools/linkem/profiles/NAME.toml exists.
bool profile_exists(const std::string& name);

class LabNetwork {
 public:
  // `lab.sh up ARGS...` with CELLRTC_LAB=prefix; nullptr and *error (with lab.sh's output) if
  // it fails or takes over 90 s.
  static std::unique_ptr<LabNetwork> up(const std::string& prefix,
                                        const std::vector<std::string>& args, std::string* error);

  LabNetwork(const LabNetwork&) = delete;
  LabNetwork& operator=(const LabNetwork&) = delete;
  ~LabNetwork();  // down() unless done

  const std::string& prefix() const { return prefix_; }
  // The namespace of a node ("srv" -> "cltest-srv").
  std::string netns(const std::string& node) const { return prefix_ + "-" + node; }
  // The command prefix that runs a program in a node's namespace.
  std::vector<std::string> exec_prefix(const std::string& node) const;

  // `lab.sh exec NODE COMMAND...`: its stdout, or nullopt if it fails or takes over `timeout`.
  std::optional<std::string> exec(const std::string& node, const std::vector<std::string>& command,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // `lab.sh down`; false and *error if it fails or takes over 60 s.
  bool down(std::string* error);

  // What of this lab exists now, one line each: namespaces with the prefix, processes inside
  // the namespaces the lab had (found by their network namespace), the link emulator, the
  // state directory. Empty once the lab is fully gone.
  std::vector<std::string> leftovers() const;

 private:
  LabNetwork(std::string prefix, std::vector<ino_t> namespaces)
      : prefix_(std::move(prefix)), namespaces_(std::move(namespaces)) {}

  std::string prefix_;
  std::vector<ino_t> namespaces_;  // the inodes of the lab's network namespaces
  bool down_ = false;
};

}  // namespace cellrtc::lab
