// Test adapter: a DtlsTransport as a DatagramEndpoint talking to one peer address, recording
// its events, for the simulator and for the POSIX runtime (EndpointDriver).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/common/transport.h"
#include "core/dtls/dtls_transport.h"

namespace cellrtc::testing {

class DtlsEndpoint : public DatagramEndpoint {
 public:
  // `peer` may be left empty in the server role: the first datagram's source becomes the peer.
  DtlsEndpoint(dtls::DtlsConfig config, Random& rng, SocketAddress local,
               std::optional<SocketAddress> peer = std::nullopt)
      : transport(std::move(config), rng), local_(local), peer_(peer) {}

  void set_local(const SocketAddress& local) { local_ = local; }
  void set_peer(const SocketAddress& peer) { peer_ = peer; }

  void handle_datagram(Instant now, const SocketAddress&, const SocketAddress& from,
                       ByteView data) override {
    if (!peer_) peer_ = from;
    if (from != *peer_) return;
    transport.handle_datagram(now, data);
    drain(now);
  }
  void handle_timeout(Instant now) override {
    transport.handle_timeout(now);
    drain(now);
  }
  std::optional<Transmit> poll_transmit() override {
    if (!peer_) return std::nullopt;
    auto d = transport.poll_transmit();
    if (!d) return std::nullopt;
    if (record_sent) sent.push_back(*d);
    return Transmit{local_, *peer_, std::move(*d)};
  }
  std::optional<Instant> next_timeout() const override { return transport.next_timeout(); }

  // Collects the transport's events; call after poking the transport directly.
  void drain(Instant now) {
    while (auto e = transport.poll_event()) {
      if (auto* c = std::get_if<dtls::event::Connected>(&*e)) {
        connected_at = now;
        remote_fingerprint = c->remote_fingerprint;
        cipher_suite = c->cipher_suite;
      } else if (auto* d = std::get_if<dtls::event::Data>(&*e)) {
        received.push_back(std::move(d->data));
      } else if (std::get_if<dtls::event::Closed>(&*e)) {
        closed = true;
      } else if (auto* f = std::get_if<dtls::event::Failed>(&*e)) {
        failure = *f;
      }
    }
  }

  dtls::DtlsTransport transport;
  std::optional<Instant> connected_at;
  std::string remote_fingerprint;
  std::string cipher_suite;
  std::vector<Bytes> received;
  bool closed = false;
  std::optional<dtls::event::Failed> failure;
  bool record_sent = false;
  std::vector<Bytes> sent;  // every datagram handed out, when record_sent

 private:
  SocketAddress local_;
  std::optional<SocketAddress> peer_;
};

}  // namespace cellrtc::testing
