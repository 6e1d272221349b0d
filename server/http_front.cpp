#include "server/http_front.h"

#include <array>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cmath>
#include <deque>
#include <optional>
#include <unordered_map>

#include "core/ice/tcp_framing.h"
#include "server/forwarded_client.h"
#include "server/media_plane.h"
#include "server/rate_limiter.h"
#include "server/static_files.h"
#include "server/web_root.h"

namespace cellrtc::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::chrono::steady_clock::duration to_steady(Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

// What the front end can close at shutdown: an HTTP connection or a WebSocket subscriber.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void close_for_shutdown() = 0;
};

class Subscriber : public Closable {
 public:
  virtual void send(std::shared_ptr<const std::string> message) = 0;
};

// A connection whose request the relay answers later (HttpResponse::deferred).
class DeferredTarget {
 public:
  virtual ~DeferredTarget() = default;
  virtual void answer(HttpResponse response) = 0;
};

std::string client_address(const tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

bool is_rate_limited_request(const HttpRequest& request) {
  auto path = request.path();
  bool signaling = path.rfind("/whip", 0) == 0 || path.rfind("/whep", 0) == 0;
  bool writes = request.method == "POST" || request.method == "PATCH" || request.method == "DELETE";
  return signaling && writes;
}

}  // namespace

struct HttpFront::Impl : std::enable_shared_from_this<HttpFront::Impl> {
  Impl(asio::io_context& io_context, const ServerConfig& server_config, Relay& the_relay,
       MediaPlane& the_media, const runtime::MonotonicClock& the_clock, Logger& logger,
       FrontLimits front_limits)
      : io(io_context),
        config(server_config),
        relay(the_relay),
        media(the_media),
        clock(the_clock),
        log(logger),
        limits(front_limits),
        limiter(config.http.requests_per_second, config.http.request_burst),
        acceptor(io),
        retry_timer(io) {}

  asio::io_context& io;
  const ServerConfig& config;
  Relay& relay;
  MediaPlane& media;
  const runtime::MonotonicClock& clock;
  Logger& log;
  FrontLimits limits;
  RateLimiter limiter;
  HttpMetrics metrics;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::unique_ptr<ssl::context> tls;
  bool stopping = false;

  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::weak_ptr<Closable>> connections;
  std::unordered_map<uint64_t, std::weak_ptr<Subscriber>> subscribers;
  // Requests waiting for a deferred answer, by its id: held here, since no read or write of
  // theirs is pending to keep them alive (bounded by the relay's timeouts: every deferred
  // request is answered within seconds).
  std::unordered_map<uint64_t, std::shared_ptr<DeferredTarget>> waiting;

  Result<tcp::endpoint, std::string> start();
  void accept();
  void on_accept(tcp::socket socket);
  void start_http(tcp::socket socket);
  HttpResponse route(const HttpRequest& request);
  void broadcast(std::shared_ptr<const std::string> message);
  void answer_deferred(DeferredResponse deferred) {
    auto it = waiting.find(deferred.id);
    if (it == waiting.end()) return;
    auto target = std::move(it->second);
    waiting.erase(it);
    target->answer(std::move(deferred.response));
  }
  void stop();

  std::string web_root() const {
    return config.http.web_root.empty() ? std::string(built_in_web_root()) : config.http.web_root;
  }
};

namespace {

// The conversions between Beast's messages and the relay's plain values.
HttpRequest to_request(const BeastRequest& beast_request, const std::string& peer,
                       const std::vector<std::string>& trusted_proxies) {
  HttpRequest request;
  request.method = std::string(beast_request.method_string());
  request.target = std::string(beast_request.target());
  for (const auto& field : beast_request) {
    request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  request.body = beast_request.body();
  request.client = forwarded_client(peer, request.header("X-Forwarded-For"), trusted_proxies);
  return request;
}

BeastResponse to_beast(HttpResponse response, unsigned version, bool keep_alive, bool head) {
  BeastResponse out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "cellrtc-server");
  for (auto& header : response.headers)
    out.insert(header.name, header.value);
  out.keep_alive(keep_alive);
  size_t length = response.body.size();
  if (!head) out.body() = std::move(response.body);
  out.content_length(length);
  return out;
}

// One WebSocket subscriber of the relay's events. The outgoing queue is bounded: a subscriber
// that cannot take events as fast as they come is dropped, not buffered for without bound.
template <class Stream>
class WebSocketSession : public Subscriber,
                         public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream&& stream, std::shared_ptr<HttpFront::Impl> front, std::string client)
      : ws_(std::move(stream)), front_(std::move(front)), client_(std::move(client)) {}

  ~WebSocketSession() override {
    front_->subscribers.erase(id_);
    front_->connections.erase(id_);
    if (subscribed_) --front_->metrics.websocket_subscribers;
    --front_->metrics.connections_active;
  }

  void run(BeastRequest request, uint64_t id) {
    id_ = id;
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "cellrtc-server");
    }));
    ws_.read_message_max(front_->limits.websocket_max_incoming_bytes);
    ws_.async_accept(
        request, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void send(std::shared_ptr<const std::string> message) override {
    if (closing_) return;
    if (queue_.size() >= front_->limits.websocket_queue_messages) {
      ++front_->metrics.websocket_dropped_total;
      front_->log.warn("websocket subscriber dropped: not keeping up", {{"client", client_}});
      closing_ = true;
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);
      return;
    }
    ++front_->metrics.websocket_messages_total;
    queue_.push_back(std::move(message));
    if (!writing_) write_next();
  }

  void close_for_shutdown() override {
    if (closing_) return;
    closing_ = true;
    close_after_queue_ = true;
    if (!writing_) send_close();
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      front_->log.debug("websocket handshake failed",
                        {{"client", client_}, {"error", ec.message()}});
      return;
    }
    if (front_->stopping) return;
    front_->subscribers[id_] = this->weak_from_this();
    subscribed_ = true;
    ++front_->metrics.websocket_subscribers;
    front_->log.info("websocket subscribed", {{"client", client_}});
    send(
        std::make_shared<const std::string>(front_->relay.devices_event_json(front_->clock.now())));
    read();
  }

  // Incoming messages carry nothing for the server; reading keeps pings, pongs and the close
  // handshake going.
  void read() {
    ws_.async_read(read_buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closing_ = true;
        return;
      }
      self->read_buffer_.consume(self->read_buffer_.size());
      self->read();
    });
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*queue_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->closing_ = true;
                        self->queue_.clear();
                        return;
                      }
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) {
                        self->write_next();
                      } else if (self->close_after_queue_) {
                        self->send_close();
                      }
                    });
  }

  void send_close() {
    close_after_queue_ = false;
    ws_.async_close(websocket::close_code::going_away,
                    [self = this->shared_from_this()](beast::error_code) {});
  }

  websocket::stream<Stream> ws_;
  std::shared_ptr<HttpFront::Impl> front_;
  std::string client_;
  uint64_t id_ = 0;
  beast::flat_buffer read_buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_after_queue_ = false;
  bool subscribed_ = false;
};

// One HTTP connection: requests read one after another (keep-alive), each answered before the
// next is read.
template <class Stream>
class HttpSession : public Closable,
                    public DeferredTarget,
                    public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream stream, std::shared_ptr<HttpFront::Impl> front, std::string client,
              uint64_t id)
      : stream_(std::move(stream)), front_(std::move(front)), client_(std::move(client)), id_(id) {}

  ~HttpSession() override {
    if (!upgraded_) {
      front_->connections.erase(id_);
      --front_->metrics.connections_active;
    }
  }

  void start() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      beast::get_lowest_layer(stream_).expires_after(to_steady(front_->limits.read_timeout));
      stream_.async_handshake(
          ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) {
              self->front_->log.debug("tls handshake failed",
                                      {{"client", self->client_}, {"error", ec.message()}});
              return;
            }
            self->read();
          });
    } else {
      read();
    }
  }

  void close_for_shutdown() override {
    closed_for_shutdown_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  void read() {
    if (closed_for_shutdown_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(front_->limits.max_header_bytes));
    parser_->body_limit(front_->config.http.max_body_bytes);
    // The first request gets the read timeout; later ones may idle a while first.
    beast::get_lowest_layer(stream_).expires_after(
        to_steady(requests_ == 0 ? front_->limits.read_timeout : front_->limits.idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // A client that sent "Expect: 100-continue" (libcurl does for bodies over 1 KiB) waits for
  // the interim response before sending its body (RFC 9110 section 10.1.1); without it, it
  // waits a second first, which on a cellular link is a second of setup lost.
  void on_header(beast::error_code ec) {
    if (ec || parser_->is_done()) {
      on_read(ec);
      return;
    }
    beast::get_lowest_layer(stream_).expires_after(to_steady(front_->limits.read_timeout));
    const auto& header = parser_->get();
    auto expect = header[http::field::expect];
    if (header.version() >= 11 && beast::iequals(expect, "100-continue")) {
      continue_ = std::make_unique<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *continue_,
                        [self = this->shared_from_this()](beast::error_code write_ec, size_t) {
                          self->continue_.reset();
                          if (write_ec) {
                            self->shutdown();
                            return;
                          }
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || closed_for_shutdown_) {
      shutdown();
      return;
    }
    if (ec == http::error::body_limit) {
      reply_error(413, "the body is larger than " +
                           std::to_string(front_->config.http.max_body_bytes) + " bytes");
      return;
    }
    if (ec == http::error::header_limit) {
      reply_error(431, "the header is larger than " +
                           std::to_string(front_->limits.max_header_bytes) + " bytes");
      return;
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        reply_error(400, "malformed HTTP request");
      } else {
        shutdown();
      }
      return;
    }
    ++requests_;
    BeastRequest request = parser_->release();
    auto started = front_->clock.now();

    if (websocket::is_upgrade(request)) {
      HttpRequest plain = to_request(request, client_, front_->config.http.trusted_proxies);
      if (plain.path() == "/ws" && !front_->stopping) {
        upgraded_ = true;
        beast::get_lowest_layer(stream_).expires_never();
        front_->metrics.count_response(101);
        log_request(plain, 101, started);
        auto ws =
            std::make_shared<WebSocketSession<Stream>>(std::move(stream_), front_, plain.client);
        front_->connections[id_] = ws;
        ws->run(std::move(request), id_);
        return;
      }
    }

    HttpRequest plain = to_request(request, client_, front_->config.http.trusted_proxies);
    HttpResponse response = front_->route(plain);
    if (response.deferred) {
      // Nothing is read until the answer is written (one request at a time).
      waiting_ =
          Waiting{std::move(plain), started, request.version(),
                  request.keep_alive() && !front_->stopping, request.method() == http::verb::head};
      front_->waiting[response.deferred] = this->shared_from_this();
      return;
    }
    front_->metrics.count_response(response.status);
    log_request(plain, response.status, started);
    bool keep_alive = request.keep_alive() && !front_->stopping;
    write(to_beast(std::move(response), request.version(), keep_alive,
                   request.method() == http::verb::head));
  }

  void answer(HttpResponse response) override {
    if (!waiting_ || closed_for_shutdown_) return;
    Waiting w = std::move(*waiting_);
    waiting_.reset();
    front_->metrics.count_response(response.status);
    log_request(w.request, response.status, w.started);
    write(to_beast(std::move(response), w.version, w.keep_alive && !front_->stopping, w.head));
  }

  void log_request(const HttpRequest& request, int status, Instant started) {
    auto path = request.path();
    // Probes and scrapes every few seconds would drown the log at info.
    bool routine = (path == "/healthz" || path == "/metrics") && status == 200;
    auto level = routine ? LogLevel::debug : LogLevel::info;
    if (!front_->log.enabled(level)) return;
    auto ms = static_cast<double>((front_->clock.now() - started).count()) / 1000.0;
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.1f", ms);
    front_->log.log(level, "http request",
                    {{"method", request.method},
                     {"path", std::string(path.substr(0, 256))},
                     {"status", std::to_string(status)},
                     {"ms", duration},
                     {"client", request.client}});
  }

  // An error found while reading: answered, then the connection closes (the rest of what the
  // client sends is not read).
  void reply_error(int status, const std::string& detail) {
    front_->metrics.count_response(status);
    front_->log.info("http request refused",
                     {{"status", std::to_string(status)}, {"detail", detail}, {"client", client_}});
    write(to_beast(HttpResponse::problem(status, detail), 11, false, false));
  }

  void write(BeastResponse response) {
    response_ = std::make_unique<BeastResponse>(std::move(response));
    beast::get_lowest_layer(stream_).expires_after(to_steady(front_->limits.read_timeout));
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        bool close = !self->response_->keep_alive();
                        self->response_.reset();
                        if (ec || close) {
                          self->shutdown();
                        } else {
                          self->read();
                        }
                      });
  }

  void shutdown() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (closed_for_shutdown_) return;
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  std::shared_ptr<HttpFront::Impl> front_;
  std::string client_;
  uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<BeastResponse> response_;
  std::unique_ptr<http::response<http::empty_body>> continue_;
  uint64_t requests_ = 0;
  struct Waiting {
    HttpRequest request;
    Instant started;
    unsigned version = 11;
    bool keep_alive = false;
    bool head = false;
  };
  std::optional<Waiting> waiting_;
  bool upgraded_ = false;
  bool closed_for_shutdown_ = false;
};

}  // namespace

Result<tcp::endpoint, std::string> HttpFront::Impl::start() {
  if (!config.http.tls_certificate.empty()) {
    tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    // TLS 1.2 and later only (RFC 8996 deprecates 1.0 and 1.1).
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    boost::system::error_code ec;
    tls->use_certificate_chain_file(config.http.tls_certificate, ec);
    if (ec) {
      return std::string("http.tls_certificate: cannot load '" + config.http.tls_certificate +
                         "': " + ec.message());
    }
    tls->use_private_key_file(config.http.tls_key, ssl::context::pem, ec);
    if (ec) {
      return std::string("http.tls_key: cannot load '" + config.http.tls_key +
                         "': " + ec.message());
    }
  }
  auto address = SocketAddress::parse(config.http.listen);
  if (!address) return std::string("http.listen: '" + config.http.listen + "' is not IP:PORT");
  tcp::endpoint endpoint(to_asio_address(address->ip()), address->port());
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::string("cannot listen on " + config.http.listen + ": " + ec.message());
  auto bound = acceptor.local_endpoint(ec);
  accept();
  return bound;
}

void HttpFront::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopping) return;
    if (ec) {
      // Out of file descriptors or a transient failure: try again shortly rather than spin.
      self->log.warn("accept failed", {{"error", ec.message()}});
      self->retry_timer.expires_after(std::chrono::milliseconds(100));
      self->retry_timer.async_wait([self](beast::error_code wait_ec) {
        if (!wait_ec && !self->stopping) self->accept();
      });
      return;
    }
    self->on_accept(std::move(socket));
    self->accept();
  });
}

namespace {

// The shared port (docs/deploy.md, "One port for everything"): looks at a new connection's
// first bytes without taking them from the socket (MSG_PEEK) and hands it to HTTP(S) or to
// ICE-TCP. A TLS ClientHello starts 0x16 0x03 (RFC 8446 section 5.1, a handshake record), an
// HTTP request with a method's capital letter (RFC 9110 section 9); an ICE-TCP connection
// starts with an RFC 4571-framed STUN Binding request (RFC 6544 section 3), recognised by its
// magic cookie (ice::starts_with_framed_stun). Anything else goes to HTTP(S), which answers or
// drops it as it always did. The wait for enough bytes is bounded by the read timeout.
class PortSniffer : public std::enable_shared_from_this<PortSniffer> {
 public:
  PortSniffer(tcp::socket socket, std::shared_ptr<HttpFront::Impl> front)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), front_(std::move(front)) {}

  void start() {
    deadline_ = front_->clock.now() + front_->limits.read_timeout;
    wait();
  }

 private:
  enum class Verdict : uint8_t { undecided, http, ice_tcp };

  void wait() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (ec) return;  // closed before a byte: nothing to hand over
                         self->peek();
                       });
  }

  void peek() {
    std::array<uint8_t, ice::kStunPrefixBytes> head{};
    boost::system::error_code ec;
    size_t n = socket_.receive(asio::buffer(head), tcp::socket::message_peek, ec);
    if (ec || n == 0) return;  // reset or closed by the peer
    switch (decide(ByteView(head.data(), n))) {
      case Verdict::http:
        front_->start_http(std::move(socket_));
        return;
      case Verdict::ice_tcp:
        ++front_->metrics.ice_tcp_handed_over;
        front_->media.adopt_ice_tcp(std::move(socket_));
        return;
      case Verdict::undecided:
        break;
    }
    // Fewer bytes than the test needs: look again shortly (the socket stays readable, so
    // waiting on it would spin), until the read timeout.
    if (front_->clock.now() >= deadline_) return;
    timer_.expires_after(std::chrono::milliseconds(20));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& wait_ec) {
      if (!wait_ec) self->peek();
    });
  }

  static Verdict decide(ByteView head) {
    if (head.empty()) return Verdict::undecided;
    if (head[0] == 0x16) return Verdict::http;                   // TLS handshake record
    if (head[0] >= 'A' && head[0] <= 'Z') return Verdict::http;  // an HTTP method
    if (head.size() < ice::kStunPrefixBytes) return Verdict::undecided;
    return ice::starts_with_framed_stun(head) ? Verdict::ice_tcp : Verdict::http;
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<HttpFront::Impl> front_;
  Instant deadline_;
};

}  // namespace

void HttpFront::Impl::on_accept(tcp::socket socket) {
  if (metrics.connections_active >= config.http.max_connections) {
    ++metrics.connections_refused;
    log.warn("connection refused: limit reached",
             {{"limit", std::to_string(config.http.max_connections)}});
    boost::system::error_code ec;
    socket.close(ec);
    return;
  }
  if (config.relay.ice_tcp_shared) {
    auto sniffer = std::make_shared<PortSniffer>(std::move(socket), shared_from_this());
    sniffer->start();
    return;
  }
  start_http(std::move(socket));
}

void HttpFront::Impl::start_http(tcp::socket socket) {
  ++metrics.connections_total;
  ++metrics.connections_active;
  std::string client = client_address(socket);
  uint64_t id = next_id++;
  if (tls) {
    auto session = std::make_shared<HttpSession<TlsStream>>(
        TlsStream(beast::tcp_stream(std::move(socket)), *tls), shared_from_this(), client, id);
    connections[id] = session;
    session->start();
  } else {
    auto session = std::make_shared<HttpSession<PlainStream>>(PlainStream(std::move(socket)),
                                                              shared_from_this(), client, id);
    connections[id] = session;
    session->start();
  }
}

HttpResponse HttpFront::Impl::route(const HttpRequest& request) {
  auto path = request.path();
  auto now = clock.now();
  if (Relay::serves(path)) {
    if (is_rate_limited_request(request)) {
      if (auto wait = limiter.take(now, request.client)) {
        ++metrics.rate_limited_total;
        auto response = HttpResponse::problem(429, "too many WHIP/WHEP requests from this address");
        auto retry = static_cast<long long>(
            std::ceil(static_cast<double>(wait->count()) / 1e6));  // RFC 9110 section 10.2.3
        response.set_header("Retry-After", std::to_string(std::max(1LL, retry)));
        return response;
      }
    }
    auto response = relay.handle_http(now, request);
    media.pump();
    return response;
  }
  bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/healthz" || path == "/metrics" || path == "/ws") {
    if (!get) {
      auto response = HttpResponse::problem(405, "only GET");
      response.set_header("Allow", "GET, HEAD");
      return response;
    }
  }
  if (path == "/healthz") {
    HttpResponse response;
    response.set_header("Content-Type", "text/plain; charset=utf-8");
    response.set_header("Cache-Control", "no-store");
    response.body = "ok\n";
    return response;
  }
  if (path == "/metrics") {
    HttpResponse response;
    response.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    response.set_header("Cache-Control", "no-store");
    metrics.write(response.body);
    relay.write_metrics(response.body);
    return response;
  }
  if (path == "/ws") {
    auto response = HttpResponse::problem(400, "/ws is a WebSocket: send an Upgrade request");
    return response;
  }
  if (is_static_path(path)) {
    return serve_static_file(web_root(), request.method, path, limits.max_static_file_bytes);
  }
  return HttpResponse::problem(404, "no such resource");
}

void HttpFront::Impl::broadcast(std::shared_ptr<const std::string> message) {
  // Sending may drop a subscriber (and erase it from the map): iterate over a copy.
  std::vector<std::shared_ptr<Subscriber>> targets;
  for (auto& [id, weak] : subscribers) {
    if (auto subscriber = weak.lock()) targets.push_back(std::move(subscriber));
  }
  for (auto& subscriber : targets)
    subscriber->send(message);
}

void HttpFront::Impl::stop() {
  stopping = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  retry_timer.cancel();
  std::vector<std::shared_ptr<Closable>> open;
  for (auto& [id, weak] : connections) {
    if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  for (auto& connection : open)
    connection->close_for_shutdown();
  waiting.clear();  // closed above; they held the front end
}

HttpFront::HttpFront(asio::io_context& io, const ServerConfig& config, Relay& relay,
                     MediaPlane& media, const runtime::MonotonicClock& clock, Logger& log,
                     FrontLimits limits)
    : impl_(std::make_shared<Impl>(io, config, relay, media, clock, log, limits)) {
  media.set_response_sink([weak = std::weak_ptr<Impl>(impl_)](DeferredResponse deferred) {
    if (auto front = weak.lock()) front->answer_deferred(std::move(deferred));
  });
}

HttpFront::~HttpFront() = default;

Result<tcp::endpoint, std::string> HttpFront::start() {
  return impl_->start();
}
bool HttpFront::tls() const {
  return impl_->tls != nullptr;
}

void HttpFront::broadcast(const RelayEvent& event) {
  impl_->broadcast(std::make_shared<const std::string>(event.json));
}

void HttpFront::stop() {
  impl_->stop();
}
HttpResponse HttpFront::handle(const HttpRequest& request) {
  return impl_->route(request);
}
const HttpMetrics& HttpFront::metrics() const {
  return impl_->metrics;
}

size_t HttpFront::open_connections() const {
  size_t open = 0;
  for (const auto& [id, weak] : impl_->connections)
    open += weak.expired() ? 0 : 1;
  return open;
}

}  // namespace cellrtc::server
