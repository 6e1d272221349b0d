// What the relay fuzz targets share: a Relay with one device and one viewer session, each
// answered from a real offer, so fuzzed input reaches the paths behind the WHIP/WHEP resources
// and the media socket (a random datagram or PATCH alone would stop at the session lookup).
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/peer/peer_connection.h"
#include "core/sdp/session_description.h"
#include "server/config.h"
#include "server/relay.h"

namespace cellrtc::fuzz {

// Made once per process (key generation is slow) and never changed after.
struct RelayFuzzFixtures {
  std::unique_ptr<dtls::Certificate> server_cert;
  std::string offer;  // a client's data-channel offer
  std::string offer_ufrag;
  std::string offer_pwd;

  static const RelayFuzzFixtures& get() {
    static const RelayFuzzFixtures fixtures = make();
    return fixtures;
  }

 private:
  static RelayFuzzFixtures make() {
    RelayFuzzFixtures f;
    SeededRandom rng(7);
    f.server_cert =
        std::make_unique<dtls::Certificate>(dtls::Certificate::generate(rng, "server").value());
    dtls::Certificate client_cert = dtls::Certificate::generate(rng, "client").value();
    peer::PeerConfig pc;
    pc.certificate = &client_cert;
    peer::PeerConnection client(pc, rng);
    Instant now;
    (void)client.add_host_socket(now, SocketAddress(IpAddress::v4(198, 51, 100, 1), 6000));
    client.end_of_local_sockets(now);
    (void)client.create_data_channel(now, {.label = "video"});
    auto offer = client.create_offer(now);
    if (!offer) std::abort();
    f.offer = *offer;
    auto parsed = sdp::parse_sdp(f.offer);
    if (!parsed || !parsed->data_section()) std::abort();
    const auto& data = *parsed->data_section();
    auto ufrag = data.ice_ufrag ? data.ice_ufrag : parsed->ice_ufrag;
    auto pwd = data.ice_pwd ? data.ice_pwd : parsed->ice_pwd;
    if (!ufrag || !pwd) std::abort();
    f.offer_ufrag = *ufrag;
    f.offer_pwd = *pwd;
    return f;
  }
};

// A fresh relay (deterministic: seeded, fixed wall clock) with device "cam1" publishing and one
// viewer watching it; the sessions' resource paths, entity tags and ICE credentials.
struct RelayUnderTest {
  struct SessionInfo {
    std::string location;
    std::string etag;
    std::string local_ufrag;  // the relay's
    std::string local_pwd;
  };

  explicit RelayUnderTest(uint64_t seed)
      : rng(seed), relay(make_config(), rng, *fixtures().server_cert) {
    relay.set_unix_time([] { return int64_t{1'790'000'000'000'000}; });
    if (!relay.add_media_socket(now, media)) std::abort();
    device = open("/whip", "Bearer device-token");
    viewer = open("/whep/cam1", "");
  }

  static const RelayFuzzFixtures& fixtures() { return RelayFuzzFixtures::get(); }

  static server::ServerConfig make_config() {
    server::ServerConfig c;
    c.devices = {{"cam1", "device-token", ""}};
    return c;
  }

  SessionInfo open(const std::string& target, const std::string& authorization) {
    server::HttpRequest req;
    req.method = "POST";
    req.target = target;
    req.client = "198.51.100.1";
    req.headers.push_back({"Content-Type", "application/sdp"});
    if (!authorization.empty()) req.headers.push_back({"Authorization", authorization});
    req.body = fixtures().offer;
    server::HttpResponse r = relay.handle_http(now, req);
    if (r.status != 201 || !r.header("Location") || !r.header("ETag")) std::abort();
    auto answer = sdp::parse_sdp(r.body);
    if (!answer || !answer->data_section()) std::abort();
    SessionInfo s;
    s.location = *r.header("Location");
    s.etag = *r.header("ETag");
    const auto& data = *answer->data_section();
    auto ufrag = data.ice_ufrag ? data.ice_ufrag : answer->ice_ufrag;
    auto pwd = data.ice_pwd ? data.ice_pwd : answer->ice_pwd;
    if (!ufrag || !pwd) std::abort();
    s.local_ufrag = *ufrag;
    s.local_pwd = *pwd;
    drain();
    return s;
  }

  void drain() {
    while (relay.poll_transmit()) {
    }
    while (relay.poll_event()) {
    }
  }

  // handle_timeout must leave no deadline in the past, or the runtime would spin.
  void advance(Duration d) {
    now += d;
    relay.handle_timeout(now);
    drain();
    auto next = relay.next_timeout();
    if (next && *next <= now) std::abort();
  }

  Instant now;
  SocketAddress media{IpAddress::v4(192, 0, 2, 1), 8443};
  SeededRandom rng;
  server::Relay relay;
  SessionInfo device;
  SessionInfo viewer;
};

}  // namespace cellrtc::fuzz
