// cellrtc-modem-sim [--scenario normal] [--link /tmp/cellrtc-modem] [--seconds 0]
// Serves a simulated A7670E/SIM7670G on a pseudo-terminal in real time, for manual runs of
// the device agent or cellrtc-modem-info (--modem <the printed /dev/pts/N or the link>).
// Ctrl-C ends it. --list prints the scenarios.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/modem-sim/pty.h"
#include "tools/modem-sim/sim_modem.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

cellrtc::Instant steady_now() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return cellrtc::Instant::from_us(
      std::chrono::duration_cast<std::chrono::microseconds>(t).count());
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "normal";
  std::string link;
  long run_seconds = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      for (const auto& n : cellrtc::modemsim::scenario_names())
        std::printf("%s\n", n.c_str());
      return 0;
    }
    if (i + 1 >= argc) break;
    if (std::strcmp(argv[i], "--scenario") == 0)
      name = argv[++i];
    else if (std::strcmp(argv[i], "--link") == 0)
      link = argv[++i];
    else if (std::strcmp(argv[i], "--seconds") == 0)
      run_seconds = std::strtol(argv[++i], nullptr, 10);
  }
  auto scenario = cellrtc::modemsim::scenario_by_name(name);
  if (!scenario) {
    std::fprintf(stderr, "unknown scenario %s (--list)\n", name.c_str());
    return 2;
  }
  std::string error;
  auto pty = cellrtc::modemsim::Pty::open(false, &error);
  if (!pty) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (!link.empty()) {
    ::unlink(link.c_str());
    if (::symlink(pty->slave_path().c_str(), link.c_str()) != 0) {
      std::fprintf(stderr, "cannot link %s\n", link.c_str());
      return 1;
    }
  }
  std::printf("%s scenario on %s\n", name.c_str(), pty->slave_path().c_str());
  std::fflush(stdout);
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);

  cellrtc::modemsim::SimModem sim(*scenario);
  const cellrtc::Instant started = steady_now();
  sim.start(started);
  uint8_t buf[4096];
  while (!g_stop) {
    cellrtc::Instant now = steady_now();
    if (run_seconds > 0 && now - started >= cellrtc::seconds(run_seconds)) break;
    sim.handle_timeout(now);
    while (auto out = sim.poll_transmit()) {
      // Nobody connected yet (EIO) or a full buffer: the bytes are lost, as on a real line.
      (void)!::write(pty->master(), out->data(), out->size());
    }
    int wait_ms = 200;
    if (auto t = sim.next_timeout()) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*t - now).count();
      wait_ms = static_cast<int>(ms < 0 ? 0 : (ms > 200 ? 200 : ms));
    }
    pollfd p{pty->master(), POLLIN, 0};
    if (::poll(&p, 1, wait_ms) > 0 && (p.revents & POLLIN)) {
      const ssize_t n = ::read(pty->master(), buf, sizeof(buf));
      if (n > 0) sim.handle_bytes(steady_now(), cellrtc::ByteView(buf, static_cast<size_t>(n)));
    } else if (p.revents & POLLHUP) {
      ::usleep(50000);  // no slave open: wait for a client
    }
  }
  if (!link.empty()) ::unlink(link.c_str());
  return 0;
}
