// Whole WebRTC calls in the virtual-time simulator: a device behind a carrier NAT on a
// cellular-like link, a server on the internet, both PeerConnections, signaling by WHIP-like
// offer/answer carried with one round trip of delay. For tests and benchmarks.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "sim/network.h"
#include "support/ice_scenario.h"
#include "support/peer_endpoint.h"

namespace cellrtc::testing {

struct PeerScenario {
  // `device_link` attaches the device to the carrier NAT; the server sits 10 ms from the
  // internet; `server_lite` makes the server an ICE-lite peer (cellrtc-server's mode).
  // `configure` may change the device's and the server's peer configs before they start.
  PeerScenario(
      uint64_t seed, const sim::Attachment& device_link, bool server_lite = true,
      sim::NatConfig nat = {},
      const std::function<void(peer::PeerConfig& device, peer::PeerConfig& server)>& configure = {})
      : net(seed), rng_device(seed * 17 + 1), rng_server(seed * 17 + 2) {
    cert_device = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_device, "device").value());
    cert_server = std::make_unique<dtls::Certificate>(
        dtls::Certificate::generate(rng_server, "server").value());
    auto cgnat =
        net.add_nat("cgnat", ip("100.64.0.1"), nat, net.internet(), fixed_link(milliseconds(0)))
            .value();
    device_host = net.add_host("device", ip("10.0.0.2"), cgnat, device_link).value();
    server_host =
        net.add_host("server", ip("198.51.100.1"), net.internet(), fixed_link(milliseconds(10)))
            .value();
    peer::PeerConfig dc, sc;
    dc.certificate = cert_device.get();
    sc.certificate = cert_server.get();
    sc.ice.lite = server_lite;
    if (configure) configure(dc, sc);
    device = std::make_unique<PeerEndpoint>(dc, rng_device);
    server = std::make_unique<PeerEndpoint>(sc, rng_server);
    device_addr = net.bind(device_host, 5000, *device).value();
    server_addr = net.bind(server_host, 3478, *server).value();
    (void)device->pc.add_host_socket(net.now(), device_addr);
    device->pc.end_of_local_sockets(net.now());
    (void)server->pc.add_host_socket(net.now(), server_addr);
    server->pc.end_of_local_sockets(net.now());
  }

  // The device offers with its channel; the server's answer comes back `signaling_rtt` later
  // (an HTTPS POST over an open connection). Returns false if a step failed.
  bool start(Duration signaling_rtt, const datachannel::ChannelParameters& channel) {
    auto id = device->pc.create_data_channel(net.now(), channel);
    if (!id) return false;
    channel_id = *id;
    auto offer = device->pc.create_offer(net.now());
    if (!offer) return false;
    offered_at = net.now();
    std::string offer_sdp = *offer;
    net.at(net.now() + signaling_rtt / 2, [this, offer_sdp, signaling_rtt] {
      if (!server->pc.set_remote_description(net.now(), offer_sdp).ok()) return;
      auto answer = server->pc.create_answer(net.now());
      server->drain(net.now());
      net.wake(*server);
      if (!answer) return;
      std::string answer_sdp = *answer;
      net.at(net.now() + signaling_rtt / 2, [this, answer_sdp] {
        (void)device->pc.set_remote_description(net.now(), answer_sdp);
        device->drain(net.now());
        net.wake(*device);
      });
    });
    device->drain(net.now());
    net.wake(*device);
    return true;
  }

  bool run_until_open(Duration limit) {
    return net.run_until([&] { return device->first_open && !server->open.empty(); },
                         net.now() + limit);
  }

  // Offer to open channel at the server (the first frame could leave then), in round trips.
  double setup_round_trips(Duration rtt) const {
    if (server->open.empty() || !server->first_open) return -1;
    return static_cast<double>((*server->first_open - offered_at).count()) /
           static_cast<double>(rtt.count());
  }

  sim::Network net;
  SeededRandom rng_device, rng_server;
  std::unique_ptr<dtls::Certificate> cert_device, cert_server;
  sim::NodeId device_host = 0, server_host = 0;
  std::unique_ptr<PeerEndpoint> device, server;
  SocketAddress device_addr, server_addr;
  uint16_t channel_id = 0;
  Instant offered_at;
};

}  // namespace cellrtc::testing
