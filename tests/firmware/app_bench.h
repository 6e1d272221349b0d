// FirmwareApp wired to the simulated modem (in-process, virtual time) and to fakes of the
// board: a camera that lends frames out of its own buffers, a PPP interface that comes up a
// moment after the call connects, a streamer that takes frames at its own rate and holds the
// newest, a heap monitor. The bench moves bytes and time until nothing moves at an instant.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "firmware/app/firmware_app.h"
#include "tools/modem-sim/sim_modem.h"

namespace cellrtc::firmware::testing {

class FakeCamera final : public Camera {
 public:
  FakeCamera() {
    for (size_t i = 0; i < buffers_.size(); ++i)
      buffers_[i] = Bytes(4000 + i * 100, static_cast<uint8_t>(0x10 + i));
  }
  Status apply(const CameraSettings& s) override {
    applied.push_back(s);
    return {};
  }
  void request_frame() override { ++requests; }
  void release(uint32_t id) override {
    if (!lent.erase(id)) ++bad_releases;
    ++releases;
  }
  // The driver's frame for request `n`, out of a ring of three buffers (fb_count).
  CameraFrame take(Instant now) {
    const uint32_t id = next_id_++;
    const Bytes& b = buffers_[id % buffers_.size()];
    lent.insert(id);
    return CameraFrame{id, ByteView(b), 640, 480, now};
  }
  bool owns(const uint8_t* p) const {
    for (const auto& b : buffers_)
      if (p == b.data()) return true;
    return false;
  }

  std::vector<CameraSettings> applied;
  uint64_t requests = 0;
  uint64_t releases = 0;
  uint64_t bad_releases = 0;
  std::set<uint32_t> lent;

 private:
  std::array<Bytes, 3> buffers_;
  uint32_t next_id_ = 1;
};

class FakeNetif final : public PppNetif {
 public:
  void start() override { ++starts; }
  void stop() override { ++stops; }
  void input(ByteView b) override { bytes_in += b.size(); }
  int starts = 0;
  int stops = 0;
  uint64_t bytes_in = 0;
};

class FakeStreamer final : public Streamer {
 public:
  struct Call {
    bool start;
    Instant at;
  };
  void start(Instant now) override {
    calls.push_back({true, now});
    started_ = true;
    next_capture_ = now;
    last_received_ = now;  // the WHIP answer
  }
  void stop(Instant now) override {
    calls.push_back({false, now});
    started_ = false;
    held_.reset();
  }
  bool wants_frame(Instant now) const override { return started_ && now >= next_capture_; }
  std::optional<Instant> next_capture() const override {
    if (!started_) return std::nullopt;
    return next_capture_;
  }
  FrameWish frame_wish() const override { return wish; }
  void offer_frame(Instant now, FrameLease frame) override {
    offered.push_back(frame.jpeg().data());
    if (!started_) ++offered_while_stopped;
    held_ = std::move(frame);  // newest wins: a frame still held goes back now
    sent_at_ = now + send_time;
    next_capture_ = now + frame_interval;
  }
  void set_telemetry(const DeviceTelemetry& t) override { telemetry.push_back(t); }
  void handle_timeout(Instant now) override {
    if (held_ && now >= sent_at_) held_.reset();  // the frame left: the lease ends
    if (network_answers && started_) last_received_ = now;
  }
  std::optional<Instant> next_timeout() const override {
    if (!started_) return std::nullopt;
    std::optional<Instant> t;
    if (held_) t = sent_at_;
    // Consent checks every 15 s: the network answers that often.
    if (network_answers && last_received_)
      t = earliest(t, std::optional<Instant>(*last_received_ + seconds(15)));
    return t;
  }
  std::optional<Instant> last_received() const override { return last_received_; }

  bool started() const { return started_; }
  bool holding() const { return static_cast<bool>(held_); }

  FrameWish wish{.quality = 80, .width = 0, .height = 0};
  Duration frame_interval = milliseconds(200);
  Duration send_time = milliseconds(120);
  bool network_answers = true;
  std::vector<Call> calls;
  std::vector<const uint8_t*> offered;
  int offered_while_stopped = 0;
  std::vector<DeviceTelemetry> telemetry;

 private:
  bool started_ = false;
  Instant next_capture_;
  Instant sent_at_;
  std::optional<FrameLease> held_;
  std::optional<Instant> last_received_;
};

class FakeHeap final : public HeapMonitor {
 public:
  HeapStats stats() const override { return value; }
  HeapStats value{.internal_free = 180'000,
                  .internal_min_free = 150'000,
                  .psram_free = 7'900'000,
                  .largest_internal_block = 90'000};
};

inline FirmwareConfig bench_config() {
  FirmwareConfig c;
  c.server_url = "https://cellrtc.example.net/whip";
  c.device_token = "dev-token_1";
  c.apn = "internet";
  c.jpeg_quality = 60;
  c.frame_size = FrameSize::vga;
  return c;
}

class AppBench {
 public:
  explicit AppBench(modemsim::Scenario scenario, FirmwareConfig config = bench_config(),
                    AppTimings timings = {})
      : sim_(std::move(scenario)),
        power_(sim_, now_),
        wire_(*this),
        app_(config, ports(config), timings) {
    sim_.start(now_);
  }

  Instant now() const { return now_; }
  FirmwareApp& app() { return app_; }
  modemsim::SimModem& sim() { return sim_; }
  FakeCamera camera;
  FakeNetif netif;
  FakeStreamer streamer;
  FakeHeap heap;
  // PPP negotiation time after the call connects; absent: PPP never comes up.
  std::optional<Duration> ppp_negotiation = milliseconds(800);
  Duration capture_time = milliseconds(60);
  bool camera_delivers = true;
  std::vector<app_event::StateChanged> transitions;
  std::vector<std::string> camera_failures;
  std::string failure;

  void start() {
    app_.start(now_);
    settle();
  }

  bool run_until(const std::function<bool()>& done, Duration limit) {
    const Instant end = now_ + limit;
    settle();
    while (!done()) {
      if (!failure.empty()) return false;
      std::optional<Instant> next = earliest(app_.next_timeout(), sim_.next_timeout());
      next = earliest(next, netif_up_at_);
      next = earliest(next, frame_at_);
      if (!next || *next > end) {
        now_ = end;
        step();
        return done();
      }
      if (*next > now_) now_ = *next;
      step();
    }
    return true;
  }
  void run_for(Duration d) {
    const Instant end = now_ + d;
    run_until([&] { return now_ >= end; }, d);
  }

  // Whether the app asked the camera for a frame that has not come yet.
  bool frame_pending() const { return frame_at_.has_value(); }
  std::vector<AppState> path() const {
    std::vector<AppState> p;
    for (const auto& t : transitions)
      p.push_back(t.to);
    return p;
  }

 private:
  class Wire final : public ModemLink {
   public:
    explicit Wire(AppBench& b) : b_(b) {}
    void write(ByteView bytes) override { b_.sim_.handle_bytes(b_.now_, bytes); }

   private:
    AppBench& b_;
  };

  AppPorts ports(const FirmwareConfig& config) {
    AppPorts p;
    if (!config.uses_wifi()) {
      p.modem = &wire_;
      p.power = &power_;
      p.netif = &netif;
    }
    p.camera = &camera;
    p.streamer = &streamer;
    p.heap = &heap;
    return p;
  }

  void step() {
    sim_.handle_timeout(now_);
    app_.handle_timeout(now_);
    settle();
  }

  void settle() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      sim_.handle_timeout(now_);
      while (auto out = sim_.poll_transmit()) {
        moved = true;
        app_.on_modem_bytes(now_, *out);
      }
      // The fake netif's negotiation: started -> up after ppp_negotiation; stopped -> never.
      if (netif.starts > seen_starts_ || netif.stops > seen_stops_) {
        const bool restarted = netif.starts > seen_starts_;
        seen_starts_ = netif.starts;
        seen_stops_ = netif.stops;
        netif_up_at_.reset();
        if (restarted && netif.starts > netif.stops && ppp_negotiation)
          netif_up_at_ = now_ + *ppp_negotiation;
      }
      if (netif_up_at_ && now_ >= *netif_up_at_) {
        moved = true;
        netif_up_at_.reset();
        app_.on_netif_up(now_);
      }
      if (camera.requests > seen_requests_) {
        seen_requests_ = camera.requests;
        if (camera_delivers) frame_at_ = now_ + capture_time;
      }
      if (frame_at_ && now_ >= *frame_at_) {
        moved = true;
        frame_at_.reset();
        app_.on_camera_frame(now_, camera.take(now_));
      }
      while (auto e = app_.poll_event()) {
        moved = true;
        if (auto* t = std::get_if<app_event::StateChanged>(&*e)) transitions.push_back(*t);
        if (auto* c = std::get_if<app_event::CameraFailed>(&*e)) camera_failures.push_back(c->why);
      }
      if (!moved) return;
    }
    failure = "no quiescence at one instant";
  }

  Instant now_;
  modemsim::SimModem sim_;
  modemsim::SimPower power_;
  Wire wire_;
  FirmwareApp app_;
  int seen_starts_ = 0;
  int seen_stops_ = 0;
  uint64_t seen_requests_ = 0;
  std::optional<Instant> netif_up_at_;
  std::optional<Instant> frame_at_;
};

}  // namespace cellrtc::firmware::testing
