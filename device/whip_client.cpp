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

using text::iequals;

// Blanks on both sides and the line ending curl leaves on header lines.
std::string_view trim(std::string_view s) {
  return text::trim_right(text::trim_left(s), " \t\r\n");
}

// Lines of an SDP or fragment, CRLF or LF.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
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

// Resolves `reference` (a Location) against `base` (RFC 3986 section 5).
std::optional<std::string> resolve_url(const std::string& base, const std::string& reference) {
  std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
  if (!url) return std::nullopt;
  if (curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) return std::nullopt;
  if (curl_url_set(url.get(), CURLUPART_URL, reference.c_str(), 0) != CURLUE_OK)
    return std::nullopt;
  char* out = nullptr;
  if (curl_url_get(url.get(), CURLUPART_URL, &out, 0) != CURLUE_OK || !out) return std::nullopt;
  std::string s(out);
  curl_free(out);
  return s;
}

// A quoted-string (RFC 9110 section 5.6.4) or a token, starting at `pos`.
std::string read_param_value(std::string_view s, size_t& pos) {
  std::string out;
  if (pos < s.size() && s[pos] == '"') {
    ++pos;
    while (pos < s.size() && s[pos] != '"') {
      if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
      out.push_back(s[pos++]);
    }
    if (pos < s.size()) ++pos;  // closing quote
    return out;
  }
  while (pos < s.size() && s[pos] != ';' && s[pos] != ',')
    out.push_back(s[pos++]);
  return std::string(trim(out));
}

}  // namespace

const char* to_string(WhipErrorKind kind) {
  switch (kind) {
    case WhipErrorKind::dns:
      return "DNS lookup failed";
    case WhipErrorKind::connect:
      return "cannot connect";
    case WhipErrorKind::tls:
      return "TLS failed";
    case WhipErrorKind::timeout:
      return "timed out";
    case WhipErrorKind::network:
      return "network error";
    case WhipErrorKind::unauthorized:
      return "not authorized";
    case WhipErrorKind::not_found:
      return "not found";
    case WhipErrorKind::http:
      return "HTTP error";
    case WhipErrorKind::bad_response:
      return "bad response";
    case WhipErrorKind::too_large:
      return "response too large";
    case WhipErrorKind::cancelled:
      return "cancelled";
    case WhipErrorKind::invalid:
      return "invalid configuration";
  }
  return "?";
}

std::optional<Duration> next_connect_attempt(size_t attempts_made, const WhipClientConfig& config) {
  if (attempts_made == 0) return Duration(0);
  if (config.connect_attempt_interval <= Duration(0)) return std::nullopt;
  if (attempts_made >= std::max<size_t>(1, config.max_connect_attempts)) return std::nullopt;
  Duration at = config.connect_attempt_interval * static_cast<int64_t>(attempts_made);
  if (at >= config.connect_timeout) return std::nullopt;
  return at;
}

std::string whip_endpoint(std::string_view server) {
  std::string s(trim(server));
  size_t scheme = s.find("://");
  size_t path = s.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return s + "/whip";
  if (path == s.size() - 1) return s + "whip";
  return s;
}

std::vector<IceServer> parse_ice_server_links(std::string_view header) {
  std::vector<IceServer> out;
  size_t pos = 0;
  while (pos < header.size() && out.size() < 16) {
    size_t open = header.find('<', pos);
    if (open == std::string_view::npos) break;
    size_t close = header.find('>', open);
    if (close == std::string_view::npos) break;
    IceServer server;
    server.url = std::string(header.substr(open + 1, close - open - 1));
    bool ice = false;
    pos = close + 1;
    // Parameters up to the next link (a ',' outside quotes).
    while (pos < header.size() && header[pos] != ',') {
      if (header[pos] == ';' || header[pos] == ' ' || header[pos] == '\t') {
        ++pos;
        continue;
      }
      size_t eq = pos;
      while (eq < header.size() && header[eq] != '=' && header[eq] != ';' && header[eq] != ',')
        ++eq;
      std::string_view key = trim(header.substr(pos, eq - pos));
      std::string value;
      pos = eq;
      if (pos < header.size() && header[pos] == '=') {
        ++pos;
        while (pos < header.size() && header[pos] == ' ')
          ++pos;
        value = read_param_value(header, pos);
      }
      if (iequals(key, "rel")) {
        // rel may list several relation types separated by spaces (RFC 8288 section 3.3).
        std::string_view rels(value);
        while (!rels.empty()) {
          size_t sp = rels.find(' ');
          if (iequals(rels.substr(0, sp), "ice-server")) ice = true;
          if (sp == std::string_view::npos) break;
          rels.remove_prefix(sp + 1);
        }
      } else if (iequals(key, "username")) {
        server.username = value;
      } else if (iequals(key, "credential")) {
        server.credential = value;
      }
    }
    if (pos < header.size()) ++pos;  // ','
    if (ice && !server.url.empty()) out.push_back(std::move(server));
  }
  return out;
}

std::optional<IceFragment> parse_ice_fragment(std::string_view sdp) {
  IceFragment f;
  for (std::string_view line : lines_of(sdp)) {
    if (line.starts_with("a=ice-ufrag:") && f.ufrag.empty())
      f.ufrag = std::string(line.substr(12));
    else if (line.starts_with("a=ice-pwd:") && f.pwd.empty())
      f.pwd = std::string(line.substr(10));
    else if (line.starts_with("a=candidate:") && f.candidates.size() < 32)
      f.candidates.emplace_back(line.substr(2));
  }
  if (f.ufrag.empty() || f.pwd.empty()) return std::nullopt;
  return f;
}

std::optional<std::string> ice_restart_fragment(std::string_view offer) {
  auto ice = parse_ice_fragment(offer);
  if (!ice) return std::nullopt;
  std::string m_line, mid, ice_options;
  for (std::string_view line : lines_of(offer)) {
    if (line.starts_with("m=") && m_line.empty()) m_line = std::string(line);
    if (line.starts_with("a=mid:") && mid.empty()) mid = std::string(line);
    if (line.starts_with("a=ice-options:") && ice_options.empty()) ice_options = std::string(line);
  }
  if (m_line.empty() || mid.empty()) return std::nullopt;
  // RFC 8840 section 4.4: session-level ice-options, then the m= line and its mid, then the
  // credentials and candidates.
  std::string out;
  if (!ice_options.empty()) out += ice_options + "\r\n";
  out += m_line + "\r\n" + mid + "\r\n";
  out += "a=ice-ufrag:" + ice->ufrag + "\r\n";
  out += "a=ice-pwd:" + ice->pwd + "\r\n";
  for (const auto& c : ice->candidates)
    out += "a=" + c + "\r\n";
  return out;
}

std::optional<std::string> trickle_fragment(std::string_view offer_sdp,
                                            const std::vector<std::string>& candidates) {
  if (!parse_ice_fragment(offer_sdp)) return std::nullopt;
  // The restart fragment's layout (m= line, mid, credentials, candidates) with our candidates.
  std::string sdp;
  for (std::string_view line : lines_of(offer_sdp))
    if (!line.starts_with("a=candidate:") && !line.starts_with("a=end-of-candidates"))
      sdp += std::string(line) + "\r\n";
  for (const auto& c : candidates)
    sdp += "a=" + c + "\r\n";
  return ice_restart_fragment(sdp);
}

std::string apply_ice_fragment(std::string_view answer, const IceFragment& f) {
  std::string out;
  bool candidates_written = false;
  bool replace_candidates = !f.candidates.empty();
  for (std::string_view line : lines_of(answer)) {
    if (line.empty()) continue;
    if (line.starts_with("a=ice-ufrag:")) {
      out += "a=ice-ufrag:" + f.ufrag + "\r\n";
    } else if (line.starts_with("a=ice-pwd:")) {
      out += "a=ice-pwd:" + f.pwd + "\r\n";
    } else if (line.starts_with("a=candidate:") && replace_candidates) {
      if (!candidates_written) {
        for (const auto& c : f.candidates)
          out += "a=" + c + "\r\n";
        candidates_written = true;
      }
    } else {
      out += std::string(line) + "\r\n";
    }
  }
  if (replace_candidates && !candidates_written)
    for (const auto& c : f.candidates)
      out += "a=" + c + "\r\n";
  return out;
}

struct WhipClient::Response {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (iequals(k, name)) return v;
    return {};
  }
  std::string all(std::string_view name) const {
    std::string out;
    for (const auto& [k, v] : headers)
      if (iequals(k, name)) out += (out.empty() ? "" : ", ") + v;
    return out;
  }
};

WhipClient::WhipClient(WhipClientConfig config)
    : config_(std::move(config)), endpoint_(whip_endpoint(config_.url)) {}

WhipClient::~WhipClient() = default;

WhipResult<WhipClient::Response> WhipClient::request(const char* method, const std::string& url,
                                                     const std::vector<std::string>& headers,
                                                     std::string_view body,
                                                     std::optional<Duration> timeout) {
  std::string what = std::string(method) + " " + url;
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
  for (const auto& h : headers)
    add_header(h);
  if (!config_.token.empty()) add_header("Authorization: Bearer " + config_.token);
  add_header("Expect:");  // no 100-continue round trip for a few KB

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
  Duration total = timeout.value_or(config_.request_timeout);
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
  if (std::string_view(method) == "POST" || std::string_view(method) == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (std::string_view(method) != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

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
  Response r;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(t.body);
  r.headers = std::move(t.headers);
  if (r.status == 401 || r.status == 403 || r.status == 404 || r.status >= 300) {
    WhipError e;
    e.status = static_cast<int>(r.status);
    e.kind = r.status == 401 || r.status == 403 ? WhipErrorKind::unauthorized
             : r.status == 404                  ? WhipErrorKind::not_found
                                                : WhipErrorKind::http;
    e.message = what + ": HTTP " + std::to_string(r.status);
    if (const char* phrase = reason_phrase(e.status); *phrase)
      e.message += std::string(" ") + phrase;
    // RFC 9457 problem details: the detail (or title) says why, on one line.
    std::string_view b = r.body;
    for (const char* key : {"\"detail\"", "\"title\""}) {
      size_t k = b.find(key);
      if (k == std::string_view::npos) continue;
      size_t q1 = b.find('"', b.find(':', k) + 1);
      size_t q2 = q1 == std::string_view::npos ? q1 : b.find('"', q1 + 1);
      if (q2 != std::string_view::npos && q2 - q1 < 200) {
        e.message += ": " + std::string(b.substr(q1 + 1, q2 - q1 - 1));
        break;
      }
    }
    if (e.kind == WhipErrorKind::unauthorized) e.message += " (check the device token)";
    return e;
  }
  return r;
}

WhipResult<WhipSession> WhipClient::publish(std::string_view offer_sdp) {
  auto r = request("POST", endpoint_, {"Content-Type: application/sdp"}, offer_sdp);
  if (!r) return r.error();
  std::string what = "POST " + endpoint_;
  if (r->status != 201)
    return WhipError{WhipErrorKind::http, static_cast<int>(r->status),
                     what + ": HTTP " + std::to_string(r->status) + " where WHIP answers 201"};
  // RFC 9725 section 4.2: the answer is an SDP document.
  if (!r->body.starts_with("v=0")) {
    std::string start = r->body.substr(0, 40);
    for (char& ch : start)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '.';
    return WhipError{WhipErrorKind::bad_response, 201,
                     what + ": answer is not SDP (starts \"" + start + "\")"};
  }
  std::string location = r->header("Location");
  if (location.empty())
    return WhipError{WhipErrorKind::bad_response, 201, what + ": 201 without a Location"};
  auto resource = resolve_url(endpoint_, location);
  if (!resource)
    return WhipError{WhipErrorKind::bad_response, 201,
                     what + ": Location \"" + location.substr(0, 100) + "\" is not a URL"};
  WhipSession s;
  s.resource_url = *resource;
  s.etag = r->header("ETag");
  s.answer = std::move(r->body);
  s.ice_servers = parse_ice_server_links(r->all("Link"));
  return s;
}

WhipResult<bool> WhipClient::trickle(const WhipSession& session, std::string_view fragment) {
  std::string what = "PATCH " + session.resource_url;
  std::vector<std::string> headers = {"Content-Type: application/trickle-ice-sdpfrag"};
  if (!session.etag.empty()) headers.push_back("If-Match: " + session.etag);
  auto r = request("PATCH", session.resource_url, headers, fragment);
  if (!r) return r.error();
  if (r->status != 204 && r->status != 200)
    return WhipError{WhipErrorKind::http, static_cast<int>(r->status),
                     what + ": HTTP " + std::to_string(r->status) + " to a trickle fragment"};
  return true;
}

WhipResult<std::string> WhipClient::restart_ice(WhipSession& session, std::string_view offer_sdp) {
  auto fragment = ice_restart_fragment(offer_sdp);
  std::string what = "PATCH " + session.resource_url;
  if (!fragment)
    return WhipError{WhipErrorKind::invalid, 0, what + ": our offer has no ICE credentials"};
  // RFC 9725 section 4.3.2: an ICE restart carries If-Match: "*".
  auto r = request("PATCH", session.resource_url,
                   {"Content-Type: application/trickle-ice-sdpfrag", "If-Match: \"*\""}, *fragment);
  if (!r) return r.error();
  if (r->status != 200)
    return WhipError{
        WhipErrorKind::http, static_cast<int>(r->status),
        what + ": HTTP " + std::to_string(r->status) + " where an ICE restart answers 200"};
  auto theirs = parse_ice_fragment(r->body);
  if (!theirs)
    return WhipError{WhipErrorKind::bad_response, 200,
                     what + ": answer fragment without ice-ufrag and ice-pwd"};
  if (std::string etag = r->header("ETag"); !etag.empty()) session.etag = etag;
  session.answer = apply_ice_fragment(session.answer, *theirs);
  return session.answer;
}

WhipResult<bool> WhipClient::end(const WhipSession& session, std::optional<Duration> timeout) {
  auto r = request("DELETE", session.resource_url, {}, {}, timeout);
  if (!r) {
    if (r.error().kind == WhipErrorKind::not_found) return false;
    return r.error();
  }
  return true;
}

}  // namespace cellrtc::device
