// RelayGatherer (several TURN servers in parallel) under virtual time against scripted servers:
// a dead server does not hold up a working one, allocations are refreshed before they expire,
// each session uses the credentials it was given, TCP servers are reached through stream
// commands, and relayed data goes both ways.
#include "core/turn/relay_gatherer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "core/ice/candidate.h"

namespace cellrtc::turn {
namespace {

using stun::Class;
using stun::Message;
using stun::MessageBuilder;
using stun::Method;

const SocketAddress kUdpLocal(IpAddress::v4(10, 0, 0, 2), 40000);
const SocketAddress kPeer(IpAddress::v4(192, 0, 2, 10), 6000);

// A TURN server's answers (RFC 8656), scripted: 401 to the first Allocate, then success for
// requests carrying its credentials (RFC 8489 section 9.2.4), 401 for any others.
struct ScriptedTurnServer {
  SocketAddress address;
  SocketAddress relayed;
  std::string username;
  std::string password;
  std::string realm = "cellrtc.test";
  std::string nonce = "n1";
  uint32_t lifetime = 600;
  bool alive = true;
  // Requests received and lost (no answer) while the count lasts.
  int drop_requests = 0;
  // Authenticated Allocates answered with this error (437, 486) while the count lasts.
  uint16_t allocate_error = 0;
  int allocate_errors = 0;
  std::vector<Message> requests;  // every request received, in order

  Md5Digest key() const { return stun::long_term_key(username, realm, password); }

  std::optional<Bytes> answer(ByteView bytes) {
    if (!alive) return std::nullopt;
    auto m = Message::parse(bytes);
    if (!m) return std::nullopt;
    if (m->cls() != Class::request) return std::nullopt;
    requests.push_back(*m);
    if (drop_requests > 0) {
      --drop_requests;
      return std::nullopt;
    }
    if (!m->has_message_integrity() || m->username() != username || !m->check_integrity(key()))
      return std::move(MessageBuilder::response_to(*m, Class::error_response)
                           .add_error_code(401, "Unauthorized")
                           .add_realm(realm)
                           .add_nonce(nonce))
          .finish(true);
    if (m->method() == Method::allocate && allocate_errors > 0) {
      --allocate_errors;
      return std::move(MessageBuilder::response_to(*m, Class::error_response)
                           .add_error_code(allocate_error, "Scripted"))
          .finish_with_integrity(key());
    }
    auto ok = MessageBuilder::response_to(*m, Class::success_response);
    if (m->method() == Method::allocate)
      ok.add_xor_relayed_address(relayed)
          .add_xor_mapped_address(SocketAddress(IpAddress::v4(203, 0, 113, 5), 41000))
          .add_lifetime(lifetime);
    // RFC 8656 section 7.2: the server grants at most its own maximum.
    if (m->method() == Method::refresh)
      ok.add_lifetime(std::min(m->lifetime().value_or(lifetime), lifetime));
    return std::move(ok).finish_with_integrity(key());
  }
  size_t count(Method method) const {
    size_t n = 0;
    for (const auto& r : requests)
      n += r.method() == method;
    return n;
  }
};

class RelayGathererTest : public ::testing::Test {
 protected:
  ScriptedTurnServer make_server(uint8_t last, std::string username = "1700000600:cam1") {
    ScriptedTurnServer s;
    s.address = SocketAddress(IpAddress::v4(198, 51, 100, last), 3478);
    s.relayed = SocketAddress(IpAddress::v4(198, 51, 100, last), 50000 + last);
    s.username = std::move(username);
    s.password = "pw-" + s.username;
    return s;
  }
  // A gatherer's configuration for `servers` with its UDP socket at kUdpLocal.
  static RelayGathererConfig udp_config(std::vector<RelayServer> servers) {
    RelayGathererConfig config;
    config.servers = std::move(servers);
    config.udp_local = kUdpLocal;
    return config;
  }
  // A server whose first `times` authenticated Allocates get `error` (437, 486).
  ScriptedTurnServer make_refusing_server(uint8_t last, uint16_t error, int times) {
    ScriptedTurnServer s = make_server(last);
    s.allocate_error = error;
    s.allocate_errors = times;
    return s;
  }
  RelayServer entry(const ScriptedTurnServer& s, std::string_view uri) {
    auto parsed = parse_ice_server_uri(uri);
    EXPECT_TRUE(parsed.ok());
    return RelayServer{*parsed, s.address, {s.username, s.password}, {}};
  }

  // Delivers everything the gatherer sent to the scripted servers and their answers back,
  // until nothing moves. UDP by address; streams by id, one message per write.
  void exchange(RelayGatherer& g) {
    for (int round = 0; round < 50; ++round) {
      bool moved = false;
      while (auto t = g.poll_transmit()) {
        moved = true;
        udp_sources.push_back(t->from);
        udp_destinations.push_back(t->to);
        for (auto* s : servers)
          if (s->address == t->to)
            if (auto a = s->answer(t->data)) g.handle_datagram(now, t->from, s->address, *a);
      }
      while (auto r = g.poll_socket_request()) {
        moved = true;
        socket_requests.push_back(*r);
      }
      while (auto c = g.poll_stream_command()) {
        moved = true;
        if (c->kind == StreamCommand::Kind::connect) {
          streams[c->stream] = c->remote;
          connects.push_back(c->remote);
          pending_connects.push_back(c->stream);
        } else if (c->kind == StreamCommand::Kind::write) {
          for (auto* s : servers)
            if (s->address == streams[c->stream])
              if (auto a = s->answer(c->data)) g.handle_stream_data(now, c->stream, *a);
        } else {
          closed_streams.push_back(c->stream);
        }
      }
      if (!moved) return;
    }
  }
  // Runs timers up to `until`, exchanging after each.
  void run_until(RelayGatherer& g, Instant until) {
    for (int i = 0; i < 100000; ++i) {
      auto t = g.next_timeout();
      if (!t || *t > until) break;
      now = std::max(now, *t);
      g.handle_timeout(now);
      exchange(g);
    }
    now = until;
  }
  // The ServerFailed that `e` is, of server `server` and with `reason` in its reason; null (a
  // test failure) when `e` is not one.
  static const event::ServerFailed* failure_of(const RelayEvent& e, size_t server,
                                               std::string_view reason) {
    auto* f = std::get_if<event::ServerFailed>(&e);
    EXPECT_NE(f, nullptr);
    if (f == nullptr) return nullptr;
    EXPECT_EQ(f->server, server);
    EXPECT_NE(f->reason.find(reason), std::string::npos) << f->reason;
    return f;
  }
  std::vector<RelayEvent> events(RelayGatherer& g) {
    std::vector<RelayEvent> out;
    while (auto e = g.poll_event())
      out.push_back(std::move(*e));
    return out;
  }

  std::vector<ScriptedTurnServer*> servers;
  std::map<uint32_t, SocketAddress> streams;
  std::vector<SocketAddress> connects;
  std::vector<uint32_t> pending_connects;
  std::vector<uint32_t> closed_streams;
  std::vector<SocketAddress> udp_sources;       // Transmit.from of every datagram sent
  std::vector<SocketAddress> udp_destinations;  // and its Transmit.to
  std::vector<SocketRequest> socket_requests;   // new UDP ports asked for
  SeededRandom rng{11};
  Instant start = Instant::from_us(5'000'000);
  Instant now = start;
};

TEST_F(RelayGathererTest, ADeadFirstServerDoesNotDelayTheSecondsCandidate) {
  auto dead = make_server(1);
  dead.alive = false;
  auto good = make_server(2);
  servers = {&dead, &good};
  RelayGathererConfig config =
      udp_config({entry(dead, "turn:198.51.100.1"), entry(good, "turn:198.51.100.2")});
  config.allocation_timeout = seconds(8);
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);

  // The working server's candidate is there at once (no waiting for the dead one).
  auto first = events(g);
  ASSERT_EQ(first.size(), 1u);
  auto* c = std::get_if<event::RelayedCandidate>(&first[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server, 1u);
  EXPECT_EQ(c->took, Duration(0));
  EXPECT_EQ(c->candidate.type, ice::CandidateType::relayed);
  EXPECT_EQ(c->candidate.address, good.relayed);
  EXPECT_TRUE(g.owns(good.relayed));
  EXPECT_FALSE(g.gathering_done());
  EXPECT_EQ(g.server_state(0), RelayServerState::allocating);

  // The dead one is given up at its own deadline, alone.
  run_until(g, start + seconds(9));
  auto later = events(g);
  ASSERT_EQ(later.size(), 2u);
  auto* f = std::get_if<event::ServerFailed>(&later[0]);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->server, 0u);
  EXPECT_EQ(f->uri, "turn:198.51.100.1:3478?transport=udp");
  EXPECT_NE(f->reason.find("no allocation within 8000 ms"), std::string::npos) << f->reason;
  EXPECT_FALSE(f->relayed);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(later[1]));
  EXPECT_EQ(g.server_state(1), RelayServerState::allocated);
  EXPECT_TRUE(g.owns(good.relayed));
}

TEST_F(RelayGathererTest, RefreshesTheAllocationBeforeItExpires) {
  auto s = make_server(3);
  s.lifetime = 120;
  servers = {&s};
  RelayGathererConfig config = udp_config({entry(s, "turn:198.51.100.3?transport=udp")});
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  (void)events(g);
  ASSERT_EQ(s.count(Method::refresh), 0u);

  // Three lifetimes: every one ends in a refresh the server granted, never in an expiry.
  run_until(g, start + seconds(360));
  EXPECT_GE(s.count(Method::refresh), 3u);
  for (const auto& r : s.requests) {
    if (r.method() == Method::refresh) {
      EXPECT_GT(r.lifetime().value_or(0), 0u);
    }
  }
  EXPECT_TRUE(events(g).empty()) << "no failure while refreshed";
  EXPECT_EQ(g.server_state(0), RelayServerState::allocated);
  EXPECT_TRUE(g.owns(s.relayed));

  // close() deallocates: a Refresh with LIFETIME 0 (RFC 8656 section 7.2).
  g.close(now);
  exchange(g);
  EXPECT_EQ(s.requests.back().method(), Method::refresh);
  EXPECT_EQ(s.requests.back().lifetime(), 0u);
  EXPECT_TRUE(g.closed());
}

TEST_F(RelayGathererTest, ALostDeallocationIsRetransmittedUntilTheCloseTimeout) {
  auto s = make_server(16);
  auto dead = make_server(17);
  servers = {&s, &dead};
  RelayGathererConfig config =
      udp_config({entry(s, "turn:198.51.100.16"), entry(dead, "turn:198.51.100.17")});
  config.close_timeout = seconds(2);
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  ASSERT_EQ(g.server_state(0), RelayServerState::allocated);
  ASSERT_EQ(g.server_state(1), RelayServerState::allocated);
  // The first server loses two deallocations; the second stops answering altogether.
  s.drop_requests = 2;
  dead.alive = false;
  auto deallocations = [](const ScriptedTurnServer& server) {
    std::vector<stun::TransactionId> ids;
    for (const auto& r : server.requests)
      if (r.method() == Method::refresh && r.lifetime() == 0u) ids.push_back(r.transaction_id());
    return ids;
  };
  udp_destinations.clear();
  const Instant closed_at = now;
  g.close(now);
  exchange(g);
  EXPECT_FALSE(g.closed());
  // RFC 8489 section 6.2.1: the same request again after 500 ms, then 1 s more.
  run_until(g, closed_at + milliseconds(499));
  EXPECT_EQ(deallocations(s).size(), 1u);
  run_until(g, closed_at + milliseconds(500));
  EXPECT_EQ(deallocations(s).size(), 2u);
  EXPECT_EQ(g.server_state(0), RelayServerState::closing);
  run_until(g, closed_at + milliseconds(1500));
  ASSERT_EQ(deallocations(s).size(), 3u);
  EXPECT_EQ(deallocations(s)[0], deallocations(s)[2]);  // a retransmission, not a new request
  EXPECT_EQ(g.server_state(0), RelayServerState::closed);
  EXPECT_FALSE(g.closed());
  // The silent server had its three transmissions too, and is not waited for past the bound.
  run_until(g, closed_at + seconds(2));
  EXPECT_TRUE(g.closed());
  EXPECT_FALSE(g.next_timeout());
  EXPECT_EQ(std::count(udp_destinations.begin(), udp_destinations.end(), dead.address), 3);
  EXPECT_EQ(g.server_state(1), RelayServerState::closed);
}

TEST_F(RelayGathererTest, EachSessionUsesTheCredentialsItWasGiven) {
  // Session 1 with the credentials of the first WHIP answer.
  auto s = make_server(4, "1700000600:cam1");
  servers = {&s};
  RelayGathererConfig first = udp_config({entry(s, "turn:198.51.100.4")});
  {
    RelayGatherer g(first, rng);
    ASSERT_TRUE(g.start(now).ok());
    exchange(g);
    ASSERT_TRUE(g.owns(s.relayed));
    EXPECT_EQ(s.requests.back().username(), "1700000600:cam1");
    g.close(now);
    exchange(g);
  }

  // The credentials expire; the server (coturn, same secret) now only accepts the new ones,
  // which the next session's answer carried.
  s.username = "1700001200:cam1";
  s.password = "pw-new";
  s.requests.clear();
  // A gatherer still holding the old credentials is refused, with a reason that says so.
  {
    RelayGatherer stale(first, rng);
    ASSERT_TRUE(stale.start(now).ok());
    exchange(stale);
    auto ev = events(stale);
    ASSERT_FALSE(ev.empty());
    auto* f = std::get_if<event::ServerFailed>(&ev[0]);
    ASSERT_NE(f, nullptr);
    EXPECT_NE(f->reason.find("401"), std::string::npos) << f->reason;
    EXPECT_NE(f->reason.find("expired"), std::string::npos) << f->reason;
  }
  s.requests.clear();
  RelayGathererConfig second = udp_config({entry(s, "turn:198.51.100.4")});
  RelayGatherer g(second, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  EXPECT_TRUE(g.owns(s.relayed));
  for (const auto& r : s.requests) {
    if (r.has_message_integrity()) {
      EXPECT_EQ(r.username(), "1700001200:cam1");
    }
  }
}

TEST_F(RelayGathererTest, TcpServersGoThroughStreamCommandsAndARefusedOneFailsAlone) {
  auto tcp = make_server(5);
  auto refused = make_server(6);
  servers = {&tcp, &refused};
  RelayGathererConfig config;
  config.servers = {entry(refused, "turn:198.51.100.6?transport=tcp"),
                    entry(tcp, "turn:198.51.100.5:3478?transport=tcp")};
  RelayGatherer g(config, rng);  // no UDP socket: TCP needs none
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[0], refused.address);
  EXPECT_EQ(connects[1], tcp.address);
  EXPECT_EQ(g.server_state(1), RelayServerState::connecting);

  g.handle_stream_closed(now, pending_connects[0]);  // connection refused
  g.handle_stream_connected(now, pending_connects[1]);
  exchange(g);
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 3u);
  const event::ServerFailed* f = failure_of(ev[0], 0u, "cannot connect");
  ASSERT_NE(f, nullptr);
  auto* c = std::get_if<event::RelayedCandidate>(&ev[1]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server, 1u);
  EXPECT_EQ(c->candidate.address, tcp.relayed);
  // RFC 8445 section 5.1.2: relayed type preference 0; TCP to the server ranks below UDP.
  EXPECT_EQ(c->candidate.priority >> 24, 0u);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[2]));

  // Data to a peer: a permission first, then the data (Send indication) on the stream.
  ASSERT_TRUE(g.send(now, tcp.relayed, kPeer, Bytes{1, 2, 3}).ok());
  exchange(g);
  EXPECT_EQ(tcp.count(Method::create_permission), 1u);

  // Data from the peer (a Data indication) comes out as RelayData on the relayed address.
  MessageBuilder indication(Method::data, Class::indication, stun::TransactionId{});
  indication.add_xor_peer_address(kPeer).add_data(Bytes{9, 8, 7});
  Bytes data_indication = std::move(indication).finish(false);
  g.handle_stream_data(now, pending_connects[1], data_indication);
  ev = events(g);
  ASSERT_EQ(ev.size(), 1u);
  auto* d = std::get_if<event::RelayData>(&ev[0]);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->relayed, tcp.relayed);
  EXPECT_EQ(d->peer, kPeer);
  EXPECT_EQ(d->data, (Bytes{9, 8, 7}));

  // Losing the connection loses the allocation, reported with the dead candidate.
  g.handle_stream_closed(now, pending_connects[1]);
  ev = events(g);
  ASSERT_EQ(ev.size(), 1u);
  f = std::get_if<event::ServerFailed>(&ev[0]);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->relayed, tcp.relayed);
  EXPECT_FALSE(g.owns(tcp.relayed));
}

TEST_F(RelayGathererTest, QuotaReachedGivesUpThatServerAtOnceAndOnlyIt) {
  auto full = make_refusing_server(7, 486, 100);
  auto good = make_server(8);
  servers = {&full, &good};
  RelayGathererConfig config =
      udp_config({entry(full, "turn:198.51.100.7"), entry(good, "turn:198.51.100.8")});
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  // Both answered at once: the full server is given up without a backoff retry, so the end of
  // gathering does not wait for it (nor for allocation_timeout).
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 3u);
  auto* f = failure_of(ev[0], 0u, "486");
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->relayed);
  auto* c = std::get_if<event::RelayedCandidate>(&ev[1]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server, 1u);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[2]));
  run_until(g, start + seconds(60));
  EXPECT_EQ(full.count(Method::allocate), 2u);  // the challenge and the refused Allocate
  EXPECT_EQ(g.server_state(0), RelayServerState::failed);
  EXPECT_EQ(g.server_state(1), RelayServerState::allocated);
}

TEST_F(RelayGathererTest, AllocationMismatchOverTcpAllocatesAgainOnANewConnection) {
  auto s = make_refusing_server(9, 437, 1);
  servers = {&s};
  RelayGathererConfig config;
  config.servers = {entry(s, "turn:198.51.100.9?transport=tcp")};
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  ASSERT_EQ(pending_connects.size(), 1u);
  g.handle_stream_connected(now, pending_connects[0]);
  exchange(g);
  // RFC 8656 section 7.4: the 437 closed that connection and opened a new one (a new 5-tuple).
  ASSERT_EQ(pending_connects.size(), 2u);
  EXPECT_EQ(connects[1], s.address);
  EXPECT_NE(pending_connects[1], pending_connects[0]);
  ASSERT_EQ(closed_streams.size(), 1u);
  EXPECT_EQ(closed_streams[0], pending_connects[0]);
  EXPECT_TRUE(events(g).empty());
  g.handle_stream_connected(now, pending_connects[1]);
  exchange(g);
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 2u);
  auto* c = std::get_if<event::RelayedCandidate>(&ev[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->candidate.address, s.relayed);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[1]));
  EXPECT_EQ(g.server_state(0), RelayServerState::allocated);
}

TEST_F(RelayGathererTest, AllocationMismatchOverUdpAllocatesAgainFromANewLocalPort) {
  auto s = make_refusing_server(13, 437, 1);
  servers = {&s};
  RelayGathererConfig config = udp_config({entry(s, "turn:198.51.100.13?transport=udp")});
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  // RFC 8656 section 7.4: a new 5-tuple, so a new local port, asked of the runtime on the same
  // IP; nothing is reported while the server waits for it.
  ASSERT_EQ(socket_requests.size(), 1u);
  EXPECT_EQ(socket_requests[0].like, kUdpLocal);
  EXPECT_EQ(g.server_state(0), RelayServerState::connecting);
  EXPECT_TRUE(events(g).empty());
  ASSERT_EQ(udp_sources.size(), 2u);  // the challenged Allocate and the refused one
  const SocketAddress new_port(kUdpLocal.ip(), 40001);
  udp_sources.clear();
  g.handle_socket_bound(now, socket_requests[0].id, new_port);
  exchange(g);
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 2u);
  auto* c = std::get_if<event::RelayedCandidate>(&ev[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->candidate.address, s.relayed);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[1]));
  EXPECT_EQ(s.count(Method::allocate), 4u);
  // Everything of the new allocation goes out of, and comes in on, the new port only.
  ASSERT_FALSE(udp_sources.empty());
  for (const auto& from : udp_sources)
    EXPECT_EQ(from, new_port);
  udp_sources.clear();
  ASSERT_TRUE(g.send(now, s.relayed, kPeer, Bytes{1, 2, 3}).ok());
  exchange(g);
  ASSERT_FALSE(udp_sources.empty());
  EXPECT_EQ(udp_sources.back(), new_port);
  EXPECT_EQ(s.count(Method::create_permission), 1u);
  const Bytes stray =
      *s.answer(std::move(MessageBuilder(Method::binding, Class::request, stun::TransactionId{}))
                    .finish(true));
  EXPECT_FALSE(g.handle_datagram(now, kUdpLocal, s.address, stray));
  // The refresh runs from the new port too.
  run_until(g, start + seconds(560));
  EXPECT_EQ(g.server_state(0), RelayServerState::allocated);
  EXPECT_GE(s.count(Method::refresh), 1u);
  EXPECT_EQ(udp_sources.back(), new_port);
}

TEST_F(RelayGathererTest, AllocationMismatchIsRetriedABoundedNumberOfTimes) {
  auto tcp = make_refusing_server(10, 437, 100);
  auto udp = make_refusing_server(11, 437, 100);
  servers = {&tcp, &udp};
  RelayGathererConfig config = udp_config({entry(tcp, "turn:198.51.100.10?transport=tcp"),
                                           entry(udp, "turn:198.51.100.11?transport=udp")});
  config.max_mismatch_retries = 2;
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  // UDP: the first socket and two new ports, then given up.
  for (uint16_t i = 0; i < 2; ++i) {
    ASSERT_EQ(socket_requests.size(), i + 1u);
    EXPECT_TRUE(events(g).empty());
    g.handle_socket_bound(now, socket_requests[i].id,
                          SocketAddress(kUdpLocal.ip(), static_cast<uint16_t>(40001 + i)));
    exchange(g);
  }
  EXPECT_EQ(socket_requests.size(), 2u);
  auto first = events(g);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(failure_of(first[0], 1u, "allocation-mismatch (437)"));
  // TCP: the first connection and two more, then given up.
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(pending_connects.size(), i + 1);
    g.handle_stream_connected(now, pending_connects[i]);
    exchange(g);
  }
  EXPECT_EQ(pending_connects.size(), 3u);
  EXPECT_EQ(closed_streams.size(), 3u);
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 2u);
  ASSERT_TRUE(failure_of(ev[0], 0u, "allocation-mismatch (437)"));
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[1]));
}

TEST_F(RelayGathererTest, AMismatchWithoutANewPortFailsThatServerAlone) {
  auto bad = make_refusing_server(14, 437, 1);
  auto good = make_server(15);
  servers = {&bad, &good};
  RelayGathererConfig config =
      udp_config({entry(bad, "turn:198.51.100.14"), entry(good, "turn:198.51.100.15")});
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  ASSERT_EQ(socket_requests.size(), 1u);
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<event::RelayedCandidate>(ev[0]));
  // The runtime could not bind one (ports exhausted, the interface gone).
  g.handle_socket_bound(now, socket_requests[0].id, std::nullopt);
  exchange(g);
  ev = events(g);
  ASSERT_EQ(ev.size(), 2u);
  ASSERT_TRUE(failure_of(ev[0], 0u, "no new local port"));
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[1]));
  EXPECT_EQ(g.server_state(1), RelayServerState::allocated);
  // A late or unknown answer changes nothing.
  g.handle_socket_bound(now, socket_requests[0].id, SocketAddress(kUdpLocal.ip(), 40009));
  g.handle_socket_bound(now, 999, SocketAddress(kUdpLocal.ip(), 40010));
  exchange(g);
  EXPECT_TRUE(events(g).empty());
  EXPECT_EQ(g.server_state(0), RelayServerState::failed);
}

TEST_F(RelayGathererTest, ALostAllocationIsMadeAgainWithTheNewestCredentials) {
  auto s = make_server(12, "1700000600:cam1");
  servers = {&s};
  RelayGathererConfig config;
  config.servers = {entry(s, "turn:198.51.100.12?transport=tcp")};
  config.max_reallocations = 2;
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  exchange(g);
  g.handle_stream_connected(now, pending_connects.at(0));
  exchange(g);
  auto first = events(g);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<event::RelayedCandidate>(first[0]));
  const SocketAddress old_relayed = s.relayed;

  // The session got fresh credentials (the old ones expire); the server now takes only those.
  // Then the connection to the server is lost: the allocation is gone with it.
  s.username = "1700007200:cam1";
  s.password = "pw-new";
  s.relayed = SocketAddress(IpAddress::v4(198, 51, 100, 12), 50099);
  g.set_credentials(0, {s.username, s.password});
  now += seconds(30);
  g.handle_stream_closed(now, pending_connects.at(0));
  exchange(g);
  auto lost = events(g);
  ASSERT_EQ(lost.size(), 1u);
  auto* f = std::get_if<event::ServerFailed>(&lost[0]);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->relayed, old_relayed);
  EXPECT_FALSE(g.owns(old_relayed));
  // A new connection, a new allocation with the new username, a new candidate.
  ASSERT_EQ(pending_connects.size(), 2u);
  g.handle_stream_connected(now, pending_connects[1]);
  exchange(g);
  auto again = events(g);
  ASSERT_EQ(again.size(), 1u);
  auto* c = std::get_if<event::RelayedCandidate>(&again[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->candidate.address, s.relayed);
  EXPECT_TRUE(g.owns(s.relayed));
  ASSERT_FALSE(s.requests.empty());
  EXPECT_EQ(s.requests.back().method(), Method::allocate);
  EXPECT_EQ(s.requests.back().username(), "1700007200:cam1");

  // Bounded: after max_reallocations losses the server stays failed.
  g.handle_stream_closed(now, pending_connects[1]);
  exchange(g);
  ASSERT_EQ(pending_connects.size(), 3u);
  g.handle_stream_closed(now, pending_connects[2]);  // the third connection is refused
  exchange(g);
  (void)events(g);
  EXPECT_EQ(pending_connects.size(), 3u);
  EXPECT_EQ(g.server_state(0), RelayServerState::failed);
}

TEST_F(RelayGathererTest, MisconfiguredServersFailOnTheirOwn) {
  auto s = make_server(7);
  RelayGathererConfig config;
  config.servers = {entry(s, "turn:198.51.100.7"),   // UDP, but no UDP socket given
                    entry(s, "turns:198.51.100.7"),  // TLS without a CA
                    entry(s, "stun:198.51.100.7")};
  RelayGatherer g(config, rng);
  ASSERT_TRUE(g.start(now).ok());
  auto ev = events(g);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_NE(std::get<event::ServerFailed>(ev[0]).reason.find("no UDP socket"), std::string::npos);
  EXPECT_NE(std::get<event::ServerFailed>(ev[1]).reason.find("CA"), std::string::npos);
  EXPECT_NE(std::get<event::ServerFailed>(ev[2]).reason.find("not a TURN URI"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<event::GatheringDone>(ev[3]));
  EXPECT_FALSE(g.start(now).ok()) << "once only";
}

TEST(IceServerUri, ParsesTurnAndStunUris) {
  auto a = parse_ice_server_uri("turn:turn.example.net");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scheme, IceServerScheme::turn);
  EXPECT_EQ(a->host, "turn.example.net");
  EXPECT_FALSE(a->ip);
  EXPECT_EQ(a->port, 3478);
  EXPECT_EQ(a->transport, TurnTransport::udp);

  auto b = parse_ice_server_uri("TURNS:203.0.113.20:443?Transport=TCP");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scheme, IceServerScheme::turns);
  EXPECT_EQ(b->ip, IpAddress::v4(203, 0, 113, 20));
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->transport, TurnTransport::tls);
  EXPECT_EQ(b->to_string(), "turns:203.0.113.20:443?transport=tcp");

  auto c = parse_ice_server_uri("turns:turn.example.net");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 5349);
  EXPECT_EQ(c->transport, TurnTransport::tls);

  auto d = parse_ice_server_uri("turn:[2001:db8::1]:3479?transport=tcp");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "2001:db8::1");
  EXPECT_TRUE(d->ip && d->ip->is_v6());
  EXPECT_EQ(d->port, 3479);
  EXPECT_EQ(d->transport, TurnTransport::tcp);
  EXPECT_EQ(d->to_string(), "turn:[2001:db8::1]:3479?transport=tcp");

  auto e = parse_ice_server_uri("stun:stun.example.net:19302");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->is_turn());
}

TEST(IceServerUri, RefusesBadUrisWithAReason) {
  const char* bad[] = {"",
                       "turn.example.net",
                       "http://turn.example.net",
                       "turn://turn.example.net",
                       "turn:",
                       "turn::3478",
                       "turn:host:0",
                       "turn:host:65536",
                       "turn:host:34x8",
                       "turn:host?transport=sctp",
                       "turn:host?foo=udp",
                       "turn:host?",
                       "turns:host?transport=udp",
                       "stun:host?transport=udp",
                       "turn:2001:db8::1",
                       "turn:[2001:db8::1",
                       "turn:[192.0.2.1]",
                       "turn:-host",
                       "turn:host_name",
                       "turn:a..b"};
  for (const char* uri : bad) {
    auto r = parse_ice_server_uri(uri);
    EXPECT_FALSE(r.ok()) << uri;
    if (!r.ok()) {
      EXPECT_NE(std::string(r.error().reason), "") << uri;
    }
  }
  EXPECT_EQ(parse_ice_server_uri(std::string(600, 'a')).error().code, Errc::limit_exceeded);
}

}  // namespace
}  // namespace cellrtc::turn
