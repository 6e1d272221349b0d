#include "device/whip_client.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "core/common/text.h"

namespace cellrtc::device {

namespace {

// Blanks on both sides and the line ending curl leaves on header lines.
std::string_view trim(std::string_view s) {
  return text::trim_right(text::trim_left(s), " \t\r\n");
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
// One connect's attempts (WhipClientConfig::connect_attempt_interval), made by curl's
// open-socket callback, which hands curl the socket that connected.
struct ConnectAttempts {
  const WhipClientConfig* config = nullptr;
  Duration timeout{0};  // connect_timeout, or less when the request's own timeout is shorter
  const std::atomic<bool>* cancelled = nullptr;
  std::atomic<size_t>* counter = nullptr;  // the client's connect_attempts()
  curl_socket_t connected = CURL_SOCKET_BAD;
  // Why no attempt connected, when none did.
  std::optional<WhipErrorKind> failure;
  std::string failure_text;
};

// Starts a non-blocking connect on a new socket: the socket, or -1 with errno set.
int start_connect(const curl_sockaddr& address) {
  int fd =
      ::socket(address.family, address.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.protocol);
  if (fd < 0) return -1;
  if (::connect(fd, &address.addr, address.addrlen) == 0 || errno == EINPROGRESS) return fd;
  int error = errno;
  ::close(fd);
  errno = error;
  return -1;
}

// Connects to `address` in attempts on the schedule of next_connect_attempt(): the connected
// socket, or CURL_SOCKET_BAD with the reason in `a`. A refusal (RST: the host is there, nothing
// listens) ends the connect at once; any other error, or no answer, waits for the next attempt.
curl_socket_t connect_in_attempts(ConnectAttempts& a, const curl_sockaddr& address) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + a.timeout;
  std::vector<int> pending;
  size_t made = 0;
  int last_error = ETIMEDOUT;
  auto close_pending = [&] {
    for (int fd : pending)
      ::close(fd);
    pending.clear();
  };
  auto fail = [&](WhipErrorKind kind, std::string text) {
    close_pending();
    a.failure = kind;
    a.failure_text = std::move(text);
    return CURL_SOCKET_BAD;
  };
  for (;;) {
    if (a.cancelled && a.cancelled->load()) return fail(WhipErrorKind::cancelled, "cancelled");
    auto now = Clock::now();
    auto next = next_connect_attempt(made, *a.config);
    if (next && now >= start + *next && now < deadline) {
      ++made;
      if (a.counter) ++*a.counter;
      int fd = start_connect(address);
      if (fd >= 0) {
        pending.push_back(fd);
      } else if (errno == ECONNREFUSED) {
        return fail(WhipErrorKind::connect, std::strerror(ECONNREFUSED));
      } else {
        last_error = errno;
      }
      continue;
    }
    if (now >= deadline)
      return fail(WhipErrorKind::timeout,
                  "no connection within " +
                      std::to_string(std::chrono::duration_cast<milliseconds>(a.timeout).count()) +
                      " ms (" + std::to_string(made) +
                      " attempts; last: " + std::strerror(last_error) + ")");
    if (pending.empty() && !next) return fail(WhipErrorKind::connect, std::strerror(last_error));
    // Wake for the next attempt, the deadline, or every 100 ms to see a cancel.
    auto wake = std::min(deadline, now + milliseconds(100));
    if (next) wake = std::min(wake, start + *next);
    std::vector<pollfd> polls;
    for (int fd : pending)
      polls.push_back({fd, POLLOUT, 0});
    auto wait_ms = std::chrono::duration_cast<milliseconds>(wake - now).count();
    int ready = ::poll(polls.data(), polls.size(), static_cast<int>(std::max<long>(1, wait_ms)));
    if (ready <= 0) continue;
    for (const pollfd& p : polls) {
      if (p.revents == 0) continue;
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      std::erase(pending, p.fd);
      if (error == 0) {
        close_pending();
        return p.fd;
      }
      ::close(p.fd);
      if (error == ECONNREFUSED) return fail(WhipErrorKind::connect, std::strerror(ECONNREFUSED));
      last_error = error;
    }
  }
}

curl_socket_t on_open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* a = static_cast<ConnectAttempts*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN || address->socktype != SOCK_STREAM)
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  a->connected = connect_in_attempts(*a, *address);
  return a->connected;
}

int on_socket_options(void* user, curl_socket_t fd, curlsocktype) {
  auto* a = static_cast<ConnectAttempts*>(user);
  return fd == a->connected ? CURL_SOCKOPT_ALREADY_CONNECTED : CURL_SOCKOPT_OK;
}

struct Transfer {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t header_bytes = 0;
  size_t max_body = 0;
  size_t max_headers = 0;
  bool body_too_large = false;
  bool headers_too_large = false;
  const std::atomic<bool>* cancelled = nullptr;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->body.size() + n > t->max_body) {
    t->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  t->header_bytes += n;
  if (t->header_bytes > t->max_headers) {
    t->headers_too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  // A new status line (after a 100 Continue, say) starts the header set over.
  if (line.starts_with("HTTP/")) {
    t->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  t->headers.emplace_back(std::string(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->cancelled && t->cancelled->load() ? 1 : 0;
}

WhipError classify(CURLcode code, const char* detail, const std::string& what) {
  WhipError e;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      e.kind = WhipErrorKind::dns;
      break;
    case CURLE_COULDNT_CONNECT:
      e.kind = WhipErrorKind::connect;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      e.kind = WhipErrorKind::timeout;
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      e.kind = WhipErrorKind::tls;
      break;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_URL_MALFORMAT:
      e.kind = WhipErrorKind::invalid;
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:  // the scheme is checked first: the server spoke no HTTP
    case CURLE_WEIRD_SERVER_REPLY:
      e.kind = WhipErrorKind::bad_response;
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      e.kind = WhipErrorKind::cancelled;
      break;
    default:
      e.kind = WhipErrorKind::network;
      break;
  }
  std::string text = detail && *detail ? detail : curl_easy_strerror(code);
  if (e.kind == WhipErrorKind::cancelled) text = "cancelled";
  e.message = what + ": " + to_string(e.kind) + ": " + text;
  return e;
}

}  // namespace

std::optional<Duration> next_connect_attempt(size_t attempts_made, const WhipClientConfig& config) {
  if (attempts_made == 0) return Duration(0);
  if (config.connect_attempt_interval <= Duration(0)) return std::nullopt;
  if (attempts_made >= std::max<size_t>(1, config.max_connect_attempts)) return std::nullopt;
  Duration at = config.connect_attempt_interval * static_cast<int64_t>(attempts_made);
  if (at >= config.connect_timeout) return std::nullopt;
  return at;
}

WhipClient::WhipClient(WhipClientConfig config)
    : config_(std::move(config)), endpoint_(whip_endpoint(config_.url)) {}

WhipClient::~WhipClient() = default;

WhipResult<whip::HttpResponse> WhipClient::perform(const whip::WhipRequest& request) {
  const std::string& url = request.url;
  const std::string& method = request.method;
  std::string_view body = request.body;
  std::string what = request.what();
  if (cancelled_.load()) return WhipError{WhipErrorKind::cancelled, 0, what + ": cancelled"};
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return WhipError{WhipErrorKind::invalid, 0,
                     what + ": the URL must start with http:// or https://"};
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return WhipError{WhipErrorKind::invalid, 0, what + ": libcurl did not start"};
  CURL* c = curl.get();
  Transfer t;
  t.max_body = config_.max_response_bytes;
  t.max_headers = config_.max_header_bytes;
  t.cancelled = &cancelled_;
  char detail[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> list;
  auto add_header = [&](const std::string& h) {
    curl_slist* next = curl_slist_append(list.get(), h.c_str());
    if (next) {
      (void)list.release();
      list.reset(next);
    }
  };
  for (const auto& h : request.headers)
    add_header(h.name + ": " + h.value);
  add_header("Expect:");  // no 100-continue round trip for a few KB

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
  Duration total = request.timeout > Duration(0) ? request.timeout : config_.request_timeout;
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(config_.connect_timeout.count() / 1000));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count() / 1000));
  ConnectAttempts attempts;
  attempts.config = &config_;
  attempts.timeout = std::min(config_.connect_timeout, total);
  attempts.cancelled = &cancelled_;
  attempts.counter = &connect_attempts_;
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &attempts);
  curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket_options);
  curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, &attempts);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (method == "POST" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());

  CURLcode code = curl_easy_perform(c);
  if (t.body_too_large)
    return WhipError{WhipErrorKind::too_large, 0,
                     what + ": response larger than " + std::to_string(t.max_body) + " bytes"};
  if (t.headers_too_large)
    return WhipError{
        WhipErrorKind::too_large, 0,
        what + ": response headers larger than " + std::to_string(t.max_headers) + " bytes"};
  if (code != CURLE_OK && attempts.failure) {
    if (*attempts.failure == WhipErrorKind::cancelled)
      return WhipError{WhipErrorKind::cancelled, 0, what + ": cancelled"};
    return WhipError{*attempts.failure, 0,
                     what + ": " + to_string(*attempts.failure) + ": " + attempts.failure_text};
  }
  if (code != CURLE_OK) return classify(code, detail, what);
  whip::HttpResponse r;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  r.body = std::move(t.body);
  for (auto& [name, value] : t.headers)
    r.headers.push_back({std::move(name), std::move(value)});
  return r;
}

whip::WhipLimits WhipClient::limits() const {
  return {config_.max_response_bytes, config_.max_header_bytes};
}

WhipResult<WhipSession> WhipClient::publish(std::string_view offer_sdp) {
  auto request = whip::publish_request(endpoint_, config_.token, offer_sdp);
  auto r = perform(request);
  if (!r) return r.error();
  return whip::parse_publish_response(request, *r, limits());
}

WhipResult<bool> WhipClient::trickle(const WhipSession& session, std::string_view fragment) {
  auto request = whip::trickle_request(session, config_.token, fragment);
  auto r = perform(request);
  if (!r) return r.error();
  return whip::parse_trickle_response(request, *r, limits());
}

WhipResult<std::string> WhipClient::restart_ice(WhipSession& session, std::string_view offer_sdp) {
  auto request = whip::ice_restart_request(session, config_.token, offer_sdp);
  if (!request)
    return WhipError{WhipErrorKind::invalid, 0,
                     "PATCH " + session.resource_url + ": our offer has no ICE credentials"};
  auto r = perform(*request);
  if (!r) return r.error();
  return whip::parse_ice_restart_response(*request, *r, session, limits());
}

WhipResult<bool> WhipClient::end(const WhipSession& session, std::optional<Duration> timeout) {
  auto request = whip::end_request(session, config_.token);
  if (timeout) request.timeout = *timeout;
  auto r = perform(request);
  if (!r) return r.error();
  return whip::parse_end_response(request, *r, limits());
}

}  // namespace cellrtc::device
