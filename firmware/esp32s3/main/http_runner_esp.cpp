#include "http_runner_esp.h"

#include <string>
#include <string_view>
#include <utility>

#include "esp_crt_bundle.h"
#include "esp_http_client.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#include "esp_tls.h"
#include "lwip/sockets.h"
#include "tcp_sockets_esp.h"

// esp_http_client_get_socket came with ESP-IDF v5.4.4 in the 5.4 series and v5.5.3 in the 5.5
// series (and is in 6.0).
#if (ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 4, 4) && \
     ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 5, 0)) || \
    ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 5, 3)
#define CELLRTC_HTTP_CLIENT_HAS_SOCKET 1
#else
#define CELLRTC_HTTP_CLIENT_HAS_SOCKET 0
#endif

namespace cellrtc::firmware::esp {
namespace {

constexpr const char* kTag = "whip-http";
constexpr UBaseType_t kQueueDepth = 4;
// esp_http_client's receive buffer holds a header line while it is parsed: a Link header with
// TURN credentials (RFC 9725 section 4.6) passes the default 512 bytes.
constexpr int kClientBuffer = 2048;

esp_http_client_method_t method_of(const std::string& method) {
  if (method == "PATCH") return HTTP_METHOD_PATCH;
  if (method == "DELETE") return HTTP_METHOD_DELETE;
  return HTTP_METHOD_POST;
}

struct PerformContext {
  ResponseCollector* collector;
  EspRequestRunner* runner;
  uint32_t generation;
};

// Header and data events go into the request's collector (esp_http_client_event_t: header_key,
// header_value for HTTP_EVENT_ON_HEADER; data, data_len for HTTP_EVENT_ON_DATA). Connected and
// disconnected tell the runner which socket a cancellation may shut down: esp_http_client_close
// dispatches HTTP_EVENT_DISCONNECTED before it closes the transport.
esp_err_t on_event(esp_http_client_event_t* evt) {
  auto* context = static_cast<PerformContext*>(evt->user_data);
  ResponseCollector* collector = context->collector;
  if (evt->event_id == HTTP_EVENT_ON_CONNECTED) {
#if CELLRTC_HTTP_CLIENT_HAS_SOCKET
    context->runner->on_connected(esp_http_client_get_socket(evt->client), context->generation);
#endif
  } else if (evt->event_id == HTTP_EVENT_DISCONNECTED) {
    context->runner->on_disconnected();
  } else if (evt->event_id == HTTP_EVENT_ON_HEADER && evt->header_key && evt->header_value) {
    collector->on_header(evt->header_key, evt->header_value);
  } else if (evt->event_id == HTTP_EVENT_ON_DATA && evt->data_len > 0) {
    collector->on_body(
        std::string_view(static_cast<const char*>(evt->data), static_cast<size_t>(evt->data_len)));
  }
  return ESP_OK;
}

// What failed, from esp-tls's last error (which also covers plain TCP: esp_http_client opens
// http:// through esp-tls's TCP transport too) and esp_http_client_perform's result.
HttpFailure failure_of(esp_err_t perform, esp_err_t tls, int tls_flags) {
  switch (tls) {
    case ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME:
      return HttpFailure::dns;
    case ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST:
    case ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET:
      return HttpFailure::connect;
    case ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT:
#ifdef ESP_ERR_ESP_TLS_SERVER_HANDSHAKE_TIMEOUT  // esp-tls of ESP-IDF 5.5 and newer
    case ESP_ERR_ESP_TLS_SERVER_HANDSHAKE_TIMEOUT:
#endif
      return HttpFailure::timeout;
    case ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED:
      return HttpFailure::tls;
    default:
      break;
  }
  if (tls_flags != 0) return HttpFailure::tls;  // certificate verification flags
  if (perform == ESP_ERR_HTTP_EAGAIN) return HttpFailure::timeout;
#ifdef ESP_ERR_HTTP_READ_TIMEOUT
  if (perform == ESP_ERR_HTTP_READ_TIMEOUT) return HttpFailure::timeout;
#endif
  if (perform == ESP_ERR_HTTP_CONNECT) return HttpFailure::connect;
  return HttpFailure::network;
}

}  // namespace

EspRequestRunner::EspRequestRunner(LoopQueue& loop, whip::WhipLimits limits, const char* ca_pem,
                                   std::vector<std::string> turn_urls)
    : loop_(loop),
      limits_(limits),
      ca_pem_(ca_pem),
      turn_urls_(std::move(turn_urls)),
      todo_(xQueueCreate(kQueueDepth, sizeof(streamer::PendingRequest*))),
      done_(xQueueCreate(kQueueDepth * 2, sizeof(CompletedRequest*))) {}

bool EspRequestRunner::start() {
  if (!todo_ || !done_) return false;
  return xTaskCreatePinnedToCore(&EspRequestRunner::task, "whip-http", 8192, this, 4, nullptr, 1) ==
         pdPASS;
}

bool EspRequestRunner::submit(const streamer::PendingRequest& request) {
  auto* job = new Job{request, generation_.load()};
  if (xQueueSend(todo_, &job, 0) == pdTRUE) return true;
  delete job;
  return false;
}

std::optional<CompletedRequest> EspRequestRunner::poll_completed() {
  Finished* f = nullptr;
  while (xQueueReceive(done_, &f, 0) == pdTRUE) {
    if (f->generation != generation_.load()) {
      delete f;  // finished on a network that is gone: stale
      continue;
    }
    CompletedRequest out = std::move(f->done);
    delete f;
    return out;
  }
  return std::nullopt;
}

void EspRequestRunner::cancel_all() {
  ++generation_;
  // Queued requests are not performed; finished ones are dropped by poll_completed (also one
  // the task hands over after this).
  Job* job = nullptr;
  while (xQueueReceive(todo_, &job, 0) == pdTRUE)
    delete job;
  Finished* f = nullptr;
  while (xQueueReceive(done_, &f, 0) == pdTRUE)
    delete f;
  // The request being performed: shutting its socket down makes the blocked send or receive
  // fail at once (lwIP wakes the waiting task); the HTTP task then cleans up as after any
  // failure. Under the mutex the socket cannot be closed meanwhile.
  std::lock_guard<std::mutex> lock(inflight_mutex_);
  if (inflight_socket_ >= 0) {
    ESP_LOGI(kTag, "network gone: aborting the request in flight");
    shutdown(inflight_socket_, SHUT_RDWR);
  }
}

void EspRequestRunner::on_connected(int socket, uint32_t generation) {
  std::lock_guard<std::mutex> lock(inflight_mutex_);
  inflight_socket_ = socket;
  // Cancelled while connecting: abort now.
  if (socket >= 0 && generation != generation_.load()) shutdown(socket, SHUT_RDWR);
}

void EspRequestRunner::on_disconnected() {
  std::lock_guard<std::mutex> lock(inflight_mutex_);
  inflight_socket_ = -1;
}

void EspRequestRunner::task(void* arg) {
  auto* self = static_cast<EspRequestRunner*>(arg);
  for (;;) {
    Job* job = nullptr;
    if (xQueueReceive(self->todo_, &job, portMAX_DELAY) != pdTRUE) continue;
    if (job->generation != self->generation_.load()) {
      delete job;  // cancelled before its turn
      continue;
    }
    auto* c = new Finished{self->perform(*job), job->generation};
    delete job;
    // The answer's TURN names, looked up here (getaddrinfo blocks up to lwIP's DNS timeout)
    // so that the loop never waits for DNS: pump_requests puts them into its TurnHostCache.
    c->done.turn_hosts = lookup_turn_hosts(c->done.request, c->done.outcome.response,
                                           self->turn_urls_, &resolve_ipv4);
    if (c->generation != self->generation_.load()) {
      delete c;  // cancelled while performed: no answer, no wake-up
      continue;
    }
    // Twice the submit queue's depth: the loop takes answers before it submits more, so this
    // cannot stay full; waiting here keeps every answer.
    xQueueSend(self->done_, &c, portMAX_DELAY);
    auto* e = new LoopEvent{};
    e->kind = LoopEvent::Kind::http_done;
    self->loop_.post(e);
  }
}

CompletedRequest EspRequestRunner::perform(const Job& job) {
  const whip::WhipRequest& request = job.request.request;
  CompletedRequest done{job.request.id, request, {}};
  ResponseCollector collector(limits_);
  PerformContext context{&collector, this, job.generation};

  esp_http_client_config_t config = {};
  config.url = request.url.c_str();
  config.method = method_of(request.method);
  config.timeout_ms =
      request.timeout > Duration(0) ? static_cast<int>(request.timeout.count() / 1000) : 20000;
  config.event_handler = &on_event;
  config.user_data = &context;
  config.disable_auto_redirect = true;  // a 3xx is the publisher's to judge, not followed
  config.buffer_size = kClientBuffer;
  config.buffer_size_tx = kClientBuffer;
  config.keep_alive_enable = false;
  if (ca_pem_) {
    config.cert_pem = ca_pem_;
  } else {
    config.crt_bundle_attach = esp_crt_bundle_attach;
  }
  esp_http_client_handle_t client = esp_http_client_init(&config);
  if (!client) {
    done.outcome = collector.fail(HttpFailure::invalid, "esp_http_client_init failed");
    return done;
  }
  // Authorization (Bearer, RFC 9725 section 4.5), Content-Type, If-Match as the request has them.
  for (const whip::HttpHeader& h : request.headers)
    esp_http_client_set_header(client, h.name.c_str(), h.value.c_str());
  if (!request.body.empty())
    esp_http_client_set_post_field(client, request.body.data(),
                                   static_cast<int>(request.body.size()));

  const esp_err_t err = esp_http_client_perform(client);
  if (err == ESP_OK) {
    done.outcome = collector.finish(esp_http_client_get_status_code(client));
  } else {
    int tls_code = 0;
    int tls_flags = 0;
    const esp_err_t tls =
        esp_http_client_get_and_clear_last_tls_error(client, &tls_code, &tls_flags);
    std::string detail = esp_err_to_name(err);
    if (tls != ESP_OK) detail += std::string(", ") + esp_err_to_name(tls);
    ESP_LOGW(kTag, "%s: %s (tls 0x%x flags 0x%x)", request.what().c_str(), detail.c_str(),
             static_cast<unsigned>(tls_code), static_cast<unsigned>(tls_flags));
    done.outcome = collector.fail(failure_of(err, tls, tls_flags), std::move(detail));
  }
  esp_http_client_cleanup(client);  // closes the connection (HTTP_EVENT_DISCONNECTED first)
  on_disconnected();
  return done;
}

}  // namespace cellrtc::firmware::esp
