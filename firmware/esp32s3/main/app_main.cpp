// The firmware's entry point and loop task: the configuration from Kconfig, checked; the
// ports on ESP-IDF (camera, modem link, PPP netif, heap); FirmwareApp driven from one task by
// the events the drivers post and by its own deadlines.
#include <algorithm>
#include <cinttypes>
#include <ctime>
#include <memory>
#include <optional>
#include <span>

#include "camera_esp.h"
#include "core/dtls/certificate.h"
#include "core/whip/whip_url.h"
#include "esp_event.h"
#include "esp_heap_caps.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_netif_sntp.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "firmware/app/device_identity.h"
#include "firmware/app/firmware_app.h"
#include "firmware/app/firmware_config.h"
#include "firmware/app/memory_profile.h"
#include "firmware/app/publisher_streamer.h"
#include "firmware/app/request_runner.h"
#include "firmware/app/session_sockets.h"
#include "firmware/app/turn_host_cache.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "http_runner_esp.h"
#include "loop_queue.h"
#include "modem_link_esp.h"
#include "nvs_flash.h"
#include "nvs_store_esp.h"
#include "ppp_netif_esp.h"
#include "sdkconfig.h"
#include "tcp_sockets_esp.h"
#include "udp_sockets_esp.h"

#if CELLRTC_HAS_CA_PEM
// CELLRTC_CA_PEM_FILE, embedded by main/CMakeLists.txt (target_add_binary_data, TEXT: NUL
// terminated); a symbol of the linker's, so declared at file scope.
extern const char cellrtc_ca_pem_start[] asm("_binary_cellrtc_ca_pem_start");
#endif

namespace cellrtc::firmware::esp {
namespace {

constexpr const char* kTag = "cellrtc";

Instant now() {
  return Instant::from_us(esp_timer_get_time());
}

// The hardware RNG (esp_fill_random: true random while the RF subsystem runs, which Wi-Fi
// or the modem's PPP traffic keeps it; the bootloader seeds it before).
class EspRandom final : public Random {
 public:
  void fill(std::span<uint8_t> out) override { esp_fill_random(out.data(), out.size()); }
};

class EspHeap final : public HeapMonitor {
 public:
  HeapStats stats() const override {
    HeapStats h;
    h.internal_free = heap_caps_get_free_size(MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    h.internal_min_free = heap_caps_get_minimum_free_size(MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    h.psram_free = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    h.largest_internal_block =
        heap_caps_get_largest_free_block(MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    return h;
  }
};

void log_heap(const char* when, const HeapMonitor& heap) {
  HeapStats h = heap.stats();
  ESP_LOGI(kTag,
           "%s: free heap internal %" PRIu32 " (min %" PRIu32 ", largest block %" PRIu32
           "), PSRAM %" PRIu32,
           when, h.internal_free, h.internal_min_free, h.largest_internal_block, h.psram_free);
}

FirmwareConfig config_from_kconfig() {
  FirmwareConfig c;
  c.server_url = CONFIG_CELLRTC_SERVER_URL;
  c.device_token = CONFIG_CELLRTC_DEVICE_TOKEN;
#if CELLRTC_HAS_CA_PEM
  c.ca_pem = ::cellrtc_ca_pem_start;
#endif
#if CONFIG_CELLRTC_TRANSPORT_UDP
  c.transport = streamer::IceTransport::udp;
#elif CONFIG_CELLRTC_TRANSPORT_TCP
  c.transport = streamer::IceTransport::tcp;
#endif
#if CONFIG_CELLRTC_RELAY_ONLY
  c.relay_only = true;
#endif
  c.turn_urls = CONFIG_CELLRTC_TURN_URLS;
  c.apn = CONFIG_CELLRTC_APN;
  c.apn_user = CONFIG_CELLRTC_APN_USER;
  c.apn_password = CONFIG_CELLRTC_APN_PASSWORD;
  c.sim_pin = CONFIG_CELLRTC_SIM_PIN;
#if CONFIG_CELLRTC_MODEM_LINK_UART
  c.modem_link = ModemLinkKind::uart;
  c.uart.tx_pin = CONFIG_CELLRTC_UART_TX_PIN;
  c.uart.rx_pin = CONFIG_CELLRTC_UART_RX_PIN;
  c.uart.baud = CONFIG_CELLRTC_UART_BAUD;
#endif
#if CONFIG_CELLRTC_USE_CMUX
  c.use_cmux = true;
#endif
  c.modem_power_key_pin = CONFIG_CELLRTC_MODEM_PWRKEY_PIN;
  c.modem_reset_pin = CONFIG_CELLRTC_MODEM_RESET_PIN;
#if CONFIG_CELLRTC_CAMERA_ESP32S3_EYE
  c.camera_board = CameraBoard::esp32s3_eye;
#elif CONFIG_CELLRTC_CAMERA_M5CAMERA
  c.camera_board = CameraBoard::m5camera;
#endif
  if (auto size = parse_frame_size(CONFIG_CELLRTC_FRAME_SIZE_NAME)) c.frame_size = *size;
  c.jpeg_quality = CONFIG_CELLRTC_JPEG_QUALITY;
  c.wifi_ssid = CONFIG_CELLRTC_WIFI_SSID;
  c.wifi_password = CONFIG_CELLRTC_WIFI_PASSWORD;
  return c;
}

// Wi-Fi station for bench use: address up and down as netif events.
void on_wifi_event(void* arg, esp_event_base_t base, int32_t id, void* data) {
  auto* queue = static_cast<LoopQueue*>(arg);
  if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
    esp_wifi_connect();
  } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::netif_down;
    queue->post(e);
    esp_wifi_connect();
  } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::netif_up;
    e->address = ipv4_of(static_cast<ip_event_got_ip_t*>(data)->ip_info.ip);
    queue->post(e);
  }
}

void start_wifi(const FirmwareConfig& c, LoopQueue& queue) {
  esp_netif_create_default_wifi_sta();
  wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
  ESP_ERROR_CHECK(esp_wifi_init(&init));
  ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, &on_wifi_event, &queue));
  ESP_ERROR_CHECK(
      esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, &on_wifi_event, &queue));
  wifi_config_t w{};
  c.wifi_ssid.copy(reinterpret_cast<char*>(w.sta.ssid), sizeof(w.sta.ssid));
  c.wifi_password.copy(reinterpret_cast<char*>(w.sta.password), sizeof(w.sta.password) - 1);
  ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
  ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &w));
  ESP_ERROR_CHECK(esp_wifi_start());
}

void log_event(const AppEvent& event) {
  if (auto* s = std::get_if<app_event::StateChanged>(&event)) {
    ESP_LOGI(kTag, "%s -> %s: %s", to_string(s->from), to_string(s->to), s->why.c_str());
  } else if (auto* m = std::get_if<app_event::Modem>(&event)) {
    if (auto* t = std::get_if<modem::sup_event::StateChanged>(&m->event))
      ESP_LOGI("modem", "%s -> %s (%s)", modem::to_string(t->from), modem::to_string(t->to),
               modem::to_string(t->reason));
    else if (auto* w = std::get_if<modem::sup_event::Warning>(&m->event))
      ESP_LOGW("modem", "%s", modem::to_string(w->reason));
  } else if (auto* c = std::get_if<app_event::CameraFailed>(&event)) {
    ESP_LOGW("camera", "%s", c->why.c_str());
  }
}

void log_publisher_event(const streamer::PublisherEvent& event) {
  if (auto* s = std::get_if<streamer::event::StateChanged>(&event)) {
    ESP_LOGI("stream", "%s: %s", streamer::to_string(s->state), s->detail.c_str());
  } else if (auto* l = std::get_if<streamer::event::Log>(&event)) {
    ESP_LOGI("stream", "%s: %s", l->kind.c_str(), l->text.c_str());
  } else if (auto* f = std::get_if<streamer::event::Fatal>(&event)) {
    ESP_LOGE("stream", "stopped for good: %s", f->reason.c_str());
  }
}

struct Firmware {
  FirmwareConfig config;
  LoopQueue queue{64};
  EspHeap heap;
  EspRandom rng;
  NvsStore store;
  std::optional<dtls::Certificate> certificate;
  whip::WhipLimits limits;
  LwipDatagramSockets udp;
  LwipStreamSockets tcp;
  TurnHostCache turn_hosts;                 // the HTTP task's lookups, taken by pump_requests
  std::unique_ptr<SessionSockets> sockets;  // made once the configuration is known
  SocketWatcher watcher{queue};
  uint64_t watched_generation = UINT64_MAX;
  std::unique_ptr<EspRequestRunner> http;
  std::unique_ptr<PublisherStreamer> streamer;
  EspCamera camera{queue};
  std::unique_ptr<EspModemLink> modem;
  std::unique_ptr<GpioModemPower> power;
  std::unique_ptr<EspPppNetif> netif;
  std::unique_ptr<FirmwareApp> app;
  bool sntp_started = false;
};

void dispatch(Firmware& f, bool& started, LoopEvent& e) {
  const Instant t = now();
  FirmwareApp& app = *f.app;
  switch (e.kind) {
    case LoopEvent::Kind::modem_bytes:
      app.on_modem_bytes(t, e.bytes);
      break;
    case LoopEvent::Kind::modem_link_up:
      // The supervisor starts when the modem is first there (a USB modem enumerates about
      // 9 s after power-up); later attachments are reconnections.
      if (!started) {
        started = true;
        app.start(t);
      } else {
        app.on_modem_link_up(t);
      }
      break;
    case LoopEvent::Kind::modem_link_down:
      app.on_modem_link_down(t);
      break;
    case LoopEvent::Kind::ppp_output:
      app.on_ppp_output(t, e.bytes);
      break;
    case LoopEvent::Kind::netif_up:
      f.sockets->set_local_addresses({e.address});
      // The wall clock for certificate validity (the WHIP server's HTTPS certificate): the
      // board has no battery-backed clock, so it is 1970 until SNTP answers.
      if (!f.sntp_started) {
        f.sntp_started = true;
        esp_sntp_config_t sntp = ESP_NETIF_SNTP_DEFAULT_CONFIG("pool.ntp.org");
        esp_netif_sntp_init(&sntp);
      }
      app.on_netif_up(t);
      break;
    case LoopEvent::Kind::netif_down:
      f.sockets->set_local_addresses({});
      app.on_netif_down(t, e.flag);
      break;
    case LoopEvent::Kind::camera_frame:
      app.on_camera_frame(t, e.frame);
      break;
    case LoopEvent::Kind::camera_failed:
      app.on_camera_failed(t, e.why);
      break;
    case LoopEvent::Kind::http_done:
      break;  // drive_streamer takes the answers
    case LoopEvent::Kind::sockets_readable:
      if (f.streamer && f.sockets->read(t, f.streamer->publisher()) > 0)
        f.streamer->note_received(t);
      f.watcher.rearm();
      break;
  }
}

// After every call into the app: the publisher's requests to the HTTP task and its answers
// back, its datagrams, TCP messages and stream commands out, the watcher's socket set when it
// changed, its events and the sockets' lines to the log.
void drive_streamer(Firmware& f) {
  if (!f.streamer) return;
  const Instant t = now();
  streamer::Publisher& publisher = f.streamer->publisher();
  if (pump_requests(t, publisher, *f.http, f.limits, &f.turn_hosts).responses > 0)
    f.streamer->note_received(t);
  f.sockets->flush(t, publisher);
  if (f.sockets->watch_generation() != f.watched_generation) {
    f.watched_generation = f.sockets->watch_generation();
    f.watcher.set(f.sockets->watch_set());
  }
  while (auto event = publisher.poll_event())
    log_publisher_event(*event);
  while (auto line = f.sockets->poll_log())
    ESP_LOGI("stream", "%s", line->c_str());
}

void loop_task(void* arg) {
  Firmware& f = *static_cast<Firmware*>(arg);
  bool started = false;
  if (f.config.uses_wifi()) {
    started = true;
    f.app->start(now());
  }
  int64_t next_heap_log = esp_timer_get_time() + 60'000'000;
  for (;;) {
    TickType_t wait = pdMS_TO_TICKS(1000);
    // The sockets' own deadline: a closed session's TURN deallocations (their retransmissions).
    if (auto deadline = earliest(f.app->next_timeout(), f.sockets->next_timeout())) {
      const int64_t us = deadline->us() - esp_timer_get_time();
      wait = us <= 0 ? 0 : std::min<TickType_t>(wait, pdMS_TO_TICKS((us + 999) / 1000));
    }
    if (LoopEvent* e = f.queue.take(wait)) {
      dispatch(f, started, *e);
      delete e;
    }
    f.app->handle_timeout(now());
    f.sockets->handle_timeout(now());
    drive_streamer(f);
    while (auto event = f.app->poll_event())
      log_event(*event);
    if (esp_timer_get_time() >= next_heap_log) {
      next_heap_log += 60'000'000;
      log_heap("running", f.heap);
    }
  }
}

}  // namespace
}  // namespace cellrtc::firmware::esp

extern "C" void app_main(void) {
  using namespace cellrtc::firmware;
  using namespace cellrtc::firmware::esp;
  ESP_LOGI(kTag, "cellrtc firmware, ESP-IDF %s", esp_get_idf_version());
  auto* f = new Firmware;  // lives as long as the device runs
  log_heap("startup", f->heap);

  f->config = config_from_kconfig();
  if (auto ok = validate(f->config); !ok) {
    ESP_LOGE(kTag, "config: %s (fix it in menuconfig: cellrtc device)",
             describe(ok.error()).c_str());
    return;
  }

  if (auto warning = transport_warning(f->config)) ESP_LOGW(kTag, "config: %s", warning->c_str());
  {
    // The sessions' sockets: UDP and TCP on lwIP as the transport setting says; turns:
    // relays are verified against the configured CA (none: skipped, with a log line).
    SessionSocketsConfig net;
    net.transport = f->config.transport;
    net.relay_only = f->config.relay_only;
    net.relay = relay_plan_config(f->config);  // CELLRTC_TURN_URLS and the CA
    // TURN names: only what the HTTP task looked up with the answer; no lookup on the loop.
    net.resolve = f->turn_hosts.resolver(&cellrtc::firmware::esp::now);
    // Certificate dates once SNTP has set the clock (before, it reads 1970).
    net.unix_time = []() -> std::optional<int64_t> {
      const time_t t = time(nullptr);
      return t > 1'700'000'000 ? std::optional<int64_t>(t) : std::nullopt;
    };
    f->sockets = std::make_unique<SessionSockets>(f->udp, f->tcp, std::move(net));
  }

  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(esp_event_loop_create_default());

  err = f->camera.init(camera_pins(f->config.camera_board), f->config.frame_size,
                       f->config.jpeg_quality, CONFIG_CELLRTC_CAMERA_FB_COUNT);
  if (err != ESP_OK)
    ESP_LOGE(kTag, "camera init failed: %s (check the board choice and PSRAM)",
             esp_err_to_name(err));

  AppPorts ports;
  ports.camera = err == ESP_OK ? &f->camera : nullptr;
  ports.heap = &f->heap;
  if (f->config.uses_wifi()) {
    start_wifi(f->config, f->queue);
  } else {
    f->power =
        std::make_unique<GpioModemPower>(f->config.modem_power_key_pin, f->config.modem_reset_pin,
                                         CONFIG_CELLRTC_MODEM_LINES_ACTIVE_HIGH);
    f->netif = std::make_unique<EspPppNetif>(f->queue);
    ESP_ERROR_CHECK(f->netif->init(f->config.apn_user.c_str(), f->config.apn_password.c_str()));
    f->modem = std::make_unique<EspModemLink>(f->config, f->queue);
    ports.modem = f->modem.get();
    ports.power = f->power.get();
    ports.netif = f->netif.get();
  }
  // The streamer: the portable publisher (WHIP, PeerConnection, StreamingSession) on
  // esp_http_client (its own task) and lwIP UDP and TCP sockets on the interface's address. The
  // DTLS identity is kept in NVS, so its fingerprint survives reboots; the first boot makes it
  // (a few hundred ms for P-256).
  if (const char* nvs_error = f->store.open())
    ESP_LOGW(kTag, "NVS namespace %s: %s (the DTLS identity will not be kept)",
             NvsStore::kNamespace, nvs_error);
  auto certificate = load_or_make_identity(f->store, f->rng, static_cast<int64_t>(time(nullptr)));
  if (certificate) {
    ESP_LOGI(kTag, "DTLS identity %s, fingerprint %s", to_string(certificate->origin),
             certificate->certificate.fingerprint_sha256().c_str());
    if (certificate->unreadable_reason)
      ESP_LOGW(kTag, "stored DTLS identity not used: %s", certificate->unreadable_reason);
    if (!certificate->saved)
      ESP_LOGW(kTag, "DTLS identity not stored: %s", certificate->saved.error().reason);
  }
  // The private CA when configured (validate() checked it parses), else the certificate bundle.
  f->http = std::make_unique<EspRequestRunner>(
      f->queue, f->limits, f->config.ca_pem.empty() ? nullptr : f->config.ca_pem.c_str(),
      relay_plan_config(f->config).turn_urls);
  if (!certificate) {
    ESP_LOGE(kTag, "DTLS certificate: %s", certificate.error().reason);
  } else if (!f->http->start() || !f->watcher.start()) {
    ESP_LOGE(kTag, "cannot start the HTTP or socket task (out of memory)");
  } else {
    f->certificate.emplace(std::move(certificate->certificate));
    cellrtc::streamer::PublisherConfig pc;
    pc.endpoint = cellrtc::whip::whip_endpoint(f->config.server_url);
    pc.token = f->config.device_token;
    pc.limits = f->limits;
    pc.report_udp_grace = f->config.transport == cellrtc::streamer::IceTransport::automatic;
    apply_memory_profile(memory_profile(f->config.frame_size), pc);
    // Network gone: the streamer's stop cancels the requests the HTTP task still holds.
    f->streamer = std::make_unique<PublisherStreamer>(std::move(pc), f->rng, *f->certificate,
                                                      *f->sockets, f->http.get());
    ports.streamer = f->streamer.get();
  }
  f->app = std::make_unique<FirmwareApp>(f->config, ports);
  if (f->modem) ESP_ERROR_CHECK(f->modem->start());
  log_heap("ready", f->heap);
  xTaskCreatePinnedToCore(&loop_task, "cellrtc", 16384, f, 5, nullptr, 0);
}
