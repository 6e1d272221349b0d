// Load on cellrtc-server's relay: one publisher streams frames of a fixed size at a fixed rate
// into the real server binary, N viewers watch it; every client is a PeerConnection of our core
// in this process (a separate process from the server), all on loopback. For each N: the
// server's CPU time and resident memory (from /proc) over a measured window, and the share of
// the published frames each viewer received.
//
//   relay_load_bench --viewers 1,2,4,8,16,32 --seconds 10 --out relay_load.json
//
// Results and the command line are in docs/benchmarks.md. The machine's cores are shared by the
// server and this client (which decrypts N streams), so the largest N it reports is a bound for
// this machine, not for the server alone: the JSON has the client's CPU too.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/dtls/certificate.h"
#include "core/media/frame_header.h"
#include "core/peer/peer_connection.h"
#include "device/whip_client.h"
#include "interop/child_process.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"

namespace cellrtc::bench {
namespace {

using runtime::EndpointDriver;
using runtime::EventLoop;

struct Options {
  std::vector<int> viewers = {1, 2, 4, 8, 16, 32};
  double seconds = 10;
  double warmup_seconds = 3;
  size_t frame_bytes = 20000;
  int fps = 10;
  std::string server = CELLRTC_BINARY_DIR "/server/cellrtc-server";
  const char* out = nullptr;
};

// A client PeerConnection on its own loopback UDP socket; counts what arrives on `video`.
class Client : public DatagramEndpoint {
 public:
  Client(peer::PeerConfig config, Random& rng) : pc(std::move(config), rng) {}

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    pc.handle_datagram(now, local, from, data);
    drain();
  }
  void handle_timeout(Instant now) override {
    pc.handle_timeout(now);
    drain();
  }
  std::optional<Transmit> poll_transmit() override { return pc.poll_transmit(); }
  std::optional<Instant> next_timeout() const override { return pc.next_timeout(); }

  void drain() {
    while (auto e = pc.poll_event()) {
      if (auto* o = std::get_if<datachannel::event::ChannelOpen>(&*e)) {
        if (o->label == "video") video_open = true;
      } else if (auto* m = std::get_if<datachannel::event::ChannelMessage>(&*e)) {
        auto frame = media::parse_frame(m->data);
        if (frame && counting) {
          ++frames;
          if (last_seq && frame->header.sequence <= *last_seq) ++out_of_order;
          last_seq = frame->header.sequence;
        }
      } else if (auto* f = std::get_if<peer::event::Failed>(&*e)) {
        failure = f->reason;
      }
    }
  }

  peer::PeerConnection pc;
  bool video_open = false;
  bool counting = false;
  uint64_t frames = 0;
  uint64_t out_of_order = 0;
  std::optional<uint32_t> last_seq;
  std::optional<std::string> failure;
};

struct ProcessSample {
  double cpu_seconds = 0;  // user + system
  double rss_kb = 0;
};

std::optional<ProcessSample> sample_process(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;)
    f.push_back(x);
  if (f.size() < 22) return std::nullopt;
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessSample s;
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;  // utime, stime
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(status, l);) {
    if (l.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stod(l.substr(6));
  }
  return s;
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Row {
  int viewers = 0;
  bool ok = false;
  std::string error;
  uint64_t published = 0;
  double server_cpu_percent = 0;
  double server_rss_kb = 0;
  double client_cpu_percent = 0;
  double delivered_min = 0;
  double delivered_median = 0;
  uint64_t out_of_order = 0;
};

// One run: a fresh server, a publisher, `n` viewers.
Row run(const Options& opt, int n, const dtls::Certificate& cert, Random& rng) {
  Row row;
  row.viewers = n;
  std::string token = "load-bench-token-0123456789";
  std::string error;
  auto server = interop::ChildProcess::spawn(
      {.program = opt.server,
       .args = {"--listen", "127.0.0.1:0", "--udp-port", "0", "--device", "load:" + token,
                "--max-viewers-per-device", "100000", "--max-viewers", "100000",
                "--requests-per-second", "10000", "--request-burst", "10000", "--log-level",
                "warn"},
       .log_path = "relay_load_server.log"},
      &error);
  if (!server) {
    row.error = "cannot start the server: " + error;
    return row;
  }
  std::string base;
  for (int i = 0; i < 50; ++i) {
    auto line = server->read_line(std::chrono::milliseconds(200));
    if (!line) continue;
    if (line->rfind("listening ", 0) == 0) base = line->substr(10);
    if (*line == "ready") break;
  }
  if (base.empty()) {
    row.error = "server did not start: " + server->log_tail();
    return row;
  }

  auto loop_result = EventLoop::create();
  if (!loop_result) {
    row.error = "no event loop";
    return row;
  }
  EventLoop& loop = **loop_result;
  auto make_client = [&] {
    peer::PeerConfig config;
    config.certificate = &cert;
    return std::make_unique<Client>(std::move(config), rng);
  };
  struct Peer {
    std::unique_ptr<Client> client;
    std::unique_ptr<EndpointDriver> driver;
    std::optional<device::WhipSession> session;
    uint16_t video = 0;
  };
  // Opens `peer` with an offer carrying `video` and `control`, POSTed to `url`.
  auto connect = [&](Peer& p, const std::string& url, const std::string& bearer) -> bool {
    p.client = make_client();
    p.driver = std::make_unique<EndpointDriver>(loop, *p.client);
    auto bound = p.driver->add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
    if (!bound) return false;
    Instant now = loop.now();
    (void)p.client->pc.add_host_socket(now, *bound);
    p.client->pc.end_of_local_sockets(now);
    auto video = p.client->pc.create_data_channel(
        now, {.label = "video", .ordered = false, .max_retransmits = 0u});
    if (!video) return false;
    p.video = *video;
    (void)p.client->pc.create_data_channel(now, {.label = "control"});
    auto offer = p.client->pc.create_offer(now);
    if (!offer) return false;
    device::WhipClientConfig whip_config;
    whip_config.url = url;
    whip_config.token = bearer;
    device::WhipClient whip(whip_config);
    auto session = whip.publish(*offer);
    if (!session) {
      row.error = session.error().message;
      return false;
    }
    if (!p.client->pc.set_remote_description(loop.now(), session->answer)) return false;
    p.session = std::move(*session);
    p.driver->wake();
    return true;
  };

  Peer publisher;
  if (!connect(publisher, base + "/whip", token)) {
    if (row.error.empty()) row.error = "publish failed";
    return row;
  }
  std::vector<Peer> viewers(static_cast<size_t>(n));
  for (auto& v : viewers) {
    if (!connect(v, base + "/whep/load", "")) {
      if (row.error.empty()) row.error = "watch failed";
      return row;
    }
  }
  auto all_open = [&] {
    if (!publisher.client->video_open) return false;
    return std::all_of(viewers.begin(), viewers.end(),
                       [](const Peer& v) { return v.client->video_open; });
  };
  if (!loop.run_until(all_open, loop.now() + seconds(20))) {
    row.error = "channels did not open within 20 s";
    return row;
  }

  // The publisher: one frame every 1/fps, skipped (never queued) while its channel still holds
  // two frames, as the device's newest-frame-wins sender would.
  const uint16_t video = publisher.video;
  Bytes jpeg(opt.frame_bytes - media::kFrameHeaderSize, 0x5a);
  jpeg[0] = 0xff;
  jpeg[1] = 0xd8;
  jpeg[jpeg.size() - 2] = 0xff;
  jpeg[jpeg.size() - 1] = 0xd9;
  uint32_t seq = 0;
  bool measuring = false;
  Duration interval = Duration(1'000'000 / opt.fps);
  std::function<void()> tick = [&] {
    Instant now = loop.now();
    if (publisher.client->pc.buffered_amount(video) < 2 * opt.frame_bytes) {
      media::FrameHeader h{.sequence = ++seq,
                           .capture_time_us = static_cast<uint64_t>(now.us()),
                           .width = 640,
                           .height = 480,
                           .quality = 40};
      if (publisher.client->pc.send(now, video, encode_frame(h, jpeg)) && measuring) {
        ++row.published;
      }
      publisher.driver->wake();
    }
    loop.add_timer(now + interval, tick);
  };
  loop.add_timer(loop.now(), tick);
  loop.run_for(Duration(static_cast<int64_t>(opt.warmup_seconds * 1e6)));

  auto before = sample_process(server->pid());
  double self_before = self_cpu_seconds();
  Instant start = loop.now();
  measuring = true;
  for (auto& v : viewers)
    v.client->counting = true;
  loop.run_for(Duration(static_cast<int64_t>(opt.seconds * 1e6)));
  measuring = false;
  for (auto& v : viewers)
    v.client->counting = false;
  double wall = static_cast<double>((loop.now() - start).count()) / 1e6;
  auto after = sample_process(server->pid());
  double self_after = self_cpu_seconds();
  if (!before || !after) {
    row.error = "cannot read /proc of the server";
    return row;
  }
  row.server_cpu_percent = 100 * (after->cpu_seconds - before->cpu_seconds) / wall;
  row.server_rss_kb = after->rss_kb;
  row.client_cpu_percent = 100 * (self_after - self_before) / wall;
  std::vector<double> delivered;
  for (auto& v : viewers) {
    // Frames in flight at the window's edges count against neither side by more than one.
    double share = row.published
                       ? static_cast<double>(v.client->frames) / static_cast<double>(row.published)
                       : 0;
    delivered.push_back(std::min(share, 1.0));
    row.out_of_order += v.client->out_of_order;
  }
  row.delivered_min = *std::min_element(delivered.begin(), delivered.end());
  row.delivered_median = percentile(delivered, 0.5);
  row.ok = true;
  for (auto& v : viewers) {
    if (v.session) {
      device::WhipClientConfig whip_config;
      whip_config.url = v.session->resource_url;
      device::WhipClient whip(whip_config);
      (void)whip.end(*v.session, seconds(2));
    }
  }
  return row;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    out.push_back(std::atoi(item.c_str()));
  return out;
}

int main_impl(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--viewers") {
      opt.viewers = parse_list(argv[i + 1]);
    } else if (a == "--seconds") {
      opt.seconds = std::atof(argv[i + 1]);
    } else if (a == "--frame-bytes") {
      opt.frame_bytes = static_cast<size_t>(std::atol(argv[i + 1]));
    } else if (a == "--fps") {
      opt.fps = std::atoi(argv[i + 1]);
    } else if (a == "--server") {
      opt.server = argv[i + 1];
    } else if (a == "--out") {
      opt.out = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: relay_load_bench [--viewers 1,2,4] [--seconds S] [--frame-bytes B] "
                   "[--fps F] [--server PATH] [--out FILE]\n");
      return 2;
    }
  }
  if (opt.fps < 1 || opt.frame_bytes < 64 || opt.seconds <= 0) {
    std::fprintf(stderr, "relay_load_bench: fps >= 1, frame-bytes >= 64, seconds > 0\n");
    return 2;
  }
  runtime::OsRandom rng;
  auto cert = dtls::Certificate::generate(rng, "relay-load");
  if (!cert) return 1;

  std::string json = "{\"frame_bytes\":" + std::to_string(opt.frame_bytes) +
                     ",\"fps\":" + std::to_string(opt.fps) +
                     ",\"seconds\":" + std::to_string(opt.seconds) + ",\"runs\":[";
  std::printf("%8s %10s %12s %12s %12s %10s %10s %6s\n", "viewers", "server%", "server MB",
              "KB/viewer", "client%", "min got", "median", "ooo");
  std::optional<Row> smallest;  // the first run: memory per viewer is counted from it
  bool first = true;
  for (int n : opt.viewers) {
    Row r = run(opt, n, *cert, rng);
    if (!r.ok) {
      std::printf("%8d  failed: %s\n", n, r.error.c_str());
      continue;
    }
    if (!smallest) smallest = r;
    double per_viewer = n > smallest->viewers
                            ? (r.server_rss_kb - smallest->server_rss_kb) / (n - smallest->viewers)
                            : 0;
    std::printf("%8d %10.1f %12.1f %12.1f %12.1f %10.3f %10.3f %6" PRIu64 "\n", n,
                r.server_cpu_percent, r.server_rss_kb / 1024, per_viewer, r.client_cpu_percent,
                r.delivered_min, r.delivered_median, r.out_of_order);
    std::fflush(stdout);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"viewers\":%d,\"published\":%" PRIu64
                  ",\"server_cpu_percent\":%.2f,\"server_rss_kb\":%.0f,"
                  "\"server_rss_kb_per_viewer\":%.1f,\"client_cpu_percent\":%.2f,"
                  "\"delivered_min\":%.4f,\"delivered_median\":%.4f,\"out_of_order\":%" PRIu64 "}",
                  first ? "" : ",", n, r.published, r.server_cpu_percent, r.server_rss_kb,
                  per_viewer, r.client_cpu_percent, r.delivered_min, r.delivered_median,
                  r.out_of_order);
    json += buf;
    first = false;
  }
  json += "]}\n";
  return write_json(opt.out, json) ? 0 : 1;
}

}  // namespace
}  // namespace cellrtc::bench

int main(int argc, char** argv) {
  return cellrtc::bench::main_impl(argc, argv);
}
