// Data-channel (SCTP) throughput in the simulator: a bulk transfer over a 10 Mbit/s link (or
// --mbps N) at 0, 50, 150 and 300 ms RTT with 0 % and 2 % random loss (both directions).
// Usage: sctp_throughput_bench [--megabytes N] [--mbps N] [--seeds N] [--out FILE.json]
// Goodput is user bytes delivered per second of virtual time, from the first send to the last
// byte delivered; each row is the median over the seeds, for the default configuration
// (CongestionControl::delivery_rate), for RFC 9260 congestion control, and for usrsctp at both
// ends over the same simulated link (the stack browsers used for data channels; Debian's
// libusrsctp, in-process over AF_CONN on the simulator's time, see support/usrsctp_clock.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "support/sctp_endpoint.h"
#if CELLRTC_WITH_USRSCTP
#include "support/usrsctp_endpoint.h"
#endif

using namespace cellrtc;

namespace {

struct Outcome {
  double goodput_bps = 0;  // median
  double worst_bps = 0;
  int completed = 0;
  uint64_t fast_retransmits = 0;
  uint64_t timeouts = 0;
  uint32_t srtt_ms = 0;  // usrsctp's smoothed RTT at the end of the last run (sanity check)
};

Outcome run(uint64_t rate, Duration rtt, double loss, sctp::CongestionControl cc, size_t bytes,
            int seeds) {
  Outcome r;
  std::vector<double> goodputs;
  for (int seed = 1; seed <= seeds; ++seed) {
    sctp::SctpConfig config;
    config.congestion_control = cc;
    config.send_buffer_limit = 2 * 1024 * 1024;
    config.stream_send_buffer_limit = 2 * 1024 * 1024;
    config.receive_window = 1024 * 1024;
    testing::SctpTransfer t(testing::lossy_path(rate, rtt, loss), config, config,
                            static_cast<uint64_t>(seed));
    if (!t.connect()) continue;
    auto took = t.transfer(bytes, 64 * 1024, seconds(1200));
    if (!took) continue;
    ++r.completed;
    goodputs.push_back(static_cast<double>(bytes) * 8 / (static_cast<double>(took->count()) / 1e6));
    auto s = t.sender.assoc.stats();
    r.fast_retransmits += s.fast_retransmits;
    r.timeouts += s.rto_expirations;
  }
  if (!goodputs.empty()) {
    std::sort(goodputs.begin(), goodputs.end());
    r.goodput_bps = goodputs[goodputs.size() / 2];
    r.worst_bps = goodputs.front();
  }
  return r;
}

#if CELLRTC_WITH_USRSCTP
// The same transfer with usrsctp at both ends; send and receive buffers as large as ours.
Outcome run_usrsctp(uint64_t rate, Duration rtt, double loss, size_t bytes, int seeds) {
  Outcome r;
  std::vector<double> goodputs;
  for (int seed = 1; seed <= seeds; ++seed) {
    testing::UsrsctpTransfer t(testing::lossy_path(rate, rtt, loss), 2 * 1024 * 1024,
                               static_cast<uint64_t>(seed));
    if (!t.connect()) continue;
    auto took = t.transfer(bytes, 64 * 1024, seconds(1200));
    if (!took) continue;
    ++r.completed;
    goodputs.push_back(static_cast<double>(bytes) * 8 / (static_cast<double>(took->count()) / 1e6));
    r.srtt_ms = t.sender.srtt_ms();
    auto s = t.retransmissions();
    r.fast_retransmits += s.fast_retransmits;
    r.timeouts += s.timeouts;
  }
  if (!goodputs.empty()) {
    std::sort(goodputs.begin(), goodputs.end());
    r.goodput_bps = goodputs[goodputs.size() / 2];
    r.worst_bps = goodputs.front();
  }
  return r;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int megabytes = 10;
  int mbps = 10;
  int seeds = 3;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--megabytes") && i + 1 < argc) {
      megabytes = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--mbps") && i + 1 < argc) {
      mbps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--megabytes N] [--mbps N] [--seeds N] [--out FILE.json]\n",
                   argv[0]);
      return 2;
    }
  }
  if (megabytes <= 0 || mbps <= 0 || seeds <= 0) {
    std::fprintf(stderr, "--megabytes, --mbps and --seeds must be positive\n");
    return 2;
  }
  const uint64_t rate = static_cast<uint64_t>(mbps) * 1'000'000;
  const size_t bytes = static_cast<size_t>(megabytes) * 1000 * 1000;
  auto wall_start = std::chrono::steady_clock::now();
  std::string json =
      "{\n  \"benchmark\": \"sctp_throughput\",\n  \"link_bps\": " + std::to_string(rate) +
      ",\n  \"bytes\": " + std::to_string(bytes) + ",\n  \"seeds\": " + std::to_string(seeds) +
      ",\n  \"scenarios\": [\n";
  bool first = true;
  for (int rtt_ms : {0, 50, 150, 300}) {
    for (double loss : {0.0, 0.02}) {
      std::vector<const char*> stacks = {"delivery_rate", "rfc9260"};
#if CELLRTC_WITH_USRSCTP
      stacks.push_back("usrsctp");
#endif
      for (const char* cc : stacks) {
        Outcome r =
            std::strcmp(cc, "usrsctp") == 0
#if CELLRTC_WITH_USRSCTP
                ? run_usrsctp(rate, milliseconds(rtt_ms), loss, bytes, seeds)
#else
                ? Outcome{}
#endif
                : run(rate, milliseconds(rtt_ms), loss,
                      std::strcmp(cc, "rfc9260") == 0 ? sctp::CongestionControl::rfc9260
                                                      : sctp::CongestionControl::delivery_rate,
                      bytes, seeds);
        char line[512];
        std::snprintf(line, sizeof line,
                      "%s    {\"stack\": \"%s\", \"rtt_ms\": %d, \"loss\": %.2f, "
                      "\"congestion_control\": \"%s\", "
                      "\"completed\": %d, \"goodput_bps_median\": %.0f, \"goodput_bps_worst\": "
                      "%.0f, \"fast_retransmits\": %llu, \"timeouts\": %llu}",
                      first ? "" : ",\n", std::strcmp(cc, "usrsctp") == 0 ? "usrsctp" : "cellrtc",
                      rtt_ms, loss, cc, r.completed, r.goodput_bps, r.worst_bps,
                      static_cast<unsigned long long>(r.fast_retransmits),
                      static_cast<unsigned long long>(r.timeouts));
        json += line;
        first = false;
        std::printf(
            "rtt %3d ms loss %2.0f%% %-13s  goodput %6.2f Mbit/s (%3.0f%%), worst %6.2f, "
            "%d/%d done, %llu fast rtx, %llu timeouts\n",
            rtt_ms, loss * 100, cc, r.goodput_bps / 1e6,
            100 * r.goodput_bps / static_cast<double>(rate), r.worst_bps / 1e6, r.completed, seeds,
            static_cast<unsigned long long>(r.fast_retransmits),
            static_cast<unsigned long long>(r.timeouts));
        if (r.srtt_ms > 0) std::printf("    usrsctp's own smoothed RTT: %u ms\n", r.srtt_ms);
        std::fflush(stdout);
      }
    }
  }
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  json += "\n  ],\n  \"wall_seconds\": " + std::to_string(wall) + "\n}\n";
  if (!bench::write_json(out_path, json)) return 1;
  return 0;
}
