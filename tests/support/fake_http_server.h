// A small blocking HTTP/1.1 server on 127.0.0.1 in a thread, for testing HTTP clients: it reads
// each request (headers and a Content-Length body), records it and answers what a handler
// returns: a response, raw bytes, or nothing at all (the client times out). One request per
// connection (Connection: close). Bounded: requests over 1 MiB are cut off, every wait is
// short, and the destructor stops the thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cellrtc::testing {

struct HttpRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string reason = "OK";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Instead of a response: these bytes as they are, or nothing (hold the connection open).
  std::optional<std::string> raw;
  bool silent = false;
};

class FakeHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit FakeHttpServer(Handler handler) : FakeHttpServer(std::move(handler), 16, true) {}
  // `backlog` for listen(); `accepting` false: nothing is accepted until start_accepting(), so
  // that with a backlog of 0 and one connection made and left waiting (Linux keeps one), the
  // accept queue is full and the kernel drops every further SYN, as a link that is down would.
  FakeHttpServer(Handler handler, int backlog, bool accepting)
      : handler_(std::move(handler)), accepting_(accepting) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, backlog) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHttpServer() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  void start_accepting() { accepting_.store(true); }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }

 private:
  void serve() {
    while (!stop_.load()) {
      if (!accepting_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      handle(fd);
      ::close(fd);
    }
  }

  // Reads until `pred` holds on what was read, the peer closes, stop, or 10 s.
  bool read_until(int fd, std::string& buffer, const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char chunk[4096];
    while (!pred()) {
      if (stop_.load() || std::chrono::steady_clock::now() > deadline) return false;
      if (buffer.size() > (1u << 20)) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }

  void handle(int fd) {
    std::string buffer;
    bool complete = read_until(fd, buffer, [&] {
      return buffer.find("\r\n\r\n") != std::string::npos || (!buffer.empty() && buffer[0] == 0x16);
    });
    if (!complete) return;
    if (buffer[0] == 0x16) {
      // A TLS ClientHello on this plain-HTTP port: answer as a plain server would.
      HttpRequest tls;
      tls.method = "TLS";
      record(tls);
      static constexpr char kReply[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
      (void)::send(fd, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
      return;
    }
    size_t head_end = buffer.find("\r\n\r\n");
    HttpRequest request;
    std::string head = buffer.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.find(' ', sp1 + 1);
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t v = line.find_first_not_of(' ', colon + 1);
        request.headers.emplace_back(line.substr(0, colon),
                                     v == std::string::npos ? "" : line.substr(v));
      }
      pos = end + 2;
    }
    size_t length = 0;
    if (auto cl = request.header("Content-Length"); !cl.empty())
      length = std::min<size_t>(std::stoul(cl), 1u << 20);
    size_t body_start = head_end + 4;
    read_until(fd, buffer, [&] { return buffer.size() >= body_start + length; });
    request.body = buffer.substr(body_start, length);
    record(request);

    HttpResponse response = handler_(request);
    if (response.silent) {
      // Hold the connection without a word until the client gives up or the test ends.
      std::string ignored;
      read_until(fd, ignored, [] { return false; });
      return;
    }
    std::string out;
    if (response.raw) {
      out = *response.raw;
    } else {
      out = "HTTP/1.1 " + std::to_string(response.status) + " " + response.reason + "\r\n";
      for (const auto& [k, v] : response.headers)
        out += k + ": " + v + "\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      out += "Connection: close\r\n\r\n" + response.body;
    }
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    std::string rest;
    read_until(fd, rest, [] { return false; });  // until the client closes (bounded)
  }

  void record(const HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(r);
  }

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> accepting_{true};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;  // guarded by mutex_
};

}  // namespace cellrtc::testing
