// Fuzzes the ICE agent as a whole: the input is a script of raw datagrams, well-signed checks
// and responses built from fuzzer bytes (so the agent's logic past the integrity check is
// reached), and time steps. Besides memory errors it checks one invariant: after
// handle_timeout(now) the next deadline lies in the future, or the runtime would spin.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/common/random.h"
#include "core/ice/ice_agent.h"
#include "core/stun/stun_message.h"

using namespace cellrtc;

namespace {

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | u8();
    return v;
  }
  ByteView take(size_t n) {
    n = std::min(n, size_ - pos_);
    ByteView v(data_ + pos_, n);
    pos_ += n;
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

const char kRemoteUfrag[] = "peer";
const char kRemotePwd[] = "peerpasswordpeerpassword";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script s(data, size);
  SeededRandom rng(s.u64());
  ice::IceConfig config;
  uint8_t mode = s.u8();
  config.lite = mode & 1;
  config.role = (mode & 2) ? ice::Role::controlling : ice::Role::controlled;
  config.nomination = (mode & 4) ? ice::Nomination::aggressive : ice::Nomination::regular;
  if (mode & 8) config.stun_servers = {SocketAddress(IpAddress::v4(198, 51, 100, 9), 3478)};
  config.ufrag = "locl";
  config.pwd = "localpasswordlocalpassword";
  ice::IceAgent agent(config, rng);

  Instant now;
  SocketAddress local(IpAddress::v4(192, 0, 2, 1), 5000);
  (void)agent.add_host_socket(now, local);
  agent.set_remote_credentials(now, kRemoteUfrag, kRemotePwd);
  ice::Candidate remote;
  remote.foundation = "r1";
  remote.priority = 2130706431;
  remote.address = SocketAddress(IpAddress::v4(198, 51, 100, 1), 6000);
  (void)agent.add_remote_candidate(now, remote);

  std::vector<Transmit> sent;
  auto collect = [&] {
    while (auto t = agent.poll_transmit()) {
      if (sent.size() < 64) sent.push_back(std::move(*t));
    }
    while (agent.poll_event()) {
    }
  };
  collect();

  for (int step = 0; step < 256 && !s.done(); ++step) {
    uint8_t op = s.u8();
    SocketAddress from(IpAddress::v4(198, 51, 100, static_cast<uint8_t>(1 + (op >> 6))),
                       static_cast<uint16_t>(6000 + ((op >> 4) & 3)));
    switch (op % 5) {
      case 0: {  // a raw datagram
        (void)agent.handle_packet(now, local, from, s.take(s.u8()));
        break;
      }
      case 1: {  // a signed check from the peer
        uint8_t flags = s.u8();
        stun::TransactionId tid{};
        for (auto& b : tid)
          b = s.u8();
        stun::MessageBuilder b(stun::Method::binding, stun::Class::request, tid);
        b.add_username((flags & 1) ? "locl:peer" : "locl:other");
        if (flags & 2) b.add_priority(static_cast<uint32_t>(s.u64()));
        if (flags & 4) b.add_use_candidate();
        if (flags & 8) b.add_ice_controlling(s.u64());
        if (flags & 16) b.add_ice_controlled(s.u64());
        Bytes msg = std::move(b).finish_with_integrity(as_bytes(config.pwd), flags & 32);
        (void)agent.handle_packet(now, local, from, msg);
        break;
      }
      case 2: {  // a response to something the agent sent
        if (sent.empty()) break;
        const Transmit& t = sent[s.u8() % sent.size()];
        auto req = stun::Message::parse(t.data);
        if (!req.ok() || req->cls() != stun::Class::request) break;
        uint8_t flags = s.u8();
        bool error = flags & 1;
        auto b = stun::MessageBuilder::response_to(
            *req, error ? stun::Class::error_response : stun::Class::success_response);
        if (error) {
          b.add_error_code((flags & 2) ? 487 : static_cast<uint16_t>(300 + s.u8()), "x");
        } else {
          b.add_xor_mapped_address(
              SocketAddress(IpAddress::v4(203, 0, 113, s.u8()), static_cast<uint16_t>(s.u16())));
        }
        Bytes msg = (flags & 4) ? std::move(b).finish(true)
                                : std::move(b).finish_with_integrity(as_bytes(kRemotePwd), true);
        SocketAddress src = (flags & 8) ? from : t.to;
        (void)agent.handle_packet(now, t.from, src, msg);
        break;
      }
      case 3: {  // time passes
        now += Duration(static_cast<int64_t>(s.u16()) * 1000);
        agent.handle_timeout(now);
        auto next = agent.next_timeout();
        if (next && *next <= now) std::abort();  // a deadline stuck in the past
        break;
      }
      case 4: {  // signaling and API calls
        uint8_t what = s.u8();
        if (what == 0) agent.restart(now);
        if (what == 1) agent.set_remote_end_of_candidates(now);
        if (what == 2) agent.set_remote_credentials(now, "new", "newpasswordnewpassword1");
        if (what == 3) (void)agent.send(Bytes{1, 2, 3});
        if (what == 4) agent.end_of_local_sockets(now);
        if (what >= 5 && what < 16) {
          ice::Candidate c = remote;
          c.address = SocketAddress(IpAddress::v4(198, 51, 100, what), 6000);
          c.priority = static_cast<uint32_t>(s.u64());
          (void)agent.add_remote_candidate(now, c);
        }
        break;
      }
    }
    collect();
  }
  return 0;
}
