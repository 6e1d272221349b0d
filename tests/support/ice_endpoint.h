// Test adapter: an IceAgent as a DatagramEndpoint, recording what it reports, with optional
// in-process signaling to a peer (credentials and trickled candidates).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/common/transport.h"
#include "core/ice/ice_agent.h"

namespace cellrtc::testing {

class IceEndpoint : public DatagramEndpoint {
 public:
  IceEndpoint(ice::IceConfig config, Random& rng) : agent(std::move(config), rng) {}

  void handle_datagram(Instant now, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (!agent.handle_packet(now, local, from, data))
      app_data.emplace_back(data.begin(), data.end());
    drain(now);
  }
  void handle_timeout(Instant now) override {
    agent.handle_timeout(now);
    drain(now);
  }
  std::optional<Transmit> poll_transmit() override { return agent.poll_transmit(); }
  std::optional<Instant> next_timeout() const override { return agent.next_timeout(); }

  // Signaling: a message for the peer, applied to it by whoever runs the test (at once, or
  // later through the simulator), after which the peer must be drained and rescheduled.
  using Signal = std::function<void(Instant now, IceEndpoint& peer)>;
  using SignalingChannel = std::function<void(IceEndpoint& peer, Signal signal)>;

  // Sends our credentials now and every local candidate (now and later) to `other`.
  void signal_to(IceEndpoint& other, SignalingChannel channel) {
    peer_ = &other;
    channel_ = std::move(channel);
  }
  void send_credentials() {
    if (!peer_) return;
    std::string ufrag = agent.local_credentials().ufrag, pwd = agent.local_credentials().pwd;
    channel_(*peer_, [ufrag, pwd](Instant now, IceEndpoint& p) {
      p.agent.set_remote_credentials(now, ufrag, pwd);
    });
  }

  // Handles the agent's events; call after poking the agent directly.
  void drain(Instant now) {
    while (auto e = agent.poll_event()) {
      if (auto* c = std::get_if<ice::event::LocalCandidate>(&*e)) {
        local_candidates.push_back(c->candidate);
        if (peer_ && trickle) {
          channel_(*peer_, [cand = c->candidate](Instant t, IceEndpoint& p) {
            (void)p.agent.add_remote_candidate(t, cand);
          });
        }
      } else if (std::get_if<ice::event::GatheringComplete>(&*e)) {
        gathering_complete = true;
        if (peer_ && trickle) {
          channel_(*peer_,
                   [](Instant t, IceEndpoint& p) { p.agent.set_remote_end_of_candidates(t); });
        }
      } else if (auto* s = std::get_if<ice::event::StateChanged>(&*e)) {
        states.push_back(s->state);
        if (s->state == ice::IceState::connected && !connected_at) connected_at = now;
      } else if (auto* p = std::get_if<ice::event::SelectedPairChanged>(&*e)) {
        selected.push_back(p->pair);
      } else if (std::get_if<ice::event::ConsentLost>(&*e)) {
        consent_lost_at = now;
      } else if (auto* r = std::get_if<ice::event::RoleChanged>(&*e)) {
        roles.push_back(r->role);
      }
    }
  }

  bool connected() const { return agent.state() == ice::IceState::connected; }

  ice::IceAgent agent;
  bool trickle = true;
  std::vector<ice::Candidate> local_candidates;
  bool gathering_complete = false;
  std::vector<ice::IceState> states;
  std::vector<ice::SelectedPair> selected;
  std::vector<ice::Role> roles;
  std::vector<Bytes> app_data;
  std::optional<Instant> connected_at;
  std::optional<Instant> consent_lost_at;

 private:
  IceEndpoint* peer_ = nullptr;
  SignalingChannel channel_;
};

}  // namespace cellrtc::testing
