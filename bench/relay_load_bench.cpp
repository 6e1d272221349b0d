// Load on cellrtc-server's relay: one publisher streams frames of a fixed size at a fixed rate
// into the real server binary, N viewers watch it; every client is a PeerConnection of our core
// in this process (a separate process from the server), all on loopback. For each N: the
// server's CPU time and resident memory (from /proc) over a measured window, and the share of
// the published frames each viewer received.
//
//   relay_load_bench --viewers 1,2,4,8,16,32 --seconds 10 --out relay_load.json
//
// With --janus PATH the same load also runs through Janus (Debian package `janus`, installed
// with `apt-get install janus`; only this option needs it): the publisher joins a VideoRoom with
// a data channel, each viewer subscribes to its feed, and Janus forwards the messages. Runs
// alternate between the two servers (--runs times per viewer count) and a table of medians per
// server and viewer count ends the output.
//
// Results and the command line are in docs/benchmarks.md. The machine's cores are shared by the
// server and this client (which decrypts N streams), so the largest N it reports is a bound for
// this machine, not for the server alone: the JSON has the client's CPU too.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/janus_videoroom.h"
#include "core/dtls/certificate.h"
#include "core/media/frame_header.h"
#include "core/peer/peer_connection.h"
#include "device/whip_client.h"
#include "interop/child_process.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/build_paths.h"

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
  std::string server = cellrtc::test_paths::binary_dir() + "/server/cellrtc-server";
  std::string janus;  // empty: cellrtc-server only
  int runs = 1;
  const char* out = nullptr;
};

enum class Target { cellrtc, janus };

// Janus's clients sit on the far end of the private veth pair (see enter_private_network).
const IpAddress kJanusClientAddress = IpAddress::v4(10, 47, 0, 2);
const char* to_string(Target t) {
  return t == Target::cellrtc ? "cellrtc" : "janus";
}

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
      if (auto* st = std::get_if<peer::event::StateChanged>(&*e)) {
        if (st->state == peer::PeerState::connected) connected = true;
      } else if (auto* o = std::get_if<datachannel::event::ChannelOpen>(&*e)) {
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
  bool connected = false;
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
  Target target = Target::cellrtc;
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

// A TCP port on 127.0.0.1 that was free a moment ago (Janus takes its HTTP port from its
// configuration, it cannot report one it chose); 0 if none could be had.
uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// Why Janus cannot be used from `path`, or empty when it can.
std::string janus_missing(const std::string& path) {
  if (::access(path.c_str(), X_OK) != 0) {
    return "no Janus executable at " + path +
           ": install the Debian package (apt-get install janus, 1.1.x), or leave out --janus";
  }
  if (::access("/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_videoroom.so", R_OK) != 0 ||
      ::access("/usr/lib/x86_64-linux-gnu/janus/transports/libjanus_http.so", R_OK) != 0) {
    return "Janus's VideoRoom plugin or HTTP transport is missing under "
           "/usr/lib/x86_64-linux-gnu/janus (Debian package janus)";
  }
  return {};
}

// Janus gathers ICE candidates on no loopback interface and pins its sends to the interface of
// the candidate, so it cannot be reached on 127.0.0.1. For --janus the whole benchmark (both
// servers, all clients) moves into a network namespace of its own, connected to nothing: lo,
// and a veth pair whose ends hold Janus's address (relayload0, 10.47.0.1) and its clients'
// (relayload1, 10.47.0.2). accept_local lets the two local addresses talk over the pair.
// Needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root); the namespace ends with the process.
std::string enter_private_network(std::string* log) {
  if (::unshare(CLONE_NEWNET) != 0) {
    return std::string("cannot create a network namespace (run as root): ") + std::strerror(errno);
  }
  std::string ip;
  for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(candidate, X_OK) == 0) {
      ip = candidate;
      break;
    }
  }
  if (ip.empty()) return "no ip(8) found (Debian package iproute2)";
  const std::vector<std::vector<std::string>> commands = {
      {"link", "set", "lo", "up"},
      {"link", "add", "relayload0", "type", "veth", "peer", "name", "relayload1"},
      {"addr", "add", "10.47.0.1/24", "dev", "relayload0"},
      {"addr", "add", "10.47.0.2/24", "dev", "relayload1"},
      {"link", "set", "relayload0", "up"},
      {"link", "set", "relayload1", "up"}};
  for (const auto& args : commands) {
    std::string error;
    auto child = interop::ChildProcess::spawn(
        {.program = ip, .args = args, .log_path = *log, .capture_stdout = false}, &error);
    auto status = child ? child->wait(std::chrono::milliseconds(5000)) : std::nullopt;
    if (!status || *status != 0) {
      std::string line = ip;
      for (const auto& a : args)
        line += " " + a;
      return line + " failed" + (error.empty() ? "" : ": " + error);
    }
  }
  for (const char* dev : {"all", "relayload0", "relayload1"}) {
    std::string conf = std::string("/proc/sys/net/ipv4/conf/") + dev;
    std::ofstream(conf + "/accept_local") << "1\n";
    std::ofstream(conf + "/rp_filter") << "0\n";
  }
  return {};
}

// One run: a fresh server, a publisher, `n` viewers.
Row run(const Options& opt, Target target, int n, const dtls::Certificate& cert, Random& rng) {
  Row row;
  row.target = target;
  row.viewers = n;
  std::string token = "load-bench-token-0123456789";
  std::string error;
  std::optional<JanusConfig> janus_config;  // outlives the server process
  std::unique_ptr<interop::ChildProcess> server;
  std::string base;
  if (target == Target::cellrtc) {
    server = interop::ChildProcess::spawn(
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
  } else {
    uint16_t port = free_tcp_port();
    janus_config = JanusConfig::write(port, &error);
    if (!port || !janus_config) {
      row.error = port ? error : "no free TCP port on 127.0.0.1";
      return row;
    }
    server = interop::ChildProcess::spawn(
        {.program = opt.janus,
         .args = {"-F", janus_config->path(), "-C", janus_config->main_file(), "-o"},
         .log_path = "relay_load_janus.log",
         .capture_stdout = false},
        &error);
    if (!server) {
      row.error = "cannot start Janus: " + error;
      return row;
    }
    base = "http://127.0.0.1:" + std::to_string(port) + "/janus";
    JanusHttp probe(base);
    for (int i = 0; i < 100 && base.size(); ++i) {
      if (probe.info()) break;
      if (i == 99 || !server->running()) base.clear();
      usleep(100'000);
    }
    if (base.empty()) {
      row.error = "Janus did not answer on HTTP within 10 s: " + server->log_tail();
      return row;
    }
  }

  auto loop_result = EventLoop::create();
  if (!loop_result) {
    row.error = "no event loop";
    return row;
  }
  EventLoop& loop = **loop_result;
  struct Peer {
    std::unique_ptr<Client> client;
    std::unique_ptr<EndpointDriver> driver;
    std::optional<device::WhipSession> session;
    uint16_t video = 0;
  };
  // A client on its own loopback socket, its host candidate gathered (no trickle needed).
  auto start_peer = [&](Peer& p) -> bool {
    peer::PeerConfig config;
    config.certificate = &cert;
    config.dtls.negotiate_srtp_profile = target == Target::janus;
    p.client = std::make_unique<Client>(std::move(config), rng);
    p.driver = std::make_unique<EndpointDriver>(loop, *p.client);
    auto bound = p.driver->add_socket(
        SocketAddress(target == Target::janus ? kJanusClientAddress : IpAddress::loopback_v4(), 0));
    if (!bound) return false;
    Instant now = loop.now();
    (void)p.client->pc.add_host_socket(now, *bound);
    p.client->pc.end_of_local_sockets(now);
    return true;
  };
  // cellrtc-server: opens `peer` with an offer carrying `video` and `control`, POSTed to `url`.
  auto connect = [&](Peer& p, const std::string& url, const std::string& bearer) -> bool {
    if (!start_peer(p)) return false;
    Instant now = loop.now();
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

  // Janus: one API session; the publisher's handle joins the room with an offer carrying the
  // `video` channel, each viewer's handle subscribes to that feed and answers Janus's offer.
  JanusHttp janus(base);
  std::optional<uint64_t> janus_session;
  std::optional<uint64_t> janus_feed;
  auto janus_fail = [&](const std::string& what, const JanusError& e) {
    row.error = what + ": " + e.message;
    return false;
  };
  auto janus_publish = [&](Peer& p) -> bool {
    auto session = janus.create_session();
    if (!session) return janus_fail("create session", session.error());
    janus_session = *session;
    auto handle = janus.attach(*janus_session, "janus.plugin.videoroom");
    if (!handle) return janus_fail("attach", handle.error());
    if (!start_peer(p)) return false;
    Instant now = loop.now();
    auto video = p.client->pc.create_data_channel(
        now, {.label = "video", .ordered = false, .max_retransmits = 0u});
    if (!video) return false;
    p.video = *video;
    auto offer = p.client->pc.create_offer(now);
    if (!offer) return false;
    auto joined = janus.request(
        *janus_session, *handle,
        {{"request", "joinandconfigure"},
         {"room", kJanusRoom},
         {"ptype", "publisher"},
         {"display", "load"}},
        nlohmann::json{{"type", "offer"}, {"sdp", *offer}, {"trickle", false}}, seconds(10));
    if (!joined) return janus_fail("publish", joined.error());
    const auto& data = (*joined)["plugindata"]["data"];
    if (!data["id"].is_number_unsigned() || !(*joined)["jsep"]["sdp"].is_string()) {
      row.error = "publish: no feed id or answer in " + joined->dump();
      return false;
    }
    janus_feed = data["id"].get<uint64_t>();
    auto answer = (*joined)["jsep"]["sdp"].get<std::string>();
    if (auto st = p.client->pc.set_remote_description(loop.now(), answer); !st) {
      row.error = std::string("Janus's answer: ") + st.error().reason;
      return false;
    }
    p.driver->wake();
    return true;
  };
  auto janus_subscribe = [&](Peer& p) -> bool {
    auto handle = janus.attach(*janus_session, "janus.plugin.videoroom");
    if (!handle) return janus_fail("attach", handle.error());
    if (!start_peer(p)) return false;
    auto attached = janus.request(*janus_session, *handle,
                                  {{"request", "join"},
                                   {"room", kJanusRoom},
                                   {"ptype", "subscriber"},
                                   {"streams", nlohmann::json::array({{{"feed", *janus_feed}}})}},
                                  std::nullopt, seconds(10));
    if (!attached) return janus_fail("subscribe", attached.error());
    if (!(*attached)["jsep"]["sdp"].is_string()) {
      row.error = "subscribe: no offer in " + attached->dump();
      return false;
    }
    auto offer = (*attached)["jsep"]["sdp"].get<std::string>();
    if (auto st = p.client->pc.set_remote_description(loop.now(), offer); !st) {
      row.error = std::string("Janus's offer: ") + st.error().reason;
      return false;
    }
    // Janus forwards to a subscriber only once a channel to it is open; as its own page does,
    // the subscriber opens one (Janus then opens one per publisher, labelled with its id).
    if (!p.client->pc.create_data_channel(loop.now(), {.label = "JanusDataChannel"})) return false;
    auto answer = p.client->pc.create_answer(loop.now());
    if (!answer) {
      row.error = std::string("answer: ") + answer.error().reason;
      return false;
    }
    auto started = janus.request(
        *janus_session, *handle, {{"request", "start"}},
        nlohmann::json{{"type", "answer"}, {"sdp", *answer}, {"trickle", false}}, seconds(10));
    if (!started) return janus_fail("start", started.error());
    p.driver->wake();
    return true;
  };

  Peer publisher;
  bool published = target == Target::cellrtc ? connect(publisher, base + "/whip", token)
                                             : janus_publish(publisher);
  if (!published) {
    if (row.error.empty()) row.error = "publish failed";
    return row;
  }
  // Janus lists a feed only once its publisher's PeerConnection is up.
  if (target == Target::janus &&
      !loop.run_until([&] { return publisher.client->video_open; }, loop.now() + seconds(20))) {
    auto st = publisher.client->pc.stats().ice;
    row.error = "the publisher's channel to Janus did not open within 20 s (ICE checks sent " +
                std::to_string(st.checks_sent) + ", responses " +
                std::to_string(st.responses_received) + ", requests received " +
                std::to_string(st.requests_received) + ", rejected " +
                std::to_string(st.rejected_packets) + ")";
    return row;
  }
  std::vector<Peer> viewers(static_cast<size_t>(n));
  for (auto& v : viewers) {
    bool watching =
        target == Target::cellrtc ? connect(v, base + "/whep/load", "") : janus_subscribe(v);
    if (!watching) {
      if (row.error.empty()) row.error = "watch failed";
      return row;
    }
    loop.run_for(milliseconds(2));  // the peers already set up answer their checks meanwhile
  }
  // Janus opens a viewer's channel when it forwards the first message on it: for Janus, a
  // connected viewer is ready.
  auto all_open = [&] {
    if (!publisher.client->video_open) return false;
    return std::all_of(viewers.begin(), viewers.end(), [&](const Peer& v) {
      return target == Target::cellrtc ? v.client->video_open : v.client->connected;
    });
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
  if (janus_session) janus.destroy_session(*janus_session);
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
    } else if (a == "--janus") {
      opt.janus = argv[i + 1];
    } else if (a == "--runs") {
      opt.runs = std::atoi(argv[i + 1]);
    } else if (a == "--out") {
      opt.out = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: relay_load_bench [--viewers 1,2,4] [--seconds S] [--frame-bytes B] "
                   "[--fps F] [--server PATH] [--janus PATH] [--runs R] [--out FILE]\n"
                   "  --janus PATH  also run the load through Janus's VideoRoom (Debian package "
                   "janus: apt-get install janus), alternating with cellrtc-server\n");
      return 2;
    }
  }
  if (opt.fps < 1 || opt.frame_bytes < 64 || opt.seconds <= 0 || opt.runs < 1 ||
      opt.viewers.empty() ||
      std::any_of(opt.viewers.begin(), opt.viewers.end(), [](int n) { return n < 1; })) {
    std::fprintf(stderr,
                 "relay_load_bench: fps >= 1, frame-bytes >= 64, seconds > 0, runs >= 1, "
                 "viewers >= 1\n");
    return 2;
  }
  std::vector<Target> targets = {Target::cellrtc};
  if (!opt.janus.empty()) {
    if (auto why = janus_missing(opt.janus); !why.empty()) {
      std::fprintf(stderr, "relay_load_bench: %s\n", why.c_str());
      return 2;
    }
    targets.push_back(Target::janus);
    std::string log = "relay_load_netns.log";
    if (auto why = enter_private_network(&log); !why.empty()) {
      std::fprintf(stderr, "relay_load_bench: %s\n", why.c_str());
      return 2;
    }
  }
  runtime::OsRandom rng;
  auto cert = dtls::Certificate::generate(rng, "relay-load");
  if (!cert) return 1;

  std::string json = "{\"frame_bytes\":" + std::to_string(opt.frame_bytes) +
                     ",\"fps\":" + std::to_string(opt.fps) +
                     ",\"seconds\":" + std::to_string(opt.seconds) + ",\"runs\":[";
  std::printf("%8s %8s %10s %12s %12s %10s %10s %6s\n", "server", "viewers", "server%", "server MB",
              "client%", "min got", "median", "ooo");
  std::map<std::pair<Target, int>, std::vector<Row>> rows;
  bool first = true;
  for (int n : opt.viewers) {
    for (int r = 0; r < opt.runs; ++r) {
      for (Target t : targets) {
        Row row = run(opt, t, n, *cert, rng);
        if (!row.ok) {
          std::printf("%8s %8d  failed: %s\n", to_string(t), n, row.error.c_str());
          std::fflush(stdout);
          continue;
        }
        std::printf("%8s %8d %10.1f %12.1f %12.1f %10.3f %10.3f %6" PRIu64 "\n", to_string(t), n,
                    row.server_cpu_percent, row.server_rss_kb / 1024, row.client_cpu_percent,
                    row.delivered_min, row.delivered_median, row.out_of_order);
        std::fflush(stdout);
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "%s{\"server\":\"%s\",\"viewers\":%d,\"published\":%" PRIu64
                      ",\"server_cpu_percent\":%.2f,\"server_rss_kb\":%.0f,"
                      "\"client_cpu_percent\":%.2f,\"delivered_min\":%.4f,"
                      "\"delivered_median\":%.4f,\"out_of_order\":%" PRIu64 "}",
                      first ? "" : ",", to_string(t), n, row.published, row.server_cpu_percent,
                      row.server_rss_kb, row.client_cpu_percent, row.delivered_min,
                      row.delivered_median, row.out_of_order);
        json += buf;
        first = false;
        rows[{t, n}].push_back(row);
      }
    }
  }
  json += "],\"medians\":[";

  // Medians per server and viewer count; memory per viewer is counted from the smallest N.
  std::printf("\nmedians of %d run(s)\n%8s %8s %10s %12s %12s %10s %10s\n", opt.runs, "server",
              "viewers", "server%", "server MB", "KB/viewer", "min got", "median");
  first = true;
  for (Target t : targets) {
    std::optional<std::pair<int, double>> smallest;  // viewers, median resident KB
    for (int n : opt.viewers) {
      auto it = rows.find({t, n});
      if (it == rows.end()) continue;
      auto median_of = [&](double Row::*field) {
        std::vector<double> v;
        for (const Row& row : it->second)
          v.push_back(row.*field);
        return percentile(v, 0.5);
      };
      double cpu = median_of(&Row::server_cpu_percent);
      double rss = median_of(&Row::server_rss_kb);
      double got_min = median_of(&Row::delivered_min);
      double got_median = median_of(&Row::delivered_median);
      if (!smallest) smallest = {n, rss};
      double per_viewer =
          n > smallest->first ? (rss - smallest->second) / (n - smallest->first) : 0;
      std::printf("%8s %8d %10.1f %12.1f %12.1f %10.3f %10.3f\n", to_string(t), n, cpu, rss / 1024,
                  per_viewer, got_min, got_median);
      char buf[384];
      std::snprintf(buf, sizeof buf,
                    "%s{\"server\":\"%s\",\"viewers\":%d,\"runs\":%zu,\"server_cpu_percent\":%.2f,"
                    "\"server_rss_kb\":%.0f,\"server_rss_kb_per_viewer\":%.1f,"
                    "\"delivered_min\":%.4f,\"delivered_median\":%.4f}",
                    first ? "" : ",", to_string(t), n, it->second.size(), cpu, rss, per_viewer,
                    got_min, got_median);
      json += buf;
      first = false;
    }
  }
  json += "]}\n";
  return write_json(opt.out, json) ? 0 : 1;
}

}  // namespace
}  // namespace cellrtc::bench

int main(int argc, char** argv) {
  return cellrtc::bench::main_impl(argc, argv);
}
