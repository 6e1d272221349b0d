// How many round trips ICE takes to connect over cellular-like links, in the simulator.
// Usage: ice_connect_bench [--seeds N] [--out FILE.json]
// Each scenario runs N seeds; the JSON has median, p90 and worst round trips (time from the
// start of checks to the selected pair on the device, divided by the path's base RTT), the
// share of runs that connected within 30 s, and simulated vs real time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "support/ice_scenario.h"

using namespace cellrtc;
using testing::fixed_link;
using testing::IceScenario;
using testing::ip;

namespace {

struct Outcome {
  std::vector<double> round_trips;
  int connected = 0;
  int runs = 0;
};

Outcome run(const bench::CellularProfile& profile, bool lite_server, bool symmetric_nat,
            int seeds) {
  Outcome out;
  for (int seed = 1; seed <= seeds; ++seed) {
    IceScenario s(static_cast<uint64_t>(seed) * 7919 + (lite_server ? 1 : 0));
    sim::NatConfig nat;
    if (symmetric_nat) {
      nat.mapping = sim::NatMapping::address_and_port_dependent;
      nat.filtering = sim::NatFiltering::address_and_port_dependent;
    }
    auto cgnat =
        s.net.add_nat("cgnat", ip("100.64.0.1"), nat, s.net.internet(), fixed_link(milliseconds(0)))
            .value();
    sim::LinkConfig up;
    up.delay = profile.one_way - profile.jitter / 2;
    up.jitter = profile.jitter;
    up.loss = profile.loss;
    up.rate_bps = profile.up_bps;
    up.queue_limit_bytes = 64 * 1024;
    sim::LinkConfig down = up;
    down.rate_bps = profile.down_bps;
    auto device = s.net.add_host("device", ip("10.0.0.2"), cgnat, {up, down}).value();
    auto server =
        s.net.add_host("server", ip("198.51.100.1"), s.net.internet(), fixed_link(milliseconds(10)))
            .value();
    ice::IceConfig dev;
    dev.role = ice::Role::controlling;
    ice::IceConfig srv;
    if (lite_server) {
      dev.nomination = ice::Nomination::aggressive;
      srv.lite = true;
    } else {
      srv.role = ice::Role::controlled;
    }
    s.make_agents(dev, srv, milliseconds(0));
    if (lite_server) s.a->trickle = false;
    s.start(device, server);
    ++out.runs;
    if (s.run_until_connected(seconds(30))) {
      ++out.connected;
      out.round_trips.push_back(s.round_trips(2 * (profile.one_way + milliseconds(10))));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 200;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc)
      seeds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc)
      out_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--out FILE.json]\n", argv[0]);
      return 2;
    }
  }
  auto wall_start = std::chrono::steady_clock::now();
  std::string json = "{\n  \"benchmark\": \"ice_connect\",\n  \"seeds\": " + std::to_string(seeds) +
                     ",\n  \"scenarios\": [\n";
  bool first = true;
  for (const auto& profile : bench::kCellularProfiles) {
    for (int mode = 0; mode < 3; ++mode) {
      bool lite = mode != 2;
      bool symmetric = mode == 1;
      const char* mode_name = mode == 0   ? "device->lite server, EIM carrier NAT"
                              : mode == 1 ? "device->lite server, symmetric carrier NAT"
                                          : "full<->full, regular nomination, EIM carrier NAT";
      Outcome o = run(profile, lite, symmetric, seeds);
      char line[512];
      std::snprintf(line, sizeof line,
                    "%s    {\"link\": \"%s\", \"mode\": \"%s\", \"runs\": %d, \"connected\": %d, "
                    "\"round_trips_median\": %.2f, \"round_trips_p90\": %.2f, "
                    "\"round_trips_max\": %.2f}",
                    first ? "" : ",\n", profile.name, mode_name, o.runs, o.connected,
                    bench::percentile(o.round_trips, 0.5), bench::percentile(o.round_trips, 0.9),
                    bench::percentile(o.round_trips, 1.0));
      json += line;
      first = false;
      std::printf("%-5s %-50s connected %d/%d  round trips median %.2f p90 %.2f max %.2f\n",
                  profile.name, mode_name, o.connected, o.runs,
                  bench::percentile(o.round_trips, 0.5), bench::percentile(o.round_trips, 0.9),
                  bench::percentile(o.round_trips, 1.0));
    }
  }
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  json += "\n  ],\n  \"wall_seconds\": " + std::to_string(wall) + "\n}\n";
  if (!bench::write_json(out_path, json)) return 1;
  return 0;
}
