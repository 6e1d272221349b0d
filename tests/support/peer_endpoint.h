// Test adapter: a PeerConnection as a DatagramEndpoint that records what it reports.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/common/transport.h"
#include "core/peer/peer_connection.h"

namespace cellrtc::testing {

class PeerEndpoint : public DatagramEndpoint {
 public:
  PeerEndpoint(peer::PeerConfig config, Random& rng) : pc(std::move(config), rng) {}

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    pc.handle_datagram(now, local, from, data);
    drain(now);
  }
  void handle_stream_message(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView data) override {
    pc.handle_datagram(now, local, from, data, TransportProtocol::tcp);
    drain(now);
  }
  void handle_timeout(Instant now) override {
    pc.handle_timeout(now);
    drain(now);
  }
  std::optional<Transmit> poll_transmit() override { return pc.poll_transmit(); }
  std::optional<StreamCommand> poll_stream_command() override { return pc.poll_stream_command(); }
  void handle_stream_connected(Instant now, uint32_t stream) override {
    pc.handle_stream_connected(now, stream);
    drain(now);
  }
  void handle_stream_data(Instant now, uint32_t stream, ByteView data) override {
    pc.handle_stream_data(now, stream, data);
    drain(now);
  }
  void handle_stream_closed(Instant now, uint32_t stream) override {
    pc.handle_stream_closed(now, stream);
    drain(now);
  }
  std::optional<SocketRequest> poll_socket_request() override { return pc.poll_socket_request(); }
  void handle_socket_bound(Instant now, uint32_t id,
                           const std::optional<SocketAddress>& bound) override {
    pc.handle_socket_bound(now, id, bound);
    drain(now);
  }
  std::optional<Instant> next_timeout() const override { return pc.next_timeout(); }

  void drain(Instant now) {
    while (auto r = pc.poll_relay_event())
      relay_events.push_back(std::move(*r));
    while (auto e = pc.poll_event()) {
      if (auto* c = std::get_if<peer::event::LocalCandidate>(&*e)) {
        if (c->candidate) candidates.push_back(ice::format_candidate(*c->candidate));
        if (!c->candidate) end_of_candidates = true;
      } else if (auto* s = std::get_if<peer::event::StateChanged>(&*e)) {
        states.push_back(s->state);
      } else if (auto* f = std::get_if<peer::event::Failed>(&*e)) {
        failure = f->reason;
      } else if (auto* o = std::get_if<datachannel::event::ChannelOpen>(&*e)) {
        open[o->id] = o->label;
        if (!first_open) first_open = now;
      } else if (auto* m = std::get_if<datachannel::event::ChannelMessage>(&*e)) {
        messages.push_back(*m);
        message_times.push_back(now);
      } else if (auto* cl = std::get_if<datachannel::event::ChannelClosed>(&*e)) {
        closed.push_back(cl->id);
        open.erase(cl->id);
      } else if (auto* low = std::get_if<datachannel::event::ChannelBufferedAmountLow>(&*e)) {
        low_events.push_back(low->id);
      }
    }
  }

  peer::PeerConnection pc;
  std::vector<std::string> candidates;
  bool end_of_candidates = false;
  std::vector<turn::RelayEvent> relay_events;  // what each TURN server did
  std::vector<peer::PeerState> states;
  std::optional<std::string> failure;
  std::map<uint16_t, std::string> open;
  std::optional<Instant> first_open;
  std::vector<datachannel::event::ChannelMessage> messages;
  std::vector<Instant> message_times;  // when each of `messages` arrived
  std::vector<uint16_t> closed;
  std::vector<uint16_t> low_events;
};

}  // namespace cellrtc::testing
