#include "ppp_netif_esp.h"

#include "esp_log.h"
#include "esp_netif_ppp.h"

namespace cellrtc::firmware::esp {
namespace {
constexpr const char* kTag = "ppp";
}

esp_err_t EspPppNetif::init(const char* user, const char* password) {
  esp_netif_config_t config = ESP_NETIF_DEFAULT_PPP();
  netif_ = esp_netif_new(&config);
  if (!netif_) return ESP_ERR_NO_MEM;
  driver_.base.post_attach = &EspPppNetif::post_attach;
  driver_.self = this;
  esp_err_t err = esp_netif_attach(netif_, &driver_);
  if (err != ESP_OK) return err;
  // Error events (NETIF_PPP_ERRORPEERDEAD when LCP echoes go unanswered) tell a dead link.
  esp_netif_ppp_config_t ppp{};
  ppp.ppp_phase_event_enabled = false;
  ppp.ppp_error_event_enabled = true;
  esp_netif_ppp_set_params(netif_, &ppp);
  if (user && *user) esp_netif_ppp_set_auth(netif_, NETIF_PPP_AUTHTYPE_CHAP, user, password);
  ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, ESP_EVENT_ANY_ID, &on_ip_event, this));
  ESP_ERROR_CHECK(
      esp_event_handler_register(NETIF_PPP_STATUS, ESP_EVENT_ANY_ID, &on_ppp_status, this));
  return ESP_OK;
}

esp_err_t EspPppNetif::post_attach(esp_netif_t* netif, void* args) {
  auto* d = static_cast<Driver*>(args);
  d->base.netif = netif;
  esp_netif_driver_ifconfig_t ifconfig{};
  ifconfig.handle = d->self;
  ifconfig.transmit = &EspPppNetif::transmit;
  return esp_netif_set_driver_config(netif, &ifconfig);
}

// lwIP's tcpip thread: a PPP frame (HDLC-like framing done) to send to the modem.
esp_err_t EspPppNetif::transmit(void* handle, void* buffer, size_t len) {
  auto* self = static_cast<EspPppNetif*>(handle);
  auto* e = new LoopEvent{};
  e->kind = LoopEvent::Kind::ppp_output;
  const auto* p = static_cast<const uint8_t*>(buffer);
  e->bytes.assign(p, p + len);
  return self->queue_.post(e) ? ESP_OK : ESP_FAIL;
}

void EspPppNetif::start() {
  running_ = true;
  esp_netif_action_start(netif_, nullptr, 0, nullptr);
}

void EspPppNetif::stop() {
  if (!running_) return;
  running_ = false;
  esp_netif_action_stop(netif_, nullptr, 0, nullptr);
}

void EspPppNetif::input(ByteView frame_bytes) {
  if (!running_) return;
  esp_netif_receive(netif_, const_cast<uint8_t*>(frame_bytes.data()), frame_bytes.size(), nullptr);
}

void EspPppNetif::on_ip_event(void* arg, esp_event_base_t, int32_t id, void* data) {
  auto* self = static_cast<EspPppNetif*>(arg);
  if (id == IP_EVENT_PPP_GOT_IP) {
    auto* got = static_cast<ip_event_got_ip_t*>(data);
    if (got->esp_netif != self->netif_) return;
    ESP_LOGI(kTag, "address " IPSTR ", gateway " IPSTR, IP2STR(&got->ip_info.ip),
             IP2STR(&got->ip_info.gw));
    esp_netif_action_connected(self->netif_, nullptr, 0, nullptr);
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::netif_up;
    e->address = ipv4_of(got->ip_info.ip);
    self->queue_.post(e);
  } else if (id == IP_EVENT_PPP_LOST_IP) {
    esp_netif_action_disconnected(self->netif_, nullptr, 0, nullptr);
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::netif_down;
    self->queue_.post(e);
  }
}

void EspPppNetif::on_ppp_status(void* arg, esp_event_base_t, int32_t id, void*) {
  auto* self = static_cast<EspPppNetif*>(arg);
  // Errors only (phase events are off); NETIF_PPP_ERRORUSER is our own stop().
  if (id == NETIF_PPP_ERRORNONE || id == NETIF_PPP_ERRORUSER) return;
  ESP_LOGW(kTag, "PPP error %d", static_cast<int>(id));
  auto* e = new LoopEvent{};
  e->kind = LoopEvent::Kind::netif_down;
  e->flag = id == NETIF_PPP_ERRORPEERDEAD;
  self->queue_.post(e);
}

}  // namespace cellrtc::firmware::esp
