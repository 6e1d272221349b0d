// cellrtc-linkem: a user-space link emulator between two TUN devices in two network namespaces
// (the lab's radio link). Usage: cellrtc-linkem --help; format and profiles: docs/lab.md.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/common/random.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "tools/linkem/profile.h"
#include "tools/linkem/schedule.h"
#include "tools/linkem/timed_link.h"
#include "tools/linkem/tun.h"

namespace cellrtc::linkem {
namespace {

constexpr const char* kUsage =
    "usage: cellrtc-linkem --a NS:IFNAME --b NS:IFNAME --profile FILE [--seed N]\n"
    "                      [--stats-file PATH]\n"
    "\n"
    "Forwards IP packets between two TUN devices, each in a network namespace\n"
    "(/var/run/netns/NS), through an emulated link: per direction rate with a\n"
    "drop-tail queue, delay, jitter, random and bursty (Gilbert-Elliott) loss,\n"
    "reordering, duplication, and scheduled outages and changes from the profile.\n"
    "Direction \"up\" is a -> b, \"down\" is b -> a. A persistent TUN device\n"
    "(ip tuntap add mode tun) is attached to; a missing one is created and lives\n"
    "as long as the emulator.\n"
    "\n"
    "  --a NS:IFNAME      the device side (up starts here)\n"
    "  --b NS:IFNAME      the network side (down starts here)\n"
    "  --profile FILE     link profile (TOML; tools/linkem/profiles/*.toml)\n"
    "  --seed N           seed for loss, jitter, reordering and duplication\n"
    "                     (default: random, printed in the counters)\n"
    "  --stats-file PATH  write the final counters (JSON) there instead of stderr\n"
    "  --help             this text\n"
    "\n"
    "Prints \"ready\" on stdout once both devices are open; the profile's schedule\n"
    "counts from then. SIGINT or SIGTERM: writes the counters and exits 0.\n"
    "Exit status 2: bad arguments or profile; 1: a device could not be opened.\n";

struct Options {
  TunEndpoint a;
  TunEndpoint b;
  std::string profile_path;
  std::optional<uint64_t> seed;
  std::string stats_file;
};

Result<Options, std::string> parse_args(int argc, char** argv) {
  Options o;
  bool have_a = false, have_b = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return std::string("help");
    if (arg != "--a" && arg != "--b" && arg != "--profile" && arg != "--seed" &&
        arg != "--stats-file") {
      return "unknown argument '" + arg + "'";
    }
    if (i + 1 >= argc) return arg + ": missing value";
    std::string value = argv[++i];
    if (arg == "--a" || arg == "--b") {
      auto e = parse_tun_endpoint(value);
      if (!e) return arg + ": " + e.error();
      (arg == "--a" ? o.a : o.b) = *e;
      (arg == "--a" ? have_a : have_b) = true;
    } else if (arg == "--profile") {
      o.profile_path = value;
    } else if (arg == "--seed") {
      uint64_t seed = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seed);
      if (ec != std::errc() || end != value.data() + value.size()) {
        return "--seed: '" + value + "' is not an unsigned integer";
      }
      o.seed = seed;
    } else {
      o.stats_file = value;
    }
  }
  if (!have_a || !have_b) return std::string("--a and --b are required");
  if (o.profile_path.empty()) return std::string("--profile is required");
  if (o.a.netns == o.b.netns && o.a.ifname == o.b.ifname) {
    return std::string("--a and --b name the same device");
  }
  return o;
}

nlohmann::json counters_json(const TimedLink& link) {
  const sim::LinkCounters& c = link.model().counters();
  const TimedLinkCounters& t = link.counters();
  return {
      {"packets_in", c.packets_sent + t.dropped_held_limit},
      {"bytes_in", c.bytes_sent},
      {"packets_out", c.packets_delivered - t.write_failed},
      {"bytes_out", c.bytes_delivered - t.write_failed_bytes},
      {"duplicated", c.duplicated},
      {"reordered", c.reordered},
      {"dropped_loss", c.dropped(sim::DropReason::loss)},
      {"dropped_queue", c.dropped(sim::DropReason::queue)},
      {"dropped_outage", c.dropped(sim::DropReason::outage)},
      {"dropped_held_limit", t.dropped_held_limit},
      {"write_failed", t.write_failed},
      {"held_packets_at_exit", link.held_packets()},
      {"held_packets_max", t.held_packets_max},
      {"held_bytes_max", t.held_bytes_max},
  };
}

// Reads what the device has, a bounded batch per call so the other direction gets its turn.
void read_packets(int fd, Instant now, TimedLink& link, std::vector<uint8_t>& buffer) {
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return;  // EAGAIN, or nothing usable
    link.offer(now, ByteView(buffer.data(), static_cast<size_t>(n)));
  }
}

bool write_packet(int fd, ByteView packet) {
  return ::write(fd, packet.data(), packet.size()) == static_cast<ssize_t>(packet.size());
}

int run(const Options& options) {
  auto profile = load_profile(options.profile_path);
  if (!profile) {
    std::fprintf(stderr, "cellrtc-linkem: %s\n", profile.error().message.c_str());
    return 2;
  }
  uint64_t seed = options.seed ? *options.seed : runtime::OsRandom().next_u64();

  // The signals arrive through a descriptor the loop watches, not through a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    std::perror("cellrtc-linkem: sigprocmask");
    return 1;
  }
  Fd signal_fd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (signal_fd.get() < 0) {
    std::perror("cellrtc-linkem: signalfd");
    return 1;
  }

  auto tun_a = open_tun(options.a);
  if (!tun_a) {
    std::fprintf(stderr, "cellrtc-linkem: %s\n", tun_a.error().c_str());
    return 1;
  }
  auto tun_b = open_tun(options.b);
  if (!tun_b) {
    std::fprintf(stderr, "cellrtc-linkem: %s\n", tun_b.error().c_str());
    return 1;
  }
  auto loop = runtime::EventLoop::create();
  if (!loop) {
    std::fprintf(stderr, "cellrtc-linkem: %s\n", loop.error().message().c_str());
    return 1;
  }
  runtime::EventLoop& ev = **loop;

  SeededRandom seeds(seed);
  TimedLink up(seeds.next(), profile->up);
  TimedLink down(seeds.next(), profile->down);
  Instant start = ev.now();
  ScheduleRunner schedule(profile->schedule, start);
  auto apply_schedule = [&](Instant now) {
    for (const std::string& line : schedule.apply_due(now, up.model(), down.model()))
      std::fprintf(stderr, "cellrtc-linkem: %s\n", line.c_str());
  };

  bool stopping = false;
  std::vector<uint8_t> buffer(65536);  // the largest IP packet
  int fd_a = tun_a->get();
  int fd_b = tun_b->get();
  auto watched = ev.watch(fd_a, {}, [&](runtime::Readiness) {
    Instant now = ev.now();
    apply_schedule(now);
    read_packets(fd_a, now, up, buffer);
  });
  if (watched) {
    watched = ev.watch(fd_b, {}, [&](runtime::Readiness) {
      Instant now = ev.now();
      apply_schedule(now);
      read_packets(fd_b, now, down, buffer);
    });
  }
  if (watched) {
    watched = ev.watch(signal_fd.get(), {}, [&](runtime::Readiness) {
      signalfd_siginfo info{};
      while (::read(signal_fd.get(), &info, sizeof info) == sizeof info)
        stopping = true;
    });
  }
  if (!watched) {
    std::fprintf(stderr, "cellrtc-linkem: %s\n", watched.error().message().c_str());
    return 1;
  }

  std::fprintf(stdout, "ready\n");
  std::fflush(stdout);
  std::fprintf(stderr, "cellrtc-linkem: %s:%s <-> %s:%s, profile %s, seed %llu\n",
               options.a.netns.c_str(), options.a.ifname.c_str(), options.b.netns.c_str(),
               options.b.ifname.c_str(), profile->name.c_str(),
               static_cast<unsigned long long>(seed));

  while (!stopping) {
    Instant now = ev.now();
    // Wakes for the next packet due, the next scheduled change, and at least once a second.
    std::optional<Instant> wake = now + seconds(1);
    wake = earliest(wake, up.next_due());
    wake = earliest(wake, down.next_due());
    wake = earliest(wake, schedule.next_at());
    ev.run_once(*wake);
    now = ev.now();
    apply_schedule(now);
    up.release_due(now, [&](ByteView p) { return write_packet(fd_b, p); });
    down.release_due(now, [&](ByteView p) { return write_packet(fd_a, p); });
  }
  ev.unwatch(fd_a);
  ev.unwatch(fd_b);
  ev.unwatch(signal_fd.get());

  nlohmann::json stats = {
      {"profile", profile->name},
      {"seed", seed},
      {"duration_s", static_cast<double>((ev.now() - start).count()) / 1e6},
      {"up", counters_json(up)},
      {"down", counters_json(down)},
  };
  std::string text = stats.dump(2) + "\n";
  if (options.stats_file.empty()) {
    std::fputs(text.c_str(), stderr);
    return 0;
  }
  std::ofstream out(options.stats_file, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "cellrtc-linkem: cannot write %s\n%s", options.stats_file.c_str(),
                 text.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace cellrtc::linkem

int main(int argc, char** argv) {
  auto options = cellrtc::linkem::parse_args(argc, argv);
  if (!options) {
    if (options.error() == "help") {
      std::fputs(cellrtc::linkem::kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "cellrtc-linkem: %s\n\n%s", options.error().c_str(),
                 cellrtc::linkem::kUsage);
    return 2;
  }
  return cellrtc::linkem::run(*options);
}
