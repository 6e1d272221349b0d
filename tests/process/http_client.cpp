#include "process/http_client.h"

#include <openssl/ssl.h>

#include <strings.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <memory>

namespace cellrtc::process {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration steady(std::chrono::milliseconds d) {
  return d;
}

// One async exchange on a Beast stream, run on its own io_context: the tcp_stream's expiry
// bounds every step (a blocking socket would wait for the server forever).
template <class Stream>
ClientResponse exchange(asio::io_context& io, Stream& stream, uint16_t port,
                        const ClientRequest& request) {
  ClientResponse out;
  http::request<http::string_body> req{http::string_to_verb(request.method), request.target, 11};
  if (req.method() == http::verb::unknown) req.method_string(request.method);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [name, value] : request.headers)
    req.set(name, value);
  req.body() = request.body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(req.method() == http::verb::head);  // a HEAD response has a length, no body
  beast::error_code write_ec;
  beast::error_code read_ec;
  bool read_done = false;
  beast::get_lowest_layer(stream).expires_after(steady(request.timeout));
  http::async_write(stream, req, [&](beast::error_code ec, size_t) { write_ec = ec; });
  // A server may answer (413) before reading the whole body and close: read what it sent,
  // whatever became of the write.
  http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
    read_ec = ec;
    read_done = true;
    beast::get_lowest_layer(stream).cancel();
  });
  io.run();
  if (!read_done || read_ec) {
    out.error =
        "read: " + read_ec.message() + (write_ec ? " (write: " + write_ec.message() + ")" : "");
    return out;
  }
  auto response = parser.release();
  out.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = response.body();
  return out;
}

}  // namespace

std::string ClientResponse::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
  }
  return {};
}

ClientResponse http_request(uint16_t port, const ClientRequest& request) {
  ClientResponse out;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    stream.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) {
      out.error = "connect: " + ec.message();
      return out;
    }
    if (!request.tls) return exchange(io, stream, port, request);

    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_verify_mode(asio::ssl::verify_none);  // the test's self-signed certificate
    if (request.tls_max_version == "1.1") {
      SSL_CTX_set_security_level(context.native_handle(), 0);
      SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(context.native_handle(), TLS1_1_VERSION);
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), context);
    beast::get_lowest_layer(tls).expires_after(steady(request.timeout));
    tls.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    io.run();
    io.restart();
    if (ec) {
      out.error = "tls handshake: " + ec.message();
      return out;
    }
    return exchange(io, tls, port, request);
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
}

struct WebSocketClient::Impl {
  asio::io_context io;
  asio::ssl::context tls_context{asio::ssl::context::tls_client};
  std::unique_ptr<websocket::stream<beast::tcp_stream>> plain;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> tls;

  // Runs `fn` on whichever stream is in use.
  template <class F>
  auto with_stream(F fn) {
    return plain ? fn(*plain) : fn(*tls);
  }
};

WebSocketClient::WebSocketClient() : impl_(new Impl) {}
WebSocketClient::~WebSocketClient() {
  delete impl_;
}

bool WebSocketClient::connect(uint16_t port, const std::string& target, bool tls) {
  beast::tcp_stream stream(impl_->io);
  beast::error_code ec;
  stream.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) {
    error_ = "connect: " + ec.message();
    return false;
  }
  stream.expires_after(std::chrono::seconds(10));
  if (tls) {
    impl_->tls_context.set_verify_mode(asio::ssl::verify_none);
    impl_->tls = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(
        std::move(stream), impl_->tls_context);
    impl_->tls->next_layer().async_handshake(asio::ssl::stream_base::client,
                                             [&](beast::error_code e) { ec = e; });
    impl_->io.run();
    impl_->io.restart();
    if (ec) {
      error_ = "tls handshake: " + ec.message();
      return false;
    }
  } else {
    impl_->plain = std::make_unique<websocket::stream<beast::tcp_stream>>(std::move(stream));
  }
  impl_->with_stream([&](auto& ws) {
    ws.async_handshake("127.0.0.1:" + std::to_string(port), target,
                       [&](beast::error_code e) { ec = e; });
    impl_->io.run();
    impl_->io.restart();
    beast::get_lowest_layer(ws).expires_never();
  });
  if (ec) {
    error_ = "handshake: " + ec.message();
    return false;
  }
  return true;
}

std::optional<std::string> WebSocketClient::read(std::chrono::milliseconds timeout) {
  if (closed_ || (!impl_->plain && !impl_->tls)) return std::nullopt;
  return impl_->with_stream([&](auto& ws) -> std::optional<std::string> {
    beast::flat_buffer buffer;
    beast::error_code ec;
    bool done = false;
    ws.async_read(buffer, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    impl_->io.run_for(timeout);
    if (!done) {
      // Timed out: the read is abandoned and the connection with it.
      closed_ = true;
      error_ = "timeout";
      beast::get_lowest_layer(ws).close();
      impl_->io.restart();
      impl_->io.run();
      return std::nullopt;
    }
    impl_->io.restart();
    if (ec == websocket::error::closed) {
      closed_ = true;
      error_ = "closed: code " + std::to_string(ws.reason().code);
      return std::nullopt;
    }
    if (ec) {
      closed_ = true;
      error_ = ec.message();
      return std::nullopt;
    }
    return beast::buffers_to_string(buffer.data());
  });
}

}  // namespace cellrtc::process
