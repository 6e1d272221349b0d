// cellrtc-linkem measured from outside: two network namespaces of this test's own
// (clt<pid>-a, clt<pid>-b), a persistent TUN device with a /30 address in each, the emulator
// between them, and Debian's iperf3 and ping inside the namespaces. Checks with wide
// tolerances that the configured rate, delay, loss and outage are what traffic sees; these are
// correctness checks, not performance figures. Every command is bounded by timeout(1); the
// namespaces are removed after each test, also when it fails. Needs root (namespaces, TUN).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "interop/child_process.h"
#include "support/build_paths.h"

namespace cellrtc::lab {
namespace {

using namespace std::chrono_literals;
using interop::ChildProcess;

constexpr const char* kIp = "/usr/sbin/ip";
constexpr const char* kAddrA = "10.99.0.1";
constexpr const char* kAddrB = "10.99.0.2";
constexpr const char* kTun = "lkm0";

struct CommandResult {
  int status = -1;     // exit status; -1 when it did not exit normally
  std::string output;  // stdout and stderr
};

// Runs a shell command, bounded by timeout(1), and collects up to 4 MiB of its output.
CommandResult run(const std::string& command, int timeout_s = 30) {
  CommandResult r;
  std::string bounded = "timeout -k 2 " + std::to_string(timeout_s) + " " + command + " 2>&1";
  FILE* p = ::popen(bounded.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (r.output.size() < 4 * 1024 * 1024) r.output.append(buf.data(), n);
  }
  int status = ::pclose(p);
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  return r;
}

bool have(const char* path) {
  return ::access(path, X_OK) == 0;
}

class LinkemLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, TUN devices)";
    for (const char* tool : {kIp, "/usr/bin/iperf3", "/usr/bin/ping", "/usr/bin/timeout"}) {
      if (!have(tool)) GTEST_SKIP() << tool << " is missing (scripts/setup.sh installs it)";
    }
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
    std::string prefix = "clt" + std::to_string(::getpid());
    ns_a_ = prefix + "-a";
    ns_b_ = prefix + "-b";
    remove_namespaces();  // leftovers of a crashed run with the same pid
    made_namespaces_ = true;
    for (const auto& [ns, addr] : {std::pair{ns_a_, kAddrA}, std::pair{ns_b_, kAddrB}}) {
      for (const std::string& cmd :
           {std::string(kIp) + " netns add " + ns,
            std::string(kIp) + " -n " + ns + " link set lo up",
            std::string(kIp) + " -n " + ns + " tuntap add dev " + kTun + " mode tun",
            std::string(kIp) + " -n " + ns + " addr add " + addr + "/30 dev " + kTun,
            std::string(kIp) + " -n " + ns + " link set " + kTun + " up"}) {
        CommandResult r = run(cmd, 10);
        ASSERT_EQ(r.status, 0) << cmd << ": " << r.output;
      }
    }
  }

  void TearDown() override {
    if (linkem_) linkem_->stop();
    if (server_) server_->stop();
    if (made_namespaces_) remove_namespaces();
  }

  void remove_namespaces() {
    for (const std::string& ns : {ns_a_, ns_b_}) {
      if (::access(("/var/run/netns/" + ns).c_str(), F_OK) == 0) {
        run(std::string(kIp) + " netns del " + ns, 10);
      }
    }
  }

  // Starts the emulator with `profile_text` between the two namespaces; waits for "ready".
  void start_linkem(const std::string& profile_text) {
    std::string name = interop::unique_name("linkem");
    std::string path = interop::interop_log_path(name + ".toml");
    std::ofstream(path) << profile_text;
    start_linkem_with_file(path);
  }

  void start_linkem_with_file(const std::string& profile_path) {
    std::string name = interop::unique_name("linkem");
    profile_path_ = profile_path;
    stats_path_ = interop::interop_log_path(name + "-stats.json");
    std::string error;
    linkem_ = ChildProcess::spawn(
        {.program = cellrtc::test_paths::binary_dir() + "/tools/linkem/cellrtc-linkem",
         .args = {"--a", ns_a_ + ":" + kTun, "--b", ns_b_ + ":" + kTun, "--profile", profile_path_,
                  "--seed", "1", "--stats-file", stats_path_},
         .log_path = interop::interop_log_path(name + ".log")},
        &error);
    ASSERT_TRUE(linkem_) << error;
    auto line = linkem_->read_line(10s);
    ASSERT_EQ(line.value_or("(none)"), "ready") << linkem_->log_tail();
  }

  // SIGTERM; the emulator exits 0 and leaves its counters in the stats file.
  nlohmann::json stop_linkem() {
    int status = linkem_->stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                               << linkem_->log_tail();
    std::ifstream in(stats_path_);
    std::stringstream text;
    text << in.rdbuf();
    auto json = nlohmann::json::parse(text.str(), nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << "stats: " << text.str();
    linkem_.reset();
    return json;
  }

  // One iperf3 run from a to b (the "up" direction); the client's JSON report.
  nlohmann::json iperf_up(const std::string& client_args) {
    std::string error;
    server_ = ChildProcess::spawn(
        {.program = kIp,
         .args = {"netns", "exec", ns_b_, "/usr/bin/iperf3", "-s", "-1", "-J", "-B", kAddrB, "-p",
                  "5201"},
         .log_path = interop::interop_log_path(interop::unique_name("iperf3-server") + ".log"),
         .capture_stdout = false},
        &error);
    EXPECT_TRUE(server_) << error;
    if (!server_) return {};
    // The server needs a moment to listen; a refused connection is retried, a few times.
    CommandResult r;
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::this_thread::sleep_for(300ms);
      r = run(std::string(kIp) + " netns exec " + ns_a_ + " /usr/bin/iperf3 -c " + kAddrB +
                  " -p 5201 -J --connect-timeout 3000 " + client_args,
              40);
      if (r.status == 0 || r.output.find("unable to connect") == std::string::npos) break;
    }
    server_->stop();
    server_.reset();
    auto json = nlohmann::json::parse(r.output, nullptr, false);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_FALSE(json.is_discarded()) << r.output;
    return json.is_discarded() ? nlohmann::json{} : json;
  }

  CommandResult ping(const std::string& args, int timeout_s = 30) {
    return run(
        std::string(kIp) + " netns exec " + ns_a_ + " /usr/bin/ping -n " + args + " " + kAddrB,
        timeout_s);
  }

  std::string ns_a_, ns_b_;
  bool made_namespaces_ = false;
  std::unique_ptr<ChildProcess> linkem_;
  std::unique_ptr<ChildProcess> server_;
  std::string profile_path_, stats_path_;
};

// 2 Mbit/s each way with a 40 kB queue; 20 ms each way.
constexpr const char* kRateProfile = R"(name = "test-rate"
[up]
rate_kbps = 2000
delay_ms = 20
queue_bytes = 40000
[down]
rate_kbps = 2000
delay_ms = 20
queue_bytes = 40000
)";

// UDP offered at 3 Mbit/s into 2 Mbit/s: what arrives is the link rate (less the 28 bytes of
// IPv4+UDP header of each 1200-byte datagram), and the excess is dropped at the queue.
TEST_F(LinkemLab, UdpGoodputFollowsTheRate) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(kRateProfile));
  nlohmann::json report = iperf_up("-u -b 3M -l 1200 -t 4");
  nlohmann::json stats = stop_linkem();
  ASSERT_TRUE(report.contains("end")) << report.dump();
  double goodput = report["end"]["sum_received"]["bits_per_second"].get<double>();
  double expected = 2'000'000.0 * 1200 / 1228;
  std::printf("udp goodput %.0f bit/s, expected %.0f (%.1f %%)\n", goodput, expected,
              100 * goodput / expected);
  EXPECT_GT(goodput, 0.80 * expected);
  EXPECT_LT(goodput, 1.05 * expected);
  EXPECT_GT(stats["up"]["dropped_queue"].get<uint64_t>(), 0u) << stats.dump(2);
  EXPECT_EQ(stats["up"]["dropped_loss"].get<uint64_t>(), 0u);
  EXPECT_EQ(stats["up"]["dropped_held_limit"].get<uint64_t>(), 0u);
}

// TCP fills the link: goodput is the rate less TCP/IP headers (52 of each 1500-byte packet).
TEST_F(LinkemLab, TcpGoodputFollowsTheRate) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(kRateProfile));
  nlohmann::json report = iperf_up("-t 4");
  stop_linkem();
  ASSERT_TRUE(report.contains("end")) << report.dump();
  double goodput = report["end"]["sum_received"]["bits_per_second"].get<double>();
  double expected = 2'000'000.0 * 1448 / 1500;
  std::printf("tcp goodput %.0f bit/s, expected %.0f (%.1f %%)\n", goodput, expected,
              100 * goodput / expected);
  // TCP's slow start takes part of the four seconds: a wider margin below.
  EXPECT_GT(goodput, 0.75 * expected);
  EXPECT_LT(goodput, 1.05 * expected);
}

struct PingSummary {
  double min_ms = -1, avg_ms = -1, max_ms = -1;
  std::set<int> replied;  // icmp_seq of the echo replies
};

PingSummary parse_ping(const std::string& output) {
  PingSummary s;
  std::smatch m;
  static const std::regex rtt(R"(rtt min/avg/max/mdev = ([0-9.]+)/([0-9.]+)/([0-9.]+)/)");
  if (std::regex_search(output, m, rtt)) {
    s.min_ms = std::stod(m[1]);
    s.avg_ms = std::stod(m[2]);
    s.max_ms = std::stod(m[3]);
  }
  static const std::regex reply(R"(icmp_seq=([0-9]+) )");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), reply);
       it != std::sregex_iterator(); ++it) {
    s.replied.insert(std::stoi((*it)[1]));
  }
  return s;
}

// 50 ms each way plus up to 10 ms of jitter, no rate limit: the RTT is never below twice the
// delay, and on average not far above it.
TEST_F(LinkemLab, PingRttIsTwiceTheDelay) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-delay"
[up]
delay_ms = 50
jitter_ms = 10
[down]
delay_ms = 50
jitter_ms = 10
)"));
  CommandResult r = ping("-c 20 -i 0.05 -W 2");
  stop_linkem();
  ASSERT_EQ(r.status, 0) << r.output;
  PingSummary s = parse_ping(r.output);
  std::printf("rtt min %.1f avg %.1f max %.1f ms (delay 2 x 50 ms, jitter 2 x 0-10 ms)\n", s.min_ms,
              s.avg_ms, s.max_ms);
  EXPECT_EQ(s.replied.size(), 20u);
  EXPECT_GE(s.min_ms, 100.0);
  // Mean jitter adds 10 ms; the rest is the machine (wake-ups are rounded up to 1 ms).
  EXPECT_LE(s.avg_ms, 160.0);
}

// 20 % random loss on the uplink only: about a fifth of the echo requests go unanswered, and
// the emulator's counters say the same. (ping rather than iperf3: iperf3's TCP control
// connection suffers the same loss and can stall the report.)
TEST_F(LinkemLab, RandomLossIsPlausible) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-loss"
[up]
delay_ms = 5
loss = 0.2
[down]
delay_ms = 5
)"));
  CommandResult r = ping("-c 400 -i 0.01 -W 1");
  nlohmann::json stats = stop_linkem();
  PingSummary s = parse_ping(r.output);
  double lost = 1.0 - static_cast<double>(s.replied.size()) / 400;
  double in = static_cast<double>(stats["up"]["packets_in"].get<uint64_t>());
  double dropped = static_cast<double>(stats["up"]["dropped_loss"].get<uint64_t>());
  std::printf("ping loss %.1f %%, emulator dropped %.0f of %.0f (%.1f %%)\n", 100 * lost, dropped,
              in, 100 * dropped / in);
  // 400 requests: one standard deviation is 2 points; the bounds are four.
  EXPECT_GT(lost, 0.12) << r.output;
  EXPECT_LT(lost, 0.28) << r.output;
  EXPECT_GT(dropped / in, 0.12);
  EXPECT_LT(dropped / in, 0.28);
  EXPECT_EQ(stats["down"]["dropped_loss"].get<uint64_t>(), 0u);
}

// An outage from 1.5 s to 3.5 s after start: pings every 100 ms stop being answered for about
// two seconds (one run of about 20 sequence numbers), with answers before and after.
TEST_F(LinkemLab, OutageStopsTraffic) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-outage"
[up]
delay_ms = 10
[down]
delay_ms = 10
[[schedule]]
at_s = 1.5
action = "outage"
duration_s = 2
)"));
  CommandResult r = ping("-c 50 -i 0.1 -W 1");
  nlohmann::json stats = stop_linkem();
  PingSummary s = parse_ping(r.output);
  std::vector<int> missing;
  for (int seq = 1; seq <= 50; ++seq) {
    if (!s.replied.count(seq)) missing.push_back(seq);
  }
  ASSERT_FALSE(missing.empty()) << r.output;
  std::printf("no reply for icmp_seq %d..%d (%zu of 50)\n", missing.front(), missing.back(),
              missing.size());
  // One contiguous run, about 2 s / 100 ms long.
  EXPECT_EQ(missing.back() - missing.front() + 1, static_cast<int>(missing.size())) << r.output;
  EXPECT_GE(missing.size(), 17u);
  EXPECT_LE(missing.size(), 23u);
  EXPECT_GT(missing.front(), 1);
  EXPECT_LT(missing.back(), 50);
  EXPECT_GT(stats["up"]["dropped_outage"].get<uint64_t>() +
                stats["down"]["dropped_outage"].get<uint64_t>(),
            0u);
}

// A scheduled rate change at 4 s (2 Mbit/s -> 500 kbit/s up), seen by the iperf3 server's
// one-second intervals: the test starts within two seconds of "ready", so its second interval
// is before the change and its sixth and seventh after it (and after the queue has drained).
TEST_F(LinkemLab, ScheduledRateChangeTakesEffect) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-rate-change"
[up]
rate_kbps = 2000
delay_ms = 20
queue_bytes = 30000
[down]
delay_ms = 20
[[schedule]]
at_s = 4
action = "rate"
direction = "up"
rate_kbps = 500
)"));
  nlohmann::json report = iperf_up("-u -b 3M -l 1200 -t 8 --get-server-output");
  stop_linkem();
  ASSERT_TRUE(report.contains("server_output_json")) << report.dump();
  const nlohmann::json& intervals = report["server_output_json"]["intervals"];
  ASSERT_GE(intervals.size(), 7u) << report.dump();
  auto bps = [&](size_t i) { return intervals[i]["sum"]["bits_per_second"].get<double>(); };
  double before = bps(1);
  double after = (bps(5) + bps(6)) / 2;
  double expected_before = 2'000'000.0 * 1200 / 1228;
  double expected_after = 500'000.0 * 1200 / 1228;
  std::printf("before the change %.0f bit/s (%.1f %%), after %.0f bit/s (%.1f %%)\n", before,
              100 * before / expected_before, after, 100 * after / expected_after);
  EXPECT_GT(before, 0.80 * expected_before);
  EXPECT_LT(before, 1.05 * expected_before);
  EXPECT_GT(after, 0.80 * expected_after);
  EXPECT_LT(after, 1.05 * expected_after);
}

// Duplication on the uplink: ping sees duplicate replies ("DUP!"), about as many as the
// emulator says it made.
TEST_F(LinkemLab, DuplicationIsVisible) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-duplicate"
[up]
delay_ms = 10
duplicate = 0.3
[down]
delay_ms = 10
)"));
  CommandResult r = ping("-c 40 -i 0.02 -W 2");
  nlohmann::json stats = stop_linkem();
  size_t dups = 0;
  for (size_t at = r.output.find("(DUP!)"); at != std::string::npos;
       at = r.output.find("(DUP!)", at + 1)) {
    ++dups;
  }
  uint64_t duplicated = stats["up"]["duplicated"].get<uint64_t>();
  std::printf("ping duplicates %zu of 40, emulator duplicated %llu\n", dups,
              static_cast<unsigned long long>(duplicated));
  // 40 requests, p = 0.3: 12 expected, 2.9 standard deviation.
  EXPECT_GE(dups, 3u) << r.output;
  EXPECT_LE(dups, 24u) << r.output;
  // The emulator may also have copied a packet that is not ping's (an IPv6 neighbour
  // discovery message from the new device).
  EXPECT_LE(dups, duplicated);
  EXPECT_GE(dups + 3, duplicated);
  EXPECT_EQ(stats["down"]["duplicated"].get<uint64_t>(), 0u);
}

// Reordering on the uplink (10 % held back 20 ms, datagrams every 2 ms): the iperf3 receiver
// sees datagrams out of order, never more than the emulator held back.
TEST_F(LinkemLab, ReorderingIsVisible) {
  ASSERT_NO_FATAL_FAILURE(start_linkem(R"(name = "test-reorder"
[up]
delay_ms = 10
reorder = 0.1
reorder_delay_ms = 20
[down]
delay_ms = 10
)"));
  nlohmann::json report = iperf_up("-u -b 2M -l 500 -t 2 --get-server-output");
  nlohmann::json stats = stop_linkem();
  ASSERT_TRUE(report.contains("server_output_json")) << report.dump();
  // The receiver's count; the client gets its report with --get-server-output.
  uint64_t out_of_order = 0;
  const nlohmann::json& end = report["server_output_json"]["end"];
  for (const auto& stream : end.value("streams", nlohmann::json::array())) {
    if (stream.contains("udp")) out_of_order += stream["udp"].value("out_of_order", uint64_t{0});
  }
  uint64_t reordered = stats["up"]["reordered"].get<uint64_t>();
  uint64_t in = stats["up"]["packets_in"].get<uint64_t>();
  std::printf("iperf3 out of order %llu; emulator reordered %llu of %llu\n",
              static_cast<unsigned long long>(out_of_order),
              static_cast<unsigned long long>(reordered), static_cast<unsigned long long>(in));
  EXPECT_GT(out_of_order, 0u) << report.dump();
  EXPECT_LE(out_of_order, reordered);
  EXPECT_GT(static_cast<double>(reordered) / static_cast<double>(in), 0.05);
  EXPECT_LT(static_cast<double>(reordered) / static_cast<double>(in), 0.15);
}

// The base one-way delay of a profile file's [up] and [down] sections (their delay_ms lines),
// read the simple way: the shipped files write one key per line.
double section_delay_ms(const std::string& path, const std::string& section) {
  std::ifstream in(path);
  std::string line, current;
  static const std::regex delay(R"(^delay_ms\s*=\s*([0-9.]+))");
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') current = line;
    std::smatch m;
    if (current == "[" + section + "]" && std::regex_search(line, m, delay)) {
      return std::stod(m[1]);
    }
  }
  return -1;
}

// Every shipped profile runs in the emulator, and ping through it is never faster than the
// profile's two base delays. Loss is part of most profiles: some of the pings may go.
TEST_F(LinkemLab, ShippedProfilesRun) {
  for (const char* name :
       {"gprs", "edge", "umts", "hspa", "lte-cat1", "esp32-ppp", "lte-degrading"}) {
    SCOPED_TRACE(name);
    std::string path =
        cellrtc::test_paths::source_dir() + "/tools/linkem/profiles/" + name + ".toml";
    double up = section_delay_ms(path, "up");
    double down = section_delay_ms(path, "down");
    ASSERT_GT(up, 0);
    ASSERT_GT(down, 0);
    ASSERT_NO_FATAL_FAILURE(start_linkem_with_file(path));
    CommandResult r = ping("-c 8 -i 0.2 -W 3");
    nlohmann::json stats = stop_linkem();
    PingSummary s = parse_ping(r.output);
    std::printf("%s: %zu of 8 replies, rtt min %.1f avg %.1f ms (base %.0f ms)\n", name,
                s.replied.size(), s.min_ms, s.avg_ms, up + down);
    EXPECT_GE(s.replied.size(), 3u) << r.output;
    EXPECT_GE(s.min_ms, up + down) << r.output;
    EXPECT_EQ(stats["profile"].get<std::string>(), name);
  }
}

}  // namespace
}  // namespace cellrtc::lab
