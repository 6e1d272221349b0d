#include "browser/host_firmware.h"

#include <poll.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "core/dtls/certificate.h"
#include "core/media/frame_header.h"
#include "core/whip/whip_url.h"
#include "device/test_pattern.h"
#include "device/whip_client.h"
#include "firmware/app/firmware_app.h"
#include "firmware/app/publisher_streamer.h"
#include "firmware/app/request_runner.h"
#include "firmware/app/session_sockets.h"
#include "runtime/clock.h"
#include "runtime/os_random.h"
#include "runtime/udp_socket.h"

namespace cellrtc::browser {
namespace {

using namespace firmware;

// lwIP's sockets on the device; the kernel's here.
class PosixDatagramSockets final : public DatagramSockets {
 public:
  Result<Bound> open(const SocketAddress& local) override {
    auto s = runtime::UdpSocket::bind(local);
    if (!s) return Error{Errc::invalid_state, "UDP bind failed"};
    Bound b{s->fd(), s->local_address()};
    sockets_.emplace(b.handle, std::move(*s));
    return b;
  }
  Status send(int handle, const SocketAddress& to, ByteView data) override {
    auto it = sockets_.find(handle);
    if (it == sockets_.end() || !it->second.send_to(to, data))
      return Error{Errc::invalid_state, "UDP send failed"};
    return {};
  }
  std::optional<Received> receive(int handle, std::span<uint8_t> buffer) override {
    auto it = sockets_.find(handle);
    if (it == sockets_.end()) return std::nullopt;
    auto r = it->second.receive(buffer);
    if (!r || !*r) return std::nullopt;
    return Received{(*r)->truncated ? buffer.size() + 1 : (*r)->size, (*r)->from};
  }
  void close(int handle) override { sockets_.erase(handle); }

 private:
  std::map<int, runtime::UdpSocket> sockets_;
};

// esp_http_client's task on the device; here each request is performed when submitted (the
// server is on loopback and answers at once), its outcome gathered as the device gathers it.
class CurlRequestRunner final : public RequestRunner {
 public:
  CurlRequestRunner(const std::string& url, const std::string& token)
      : client_(config(url, token)) {}
  bool submit(const streamer::PendingRequest& pending) override {
    ResponseCollector collector(client_.limits());
    HttpOutcome outcome;
    auto r = client_.perform(pending.request);
    if (r) {
      for (const whip::HttpHeader& h : r->headers)
        collector.on_header(h.name, h.value);
      collector.on_body(r->body);
      outcome = collector.finish(r->status);
    } else {
      outcome = collector.fail(HttpFailure::network, r.error().message);
    }
    done_.push_back({pending.id, pending.request, std::move(outcome)});
    return true;
  }
  std::optional<CompletedRequest> poll_completed() override {
    if (done_.empty()) return std::nullopt;
    CompletedRequest c = std::move(done_.front());
    done_.erase(done_.begin());
    return c;
  }
  void cancel_all() override { done_.clear(); }
  whip::WhipLimits limits() const { return client_.limits(); }

 private:
  static device::WhipClientConfig config(const std::string& url, const std::string& token) {
    device::WhipClientConfig c;
    c.url = url;
    c.token = token;
    return c;
  }
  device::WhipClient client_;
  std::vector<CompletedRequest> done_;
};

// The OV2640 with its frame buffers: the test pattern's JPEGs, lent until released.
class PatternCamera final : public Camera {
 public:
  explicit PatternCamera(std::unique_ptr<device::TestPattern> pattern)
      : pattern_(std::move(pattern)) {}
  Status apply(const CameraSettings& settings) override {
    settings_ = settings;
    return {};
  }
  void request_frame() override { wanted_ = true; }
  void release(uint32_t frame_id) override { lent_.erase(frame_id); }
  // The frame asked for, as the camera task would deliver it.
  std::optional<CameraFrame> take(Instant now) {
    if (!wanted_) return std::nullopt;
    wanted_ = false;
    const FrameSizeInfo info = frame_size_info(settings_.size);
    device::CaptureSettings capture;
    capture.quality = settings_.jpeg_quality;
    capture.width = info.width;
    capture.height = info.height;
    auto frame = pattern_->next(now, capture);
    if (!frame) return std::nullopt;
    const uint32_t id = ++next_id_;
    Bytes& held = lent_[id] = std::move(frame->message);
    return CameraFrame{id, ByteView(held).subspan(media::kFrameHeaderSize), frame->width,
                       frame->height, now};
  }

 private:
  std::unique_ptr<device::TestPattern> pattern_;
  CameraSettings settings_;
  bool wanted_ = false;
  uint32_t next_id_ = 0;
  std::map<uint32_t, Bytes> lent_;
};

class FixedHeap final : public HeapMonitor {
 public:
  explicit FixedHeap(HeapStats stats) : stats_(stats) {}
  HeapStats stats() const override { return stats_; }

 private:
  HeapStats stats_;
};

}  // namespace

std::unique_ptr<HostFirmware> HostFirmware::start(HostFirmwareOptions options, std::string* error) {
  if (options.whip_url.empty()) {
    *error = "no WHIP URL";
    return nullptr;
  }
  std::unique_ptr<HostFirmware> f(new HostFirmware(std::move(options)));
  f->thread_ = std::thread([self = f.get()] { self->run(); });
  return f;
}

HostFirmware::~HostFirmware() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
}

void HostFirmware::run() {
  runtime::MonotonicClock clock;
  runtime::OsRandom rng;
  auto certificate = dtls::Certificate::generate(rng, "cellrtc-device");
  auto pattern = device::TestPattern::create({.width = 320, .height = 240});
  if (!certificate || !pattern) return;

  PosixDatagramSockets udp;
  SessionSockets sockets(udp);
  CurlRequestRunner http(options_.whip_url, options_.token);
  streamer::PublisherConfig pc;
  pc.endpoint = whip::whip_endpoint(options_.whip_url);
  pc.token = options_.token;
  pc.limits = http.limits();
  PublisherStreamer streamer(std::move(pc), rng, *certificate, sockets, &http);
  PatternCamera camera(std::move(*pattern));
  FixedHeap heap(options_.heap);

  FirmwareConfig config;
  config.server_url = options_.whip_url;
  config.wifi_ssid = "host";  // the bench mode: no modem, the network is up when the netif is
  config.frame_size = FrameSize::qvga;
  AppPorts ports;
  ports.camera = &camera;
  ports.streamer = &streamer;
  ports.heap = &heap;
  ports.random = &rng;
  FirmwareApp app(config, ports);

  app.start(clock.now());
  sockets.set_local_addresses({IpAddress::v4(127, 0, 0, 1)});
  app.on_netif_up(clock.now());
  // Bounded: the thread ends with the test, and at the latest after five minutes.
  const Instant end = clock.now() + seconds(300);
  while (!quit_ && clock.now() < end) {
    Instant now = clock.now();
    if (auto frame = camera.take(now)) app.on_camera_frame(now, *frame);
    app.handle_timeout(now);
    streamer::Publisher& publisher = streamer.publisher();
    if (pump_requests(now, publisher, http, http.limits()).responses > 0)
      streamer.note_received(now);
    sockets.flush(now, publisher);
    while (app.poll_event()) {
    }
    while (publisher.poll_event()) {
    }

    std::vector<pollfd> fds;
    for (int fd : sockets.handles())
      fds.push_back({fd, POLLIN, 0});
    int wait_ms = 20;
    if (auto t = app.next_timeout())
      wait_ms =
          static_cast<int>(std::clamp<int64_t>((*t - clock.now()).count() / 1000, 0, wait_ms));
    if (poll(fds.data(), fds.size(), wait_ms) > 0) {
      now = clock.now();
      if (sockets.read(now, publisher) > 0) streamer.note_received(now);
    }
  }
  app.on_netif_down(clock.now(), false);
}

}  // namespace cellrtc::browser
