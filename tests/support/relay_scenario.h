// cellrtc-server's relay in the virtual-time simulator: the relay on a server host, devices and
// viewers as core PeerConnections on hosts of their own, signaling by calling handle_http
// directly (the HTTP front end is not involved). For tests of whole WHIP/WHEP calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtls/certificate.h"
#include "core/media/frame_header.h"
#include "server/relay.h"
#include "sim/network.h"
#include "support/ice_scenario.h"
#include "support/peer_endpoint.h"

namespace cellrtc::testing {

// 2026-11-24T15:00:00Z, the wall clock at virtual time zero.
constexpr int64_t kRelayUnixBaseUs = 1'795'532'400'000'000;

class RelayEndpoint : public DatagramEndpoint {
 public:
  RelayEndpoint(const server::ServerConfig& config, Random& rng, const dtls::Certificate& cert)
      : relay(config, rng, cert) {}
  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    relay.handle_datagram(now, local, from, data);
    drain();
  }
  void handle_timeout(Instant now) override {
    relay.handle_timeout(now);
    drain();
  }
  std::optional<Transmit> poll_transmit() override { return relay.poll_transmit(); }
  std::optional<Instant> next_timeout() const override { return relay.next_timeout(); }
  void drain() {
    while (auto e = relay.poll_event())
      events.push_back(nlohmann::json::parse(e->json));
  }
  // Events of one type (and device id, when given), in order.
  std::vector<nlohmann::json> events_of(const std::string& type, const std::string& id = {}) const {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e.value("type", "") == type && (id.empty() || e.value("id", "") == id)) out.push_back(e);
    return out;
  }

  server::Relay relay;
  std::vector<nlohmann::json> events;
};

// A device or a viewer: a PeerConnection offering the two channels of docs/protocol.md.
struct RelayClient {
  std::unique_ptr<dtls::Certificate> cert;
  std::unique_ptr<PeerEndpoint> ep;
  sim::NodeId host = 0;
  SocketAddress addr;
  uint16_t video = 0;
  uint16_t control = 0;
  std::string location;
  std::string etag;

  bool open() const { return ep->open.count(video) && ep->open.count(control); }
  // Frames received on the video channel, parsed.
  std::vector<media::FrameHeader> frames() const {
    std::vector<media::FrameHeader> out;
    for (const auto& m : ep->messages)
      if (m.id == video)
        if (auto f = media::parse_frame(m.data)) out.push_back(f->header);
    return out;
  }
  // Control messages received, parsed.
  std::vector<nlohmann::json> control_messages(const std::string& type = {}) const {
    std::vector<nlohmann::json> out;
    for (const auto& m : ep->messages) {
      if (m.id != control) continue;
      auto j = nlohmann::json::parse(as_chars(m.data), nullptr, false);
      if (!j.is_discarded() && (type.empty() || j.value("type", "") == type)) out.push_back(j);
    }
    return out;
  }
};

struct RelayScenario {
  explicit RelayScenario(server::ServerConfig cfg, uint64_t seed = 1)
      : config(std::move(cfg)), net(seed), rng_server(seed * 31 + 7), rng_clients(seed * 31 + 8) {
    cert_server = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_server, "cellrtc-server").value());
    server_host =
        net.add_host("server", ip("198.51.100.1"), net.internet(), fixed_link(milliseconds(5)))
            .value();
    relay = std::make_unique<RelayEndpoint>(config, rng_server, *cert_server);
    relay->relay.set_unix_time([this] { return kRelayUnixBaseUs + net.now().us(); });
    media_addr = net.bind(server_host, 8443, *relay).value();
    (void)relay->relay.add_media_socket(net.now(), media_addr);
  }

  // A client on its own host on the internet (public address `address`).
  RelayClient& add_client(const std::string& name, const char* address,
                          sim::Attachment link = fixed_link(milliseconds(20))) {
    auto c = std::make_unique<RelayClient>();
    c->cert =
        std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng_clients, name).value());
    peer::PeerConfig pc;
    pc.certificate = c->cert.get();
    c->ep = std::make_unique<PeerEndpoint>(pc, rng_clients);
    c->host = net.add_host(name, ip(address), net.internet(), link).value();
    c->addr = net.bind(c->host, 5000, *c->ep).value();
    (void)c->ep->pc.add_host_socket(net.now(), c->addr);
    c->ep->pc.end_of_local_sockets(net.now());
    c->video = c->ep->pc
                   .create_data_channel(net.now(),
                                        {.label = "video", .ordered = false, .max_retransmits = 0})
                   .value();
    c->control = c->ep->pc.create_data_channel(net.now(), {.label = "control"}).value();
    clients.push_back(std::move(c));
    return *clients.back();
  }

  // A fresh PeerConnection for a client that reconnects (same host and port).
  void renew(RelayClient& c) {
    (void)net.unbind(c.host, c.addr.port());
    peer::PeerConfig pc;
    pc.certificate = c.cert.get();
    old_endpoints.push_back(std::move(c.ep));
    c.ep = std::make_unique<PeerEndpoint>(pc, rng_clients);
    c.addr = net.bind(c.host, c.addr.port(), *c.ep).value();
    (void)c.ep->pc.add_host_socket(net.now(), c.addr);
    c.ep->pc.end_of_local_sockets(net.now());
    c.video = c.ep->pc
                  .create_data_channel(net.now(),
                                       {.label = "video", .ordered = false, .max_retransmits = 0})
                  .value();
    c.control = c.ep->pc.create_data_channel(net.now(), {.label = "control"}).value();
  }

  server::HttpResponse http(server::HttpRequest req) {
    auto r = relay->relay.handle_http(net.now(), req);
    relay->drain();
    net.wake(*relay);
    return r;
  }

  // POST the client's offer to `path` (/whip or /whep/<device>) and apply the answer.
  server::HttpResponse connect(RelayClient& c, const std::string& path, const std::string& token) {
    server::HttpRequest req;
    req.method = "POST";
    req.target = path;
    req.headers.push_back({"Content-Type", "application/sdp"});
    if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
    req.body = c.ep->pc.create_offer(net.now()).value();
    auto r = http(req);
    if (r.status == 201) {
      (void)c.ep->pc.set_remote_description(net.now(), r.body);
      if (auto* l = r.header("Location")) c.location = *l;
      if (auto* e = r.header("ETag")) c.etag = *e;
    }
    c.ep->drain(net.now());
    net.wake(*c.ep);
    return r;
  }

  server::HttpResponse request(const std::string& method, const std::string& target,
                               std::vector<server::HttpHeader> headers = {},
                               std::string body = {}) {
    server::HttpRequest req;
    req.method = method;
    req.target = target;
    req.headers = std::move(headers);
    req.body = std::move(body);
    return http(req);
  }

  bool run_until_open(const std::vector<RelayClient*>& cs, Duration limit = seconds(10)) {
    return net.run_until(
        [&] {
          for (auto* c : cs)
            if (!c->open()) return false;
          return true;
        },
        net.now() + limit);
  }

  // Sends frame `seq` of `bytes` bytes from the device on its video channel.
  bool send_frame(RelayClient& device, uint32_t seq, size_t bytes = 2000) {
    media::FrameHeader h;
    h.sequence = seq;
    h.capture_time_us = static_cast<uint64_t>(net.now().us()) + 1'000'000'000;  // device clock
    h.width = 640;
    h.height = 480;
    h.quality = 50;
    Bytes jpeg(bytes, 0x55);
    jpeg[0] = 0xFF;
    jpeg[1] = 0xD8;
    jpeg[bytes - 2] = 0xFF;
    jpeg[bytes - 1] = 0xD9;
    bool ok = device.ep->pc.send(net.now(), device.video, media::encode_frame(h, jpeg)).ok();
    device.ep->drain(net.now());
    net.wake(*device.ep);
    return ok;
  }

  // Schedules `count` frames, one per `interval`, starting now; seq from `first_seq`.
  void stream(RelayClient& device, uint32_t first_seq, int count, Duration interval,
              size_t bytes = 2000) {
    for (int i = 0; i < count; ++i)
      net.at(net.now() + interval * i, [this, &device, seq = first_seq + static_cast<uint32_t>(i),
                                        bytes] { send_frame(device, seq, bytes); });
  }

  void send_control(RelayClient& c, const std::string& text) {
    (void)c.ep->pc.send(net.now(), c.control, as_bytes(text), false);
    c.ep->drain(net.now());
    net.wake(*c.ep);
  }

  server::ServerConfig config;
  sim::Network net;
  SeededRandom rng_server, rng_clients;
  std::unique_ptr<dtls::Certificate> cert_server;
  sim::NodeId server_host = 0;
  std::unique_ptr<RelayEndpoint> relay;
  SocketAddress media_addr;
  std::vector<std::unique_ptr<RelayClient>> clients;
  std::vector<std::unique_ptr<PeerEndpoint>> old_endpoints;
};

// A configuration with two devices and no limits in the way.
inline server::ServerConfig relay_test_config() {
  server::ServerConfig c;
  c.devices = {{"cam1", "device-token-1", ""}, {"cam2", "device-token-2", "viewer-secret"}};
  c.relay.reconnect_grace = seconds(20);
  return c;
}

}  // namespace cellrtc::testing
