// The adaptive newest-frame-wins streamer against a sender that behaves like the original
// design, on cellular link profiles in the simulator, in the same run.
// Usage: streamer_bench [--seconds S] [--link NAME] [--out FILE.json]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "support/streaming_scenario.h"

using namespace cellrtc;
using testing::PeerScenario;
using testing::StreamerKind;

namespace {

struct Profile {
  const char* name;
  uint64_t up_bps;
  Duration rtt;
  bool halves = false;  // capacity halves for 30 s after 40 s
};

// The profiles, each with 1 % loss: GPRS ~40 kbit/s ~1 s RTT, EDGE ~200 kbit/s 400 ms,
// UMTS 384 kbit/s 200 ms, HSPA 2 Mbit/s 100 ms, LTE Cat-1 5 Mbit/s 60 ms; and a 1 Mbit/s link
// whose capacity halves for 30 s.
const Profile kProfiles[] = {
    {"gprs", 40'000, milliseconds(1000)},      {"edge", 200'000, milliseconds(400)},
    {"umts", 384'000, milliseconds(200)},      {"hspa", 2'000'000, milliseconds(100)},
    {"lte-cat1", 5'000'000, milliseconds(60)}, {"halving", 1'000'000, milliseconds(150), true},
};

sim::Attachment link(const Profile& p) {
  sim::LinkConfig up;
  up.rate_bps = p.up_bps;
  up.delay = p.rtt / 2 - milliseconds(10);
  up.loss = 0.01;
  // A cellular uplink buffers a lot (bufferbloat): about 2 s at the link rate, 16 KB at least.
  up.queue_limit_bytes = std::max<size_t>(16'384, p.up_bps / 4);
  sim::LinkConfig down = up;
  down.rate_bps = p.up_bps * 4;
  return {up, down};
}

}  // namespace

int main(int argc, char** argv) {
  int seconds_to_run = 120;
  const char* out_path = nullptr;
  const char* only_link = nullptr;  // run one profile
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds_to_run = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--link") && i + 1 < argc) {
      only_link = argv[++i];
    } else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S] [--link NAME] [--out FILE.json]\n", argv[0]);
      return 2;
    }
  }
  std::string json =
      "{\n  \"benchmark\": \"streamer\",\n  \"seconds\": " + std::to_string(seconds_to_run) +
      ",\n  \"runs\": [\n";
  bool first = true;
  std::printf("%-9s %-9s %6s %9s %6s %9s %9s %9s %5s %6s\n", "link", "streamer", "fps", "kbit/s",
              "util", "p50 ms", "p95 ms", "p99 ms", "q", "kpx");
  for (const auto& p : kProfiles) {
    if (only_link && std::strcmp(only_link, p.name) != 0) continue;
    for (auto kind : {StreamerKind::adaptive, StreamerKind::original}) {
      PeerScenario s(42, link(p));
      if (p.halves) {
        Instant at = s.net.now() + seconds(40);
        s.net.uplink(s.device_host).schedule_rate(at, p.up_bps / 2);
        s.net.uplink(s.device_host).schedule_rate(at + seconds(30), p.up_bps);
      }
      auto r = testing::run_streaming(s, kind, seconds(seconds_to_run));
      // Utilisation against the link rate (the halving profile's average rate).
      double capacity = p.halves ? p.up_bps * (1 - 0.5 * 30.0 / seconds_to_run) : p.up_bps;
      double util = r.goodput_bps / capacity;
      const char* name = kind == StreamerKind::adaptive ? "adaptive" : "original";
      // kpx: the mean picture size of the frames encoded, in thousands of pixels.
      std::printf("%-9s %-9s %6.1f %9.1f %5.0f%% %9.0f %9.0f %9.0f %5.1f %6.0f\n", p.name, name,
                  r.fps, r.goodput_bps / 1000, util * 100, r.percentile(0.5), r.percentile(0.95),
                  r.percentile(0.99), r.mean_quality, r.mean_pixels / 1000);
      char line[512];
      std::snprintf(line, sizeof line,
                    "%s    {\"link\": \"%s\", \"streamer\": \"%s\", \"fps\": %.2f, "
                    "\"goodput_bps\": %.0f, \"utilisation\": %.3f, \"latency_ms_p50\": %.0f, "
                    "\"latency_ms_p95\": %.0f, \"latency_ms_p99\": %.0f, \"mean_quality\": %.1f, "
                    "\"mean_pixels\": %.0f}",
                    first ? "" : ",\n", p.name, name, r.fps, r.goodput_bps, util, r.percentile(0.5),
                    r.percentile(0.95), r.percentile(0.99), r.mean_quality, r.mean_pixels);
      json += line;
      first = false;
    }
  }
  json += "\n  ]\n}\n";
  if (!bench::write_json(out_path, json)) return 1;
  return 0;
}
