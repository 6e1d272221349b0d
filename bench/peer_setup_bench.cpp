// Setup time of a whole call in round trips, offer to data channel open at the server (when
// the first frame can leave), over cellular-like links, in the simulator.
// Usage: peer_setup_bench [--seeds N] [--out FILE.json]
//
// With --stream SECONDS it instead streams 20 KB messages at 15/s from device to server for
// that long, with --pairs K calls side by side, so a heap profiler (valgrind massif) can
// attribute memory per PeerConnection: (peak(K) - peak(1)) / (2 (K - 1)).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "support/peer_scenario.h"

using namespace cellrtc;
using testing::PeerScenario;

namespace {

int stream(int pairs, int seconds_to_run) {
  std::vector<std::unique_ptr<PeerScenario>> calls;
  sim::LinkConfig link;
  link.rate_bps = 2'000'000;
  link.delay = milliseconds(50);
  for (int i = 0; i < pairs; ++i) {
    calls.push_back(std::make_unique<PeerScenario>(static_cast<uint64_t>(i + 1),
                                                   sim::Attachment::symmetric(link)));
    auto& s = *calls.back();
    if (!s.start(milliseconds(120), {.label = "video", .ordered = false, .max_retransmits = 0}) ||
        !s.run_until_open(seconds(10))) {
      std::fprintf(stderr, "call %d did not open\n", i);
      return 1;
    }
    for (int f = 0; f < seconds_to_run * 15; ++f) {
      s.net.at(s.net.now() + milliseconds(1000) * f / 15, [&s] {
        if (s.device->pc.buffered_amount(s.channel_id) <= 64 * 1024)
          (void)s.device->pc.send(s.net.now(), s.channel_id, Bytes(20 * 1024, 0x55), true);
        s.device->drain(s.net.now());
        s.net.wake(*s.device);
        s.server->messages.clear();  // the server forwards and forgets
      });
    }
  }
  for (auto& s : calls) {
    if (!s->net.run_for(seconds(seconds_to_run)).ok()) return 1;
  }
  std::printf("streamed %d s in %d call(s)\n", seconds_to_run, pairs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 50;
  int stream_seconds = 0;
  int pairs = 1;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
      out_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--stream") && i + 1 < argc) {
      stream_seconds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--pairs") && i + 1 < argc) {
      pairs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--out FILE.json] | --stream S [--pairs K]\n",
                   argv[0]);
      return 2;
    }
  }
  if (stream_seconds > 0) return stream(pairs, stream_seconds);

  std::string json = "{\n  \"benchmark\": \"peer_setup\",\n  \"seeds\": " + std::to_string(seeds) +
                     ",\n  \"scenarios\": [\n";
  bool first = true;
  for (const auto& p : bench::kCellularProfiles) {
    Duration rtt = 2 * (p.one_way + milliseconds(10));
    std::vector<double> rtts;
    // The device's own counts per phase (PeerStats::round_trips): requests it sent and waited
    // on, retransmissions included.
    std::vector<double> ice, dtls, sctp, channel;
    int opened = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      PeerScenario s(static_cast<uint64_t>(seed), bench::attachment(p));
      if (!s.start(rtt, {.label = "video", .ordered = false})) continue;
      if (s.run_until_open(seconds(60))) {
        ++opened;
        rtts.push_back(s.setup_round_trips(rtt));
        // The device's DCEP count ends when its OPEN is acknowledged.
        (void)s.net.run_until(
            [&] {
              const auto* c = s.device->pc.channels().find(s.channel_id);
              return c && c->acked;
            },
            s.net.now() + seconds(60));
        auto r = s.device->pc.stats().round_trips;
        ice.push_back(r.ice);
        dtls.push_back(r.dtls);
        sctp.push_back(r.sctp);
        channel.push_back(r.channel);
      }
    }
    char line[800];
    std::snprintf(line, sizeof line,
                  "%s    {\"link\": \"%s\", \"runs\": %d, \"opened\": %d, "
                  "\"round_trips_median\": %.2f, \"round_trips_p90\": %.2f, "
                  "\"round_trips_max\": %.2f, \"seconds_median\": %.2f, "
                  "\"device_counted\": {\"ice_median\": %.1f, \"ice_max\": %.0f, "
                  "\"dtls_median\": %.1f, \"dtls_max\": %.0f, \"sctp_median\": %.1f, "
                  "\"sctp_max\": %.0f, \"channel_median\": %.1f, \"channel_max\": %.0f}}",
                  first ? "" : ",\n", p.name, seeds, opened, bench::percentile(rtts, 0.5),
                  bench::percentile(rtts, 0.9), bench::percentile(rtts, 1.0),
                  bench::percentile(rtts, 0.5) * static_cast<double>(rtt.count()) / 1e6,
                  bench::percentile(ice, 0.5), bench::percentile(ice, 1.0),
                  bench::percentile(dtls, 0.5), bench::percentile(dtls, 1.0),
                  bench::percentile(sctp, 0.5), bench::percentile(sctp, 1.0),
                  bench::percentile(channel, 0.5), bench::percentile(channel, 1.0));
    json += line;
    first = false;
    std::printf(
        "%-5s opened %d/%d  offer->open round trips median %.2f p90 %.2f max %.2f "
        "(median %.2f s)\n",
        p.name, opened, seeds, bench::percentile(rtts, 0.5), bench::percentile(rtts, 0.9),
        bench::percentile(rtts, 1.0),
        bench::percentile(rtts, 0.5) * static_cast<double>(rtt.count()) / 1e6);
    std::printf(
        "      device counted: ICE %.1f (max %.0f), DTLS %.1f (%.0f), SCTP %.1f (%.0f), "
        "DCEP %.1f (%.0f)\n",
        bench::percentile(ice, 0.5), bench::percentile(ice, 1.0), bench::percentile(dtls, 0.5),
        bench::percentile(dtls, 1.0), bench::percentile(sctp, 0.5), bench::percentile(sctp, 1.0),
        bench::percentile(channel, 0.5), bench::percentile(channel, 1.0));
  }
  json += "\n  ]\n}\n";
  if (!bench::write_json(out_path, json)) return 1;
  return 0;
}
