// The cellrtc-linkem program's command line: help, and the errors that come before any device is
// opened (so no root is needed): each names what is wrong and exits 2; a namespace that does not
// exist exits 1 with the path it tried.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include "support/build_paths.h"

namespace cellrtc::linkem {
namespace {

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr
};

Outcome run_linkem(const std::string& args) {
  std::string command = "timeout -k 2 20 " + cellrtc::test_paths::binary_dir() +
                        "/tools/linkem/cellrtc-linkem " + args + " 2>&1";
  Outcome o;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    o.output.append(buf.data(), n);
  int status = ::pclose(p);
  if (WIFEXITED(status)) o.status = WEXITSTATUS(status);
  return o;
}

std::string profile(const std::string& name) {
  return cellrtc::test_paths::source_dir() + "/tools/linkem/profiles/" + name + ".toml";
}

TEST(LinkemCli, HelpDescribesTheOptions) {
  Outcome o = run_linkem("--help");
  EXPECT_EQ(o.status, 0);
  for (const char* option :
       {"--a NS:IFNAME", "--b NS:IFNAME", "--profile", "--seed", "--stats-file", "\"ready\""}) {
    EXPECT_NE(o.output.find(option), std::string::npos) << option << "\n" << o.output;
  }
}

TEST(LinkemCli, BadArgumentsExit2WithTheReason) {
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : {
           Case{"", "--a and --b are required"},
           Case{"--a x:t0 --b y:t0", "--profile is required"},
           Case{"--a x --b y:t0 --profile p", "--a: 'x': expected NS:IFNAME"},
           Case{"--a ../x:t0 --b y:t0 --profile p", "the namespace name must be"},
           Case{"--a x:averylonginterfacename --b y:t0 --profile p",
                "the interface name must be 1-15"},
           Case{"--a x:t0 --b x:t0 --profile p", "--a and --b name the same device"},
           Case{"--a x:t0 --b y:t0 --profile p --seed -3", "--seed: '-3' is not"},
           Case{"--a x:t0 --b y:t0 --profile p --frobnicate", "unknown argument '--frobnicate'"},
           Case{"--a x:t0 --b y:t0 --profile", "--profile: missing value"},
           Case{"--a x:t0 --b y:t0 --profile /nonexistent.toml", "/nonexistent.toml: cannot open"},
       }) {
    SCOPED_TRACE(c.args);
    Outcome o = run_linkem(c.args);
    EXPECT_EQ(o.status, 2) << o.output;
    EXPECT_NE(o.output.find(c.message), std::string::npos) << o.output;
  }
}

TEST(LinkemCli, ProfileErrorNamesFileLineAndKey) {
  std::string path = cellrtc::test_paths::binary_dir() + "/linkem-cli-bad-profile.toml";
  std::ofstream(path) << "[up]\nrate_kbps = 10\nloss = 7\n[down]\n";
  Outcome o = run_linkem("--a x:t0 --b y:t0 --profile " + path);
  EXPECT_EQ(o.status, 2) << o.output;
  EXPECT_NE(o.output.find(path + ":3: up.loss: must be between 0 and 1"), std::string::npos)
      << o.output;
  std::remove(path.c_str());
}

TEST(LinkemCli, MissingNamespaceExits1) {
  Outcome o = run_linkem("--a cellrtc-no-such-ns-1:t0 --b cellrtc-no-such-ns-2:t0 --profile " +
                         profile("edge"));
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_NE(o.output.find("/var/run/netns/cellrtc-no-such-ns-1"), std::string::npos) << o.output;
}

}  // namespace
}  // namespace cellrtc::linkem
