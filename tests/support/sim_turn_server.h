// A TURN server (RFC 8656) over UDP for virtual-time calls on sim::Network: long-term
// credentials (401 with REALM and NONCE, RFC 8489 section 9.2), Allocate, Refresh (LIFETIME 0
// deletes), CreatePermission, ChannelBind, Send and Data indications, ChannelData. Relayed
// addresses come from ports bound up front on the server's host. It can stop answering
// (`answering = false`: every datagram in either direction is dropped) and forget its
// allocations (`restart()`), the two ways a real server loses a client's allocation, and lose
// deallocations. Expiry of unrefreshed allocations is not modelled: tests end allocations with
// restart().
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/common/transport.h"
#include "core/stun/channel_data.h"
#include "core/stun/stun_message.h"
#include "sim/network.h"
#include "support/queued_endpoint.h"

namespace cellrtc::testing {

class SimTurnServer final : public QueuedEndpoint {
 public:
  // Binds the listening port and `relay_ports` relayed ports on `host`.
  SimTurnServer(sim::Network& net, sim::NodeId host, std::string username, std::string password,
                size_t relay_ports = 4, uint32_t lifetime_s = 600)
      : username_(std::move(username)), password_(std::move(password)), lifetime_s_(lifetime_s) {
    listen_ = net.bind(host, 3478, *this).value();
    for (size_t i = 0; i < relay_ports; ++i)
      free_ports_.push_back(net.bind(host, static_cast<uint16_t>(50000 + i), *this).value());
  }

  void handle_datagram(Instant, const SocketAddress& local, const SocketAddress& from,
                       ByteView data) override {
    if (!answering) return;
    if (local == listen_) return from_client(from, data);
    // A peer's datagram to a relayed address: relayed to the client when permitted (RFC 8656
    // section 11.5 for Data indications, 12.5 for ChannelData).
    for (auto& [client, a] : allocations_) {
      if (a.relayed != local) continue;
      if (!a.permissions.count(from.ip())) return;
      for (const auto& [number, peer] : a.channels)
        if (peer == from) return reply(client, stun::encode_channel_data(number, data, true));
      ++data_indications;
      reply(client, std::move(stun::MessageBuilder(stun::Method::data, stun::Class::indication,
                                                   stun::TransactionId{})
                                  .add_xor_peer_address(from)
                                  .add_data(data))
                        .finish(true));
      return;
    }
  }

  // The server lost every allocation (a restart): their relayed ports are free again.
  void restart() {
    for (auto& [client, a] : allocations_)
      free_ports_.push_back(a.relayed);
    allocations_.clear();
  }

  const SocketAddress& address() const { return listen_; }
  size_t allocations() const { return allocations_.size(); }
  bool answering = true;
  // Deallocations (Refresh with LIFETIME 0) received, and how many more to lose unanswered.
  std::vector<stun::TransactionId> deallocations;
  int lose_deallocations = 0;
  uint64_t allocations_made = 0;
  uint64_t data_indications = 0;

 private:
  struct Allocation {
    SocketAddress relayed;
    std::set<IpAddress> permissions;
    std::map<uint16_t, SocketAddress> channels;
  };

  Md5Digest key() const { return stun::long_term_key(username_, realm_, password_); }

  void reply(const SocketAddress& client, Bytes bytes) {
    out.push_back(Transmit{listen_, client, std::move(bytes)});
  }
  void relay(const Allocation& a, const SocketAddress& peer, ByteView data) {
    if (a.permissions.count(peer.ip()))
      out.push_back(Transmit{a.relayed, peer, Bytes(data.begin(), data.end())});
  }

  void from_client(const SocketAddress& client, ByteView data) {
    auto it = allocations_.find(client);
    if (auto cd = stun::parse_channel_data(data); cd.ok()) {
      if (it == allocations_.end()) return;
      auto ch = it->second.channels.find(cd->channel);
      if (ch != it->second.channels.end()) relay(it->second, ch->second, cd->data);
      return;
    }
    auto m = stun::Message::parse(data);
    if (!m) return;
    if (m->cls() == stun::Class::indication && m->method() == stun::Method::send) {
      auto peers = m->xor_peer_addresses();
      auto payload = m->data();
      if (it != allocations_.end() && !peers.empty() && payload)
        relay(it->second, peers.front(), *payload);
      return;
    }
    if (m->cls() != stun::Class::request) return;
    if (!m->has_message_integrity() || m->username() != username_ || !m->check_integrity(key()))
      return reply(client,
                   std::move(stun::MessageBuilder::response_to(*m, stun::Class::error_response)
                                 .add_error_code(401, "Unauthorized")
                                 .add_realm(realm_)
                                 .add_nonce(nonce_))
                       .finish(true));
    auto ok = stun::MessageBuilder::response_to(*m, stun::Class::success_response);
    auto error = [&](uint16_t code, std::string_view reason) {
      reply(client, std::move(stun::MessageBuilder::response_to(*m, stun::Class::error_response)
                                  .add_error_code(code, reason))
                        .finish_with_integrity(key()));
    };
    if (m->method() == stun::Method::allocate) {
      // RFC 8656 section 7.2: a 5-tuple holds at most one allocation.
      if (it != allocations_.end()) return error(437, "Allocation Mismatch");
      if (free_ports_.empty()) return error(508, "Insufficient Capacity");
      Allocation a;
      a.relayed = free_ports_.front();
      free_ports_.pop_front();
      ++allocations_made;
      ok.add_xor_relayed_address(a.relayed).add_xor_mapped_address(client).add_lifetime(
          lifetime_s_);
      allocations_[client] = std::move(a);
      return reply(client, std::move(ok).finish_with_integrity(key()));
    }
    if (it == allocations_.end()) return error(437, "Allocation Mismatch");
    Allocation& a = it->second;
    switch (m->method()) {
      case stun::Method::refresh:
        // RFC 8656 section 7.2: LIFETIME 0 deletes the allocation.
        if (m->lifetime().value_or(lifetime_s_) == 0) {
          deallocations.push_back(m->transaction_id());
          if (lose_deallocations > 0) {
            --lose_deallocations;
            return;
          }
          free_ports_.push_back(a.relayed);
          allocations_.erase(it);
          ok.add_lifetime(0);
        } else {
          ok.add_lifetime(lifetime_s_);
        }
        break;
      case stun::Method::create_permission:
        for (const auto& p : m->xor_peer_addresses())
          a.permissions.insert(p.ip());
        break;
      case stun::Method::channel_bind: {
        auto peers = m->xor_peer_addresses();
        auto number = m->channel_number();
        if (peers.empty() || !number) return error(400, "Bad Request");
        a.channels[*number] = peers.front();
        a.permissions.insert(peers.front().ip());
        break;
      }
      default:
        return error(400, "Bad Request");
    }
    reply(client, std::move(ok).finish_with_integrity(key()));
  }

  std::string username_;
  std::string password_;
  std::string realm_ = "cellrtc.sim";
  std::string nonce_ = "sim-nonce";
  uint32_t lifetime_s_;
  SocketAddress listen_;
  std::deque<SocketAddress> free_ports_;
  std::map<SocketAddress, Allocation> allocations_;
};

}  // namespace cellrtc::testing
