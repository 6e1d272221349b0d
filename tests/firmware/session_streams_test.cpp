// The firmware's session host over TCP, behind fakes and in virtual time: ICE-TCP candidates
// connected once to each passive candidate of the answer, RFC 4571 framing across reads,
// transport tcp without a datagram, TURN relays from the answer's Link entries and their
// stream commands (connect, write, close, a refused connection reported).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "core/common/random.h"
#include "core/dtls/certificate.h"
#include "core/ice/tcp_framing.h"
#include "core/stun/stun_message.h"
#include "firmware/app/session_sockets.h"

namespace cellrtc::firmware {
namespace {

class FakeDatagrams final : public DatagramSockets {
 public:
  Result<Bound> open(const SocketAddress& local) override {
    ++opened;
    Bound b{next_handle++, SocketAddress(local.ip(), static_cast<uint16_t>(40000 + next_handle))};
    return b;
  }
  Status send(int handle, const SocketAddress& to, ByteView data) override {
    ++sent;
    last = {handle, to, Bytes(data.begin(), data.end())};
    return {};
  }
  std::optional<Received> receive(int handle, std::span<uint8_t> buffer) override {
    if (inbox.empty() || inbox.front().handle != handle) return std::nullopt;
    Datagram d = std::move(inbox.front());
    inbox.pop_front();
    std::copy(d.data.begin(), d.data.end(), buffer.begin());
    return Received{d.data.size(), d.peer};
  }
  void close(int) override {}
  struct Datagram {
    int handle = -1;
    SocketAddress peer;
    Bytes data;
  };
  int next_handle = 3;
  int opened = 0;
  int sent = 0;
  Datagram last;
  std::deque<Datagram> inbox;
};

class FakeStreams final : public StreamSockets {
 public:
  struct Conn {
    SocketAddress remote;
    ConnectState state = ConnectState::connecting;
    Bytes written;
    std::deque<Bytes> inbox;
    bool closed_by_peer = false;
    bool closed = false;
  };
  Result<int> connect(const SocketAddress& remote) override {
    if (refuse) return Error{Errc::invalid_state, "connect() failed"};
    conns[next_handle].remote = remote;
    return next_handle++;
  }
  ConnectState poll_connect(int h) override { return conns.at(h).state; }
  Result<size_t> write(int h, ByteView data) override {
    Conn& c = conns.at(h);
    size_t n = std::min(data.size(), accept_per_write);
    c.written.insert(c.written.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    return n;
  }
  ReadResult read(int h, std::span<uint8_t> buffer) override {
    Conn& c = conns.at(h);
    if (c.inbox.empty()) return {0, c.closed_by_peer};
    Bytes d = std::move(c.inbox.front());
    c.inbox.pop_front();
    std::copy(d.begin(), d.end(), buffer.begin());
    return {d.size(), false};
  }
  void close(int h) override { conns.at(h).closed = true; }

  // The connections to `remote`, in order.
  std::vector<int> to(const std::string& remote) const {
    std::vector<int> out;
    for (const auto& [h, c] : conns)
      if (c.remote.to_string() == remote) out.push_back(h);
    return out;
  }
  bool refuse = false;
  size_t accept_per_write = 1 << 20;
  int next_handle = 100;
  std::map<int, Conn> conns;
};

// Whole RFC 4571 messages out of a connection's written bytes.
std::vector<Bytes> messages(const Bytes& written) {
  ice::Rfc4571Framer framer;
  EXPECT_TRUE(framer.push(written).ok());
  std::vector<Bytes> out;
  while (auto m = framer.next())
    out.push_back(*m);
  return out;
}

bool is_stun_method(const Bytes& m, uint16_t method) {
  return m.size() >= 20 && ((m[0] << 8 | m[1]) & 0x3EEF) == method;
}

struct Rig {
  explicit Rig(streamer::IceTransport transport, std::string ca_pem = {})
      : certificate(dtls::Certificate::generate(rng, "cellrtc-device").value()) {
    config.endpoint = "https://relay.example.net/whip";
    config.token = "t";
    SessionSocketsConfig c;
    c.transport = transport;
    c.relay.ca_pem = std::move(ca_pem);
    c.relay.ca_setting = "ca_pem";
    sockets = std::make_unique<SessionSockets>(datagrams, streams, c);
    sockets->set_local_addresses({IpAddress::v4(100, 64, 0, 2)});
    pub = std::make_unique<streamer::Publisher>(config, rng, certificate, *sockets);
  }

  // Publishes and answers the POST with an answer naming `passive` TCP candidates and
  // `links` ice-servers.
  void publish(const std::vector<std::string>& passive, const std::vector<std::string>& links) {
    pub->start(now);
    auto post = pub->poll_request();
    ASSERT_TRUE(post);
    offer = post->request.body;
    peer::PeerConfig sc;
    sc.certificate = &certificate;
    sc.ice.lite = true;
    server = std::make_unique<peer::PeerConnection>(sc, rng);
    ASSERT_TRUE(server->set_remote_description(now, offer).ok());
    auto answer = server->create_answer(now);
    ASSERT_TRUE(answer.ok());
    std::string sdp = *answer;
    int foundation = 10;
    for (const auto& p : passive) {
      auto a = SocketAddress::parse(p).value();
      sdp += "a=candidate:" + std::to_string(foundation++) + " 1 tcp 1518280447 " +
             a.ip().to_string() + " " + std::to_string(a.port()) + " typ host tcptype passive\r\n";
    }
    whip::HttpResponse r;
    r.status = 201;
    r.body = sdp;
    r.headers = {{"Content-Type", "application/sdp"}, {"Location", "/whip/session/1"}};
    for (const auto& l : links)
      r.headers.push_back({"Link", l});
    pub->handle_response(now, post->id, r);
    sockets->flush(now, *pub);
  }
  void advance(Duration d) {
    now = now + d;
    if (auto t = pub->peer_timeout(); t && *t <= now) pub->handle_peer_timeout(now);
    if (auto t = pub->next_timeout(); t && *t <= now) pub->handle_timeout(now);
    sockets->flush(now, *pub);
  }
  std::vector<std::string> log() {
    std::vector<std::string> out;
    while (auto l = sockets->poll_log())
      out.push_back(*l);
    return out;
  }
  bool logged(const std::string& part) {
    for (const auto& l : log_lines)
      if (l.find(part) != std::string::npos) return true;
    for (auto l = sockets->poll_log(); l; l = sockets->poll_log()) {
      log_lines.push_back(*l);
      if (l->find(part) != std::string::npos) return true;
    }
    return false;
  }

  SeededRandom rng{21};
  dtls::Certificate certificate;
  streamer::PublisherConfig config;
  FakeDatagrams datagrams;
  FakeStreams streams;
  std::unique_ptr<SessionSockets> sockets;
  std::unique_ptr<streamer::Publisher> pub;
  std::unique_ptr<peer::PeerConnection> server;
  std::string offer;
  std::vector<std::string> log_lines;
  Instant now = Instant{} + seconds(1);
};

constexpr const char* kTurnTcpLink =
    "<turn:198.51.100.30:3478?transport=tcp>; rel=\"ice-server\"; username=\"1700000000:dev\"; "
    "credential=\"secret\"; credential-type=\"password\"";

TEST(SessionStreamsTest, TcpOffersAnActiveCandidateConnectsOncePerPassiveOneAndSendsNoDatagram) {
  Rig rig(streamer::IceTransport::tcp);
  rig.publish({"198.51.100.1:443", "198.51.100.1:8443"}, {});
  // RFC 6544 section 4.5: the active candidate on port 9; no UDP socket and no UDP candidate.
  EXPECT_NE(rig.offer.find("tcp"), std::string::npos);
  EXPECT_NE(rig.offer.find("100.64.0.2 9 typ host tcptype active"), std::string::npos) << rig.offer;
  EXPECT_EQ(rig.offer.find(" udp "), std::string::npos) << rig.offer;
  EXPECT_EQ(rig.datagrams.opened, 0);
  ASSERT_EQ(rig.streams.to("198.51.100.1:443").size(), 1u);
  ASSERT_EQ(rig.streams.to("198.51.100.1:8443").size(), 1u);
  EXPECT_EQ(rig.sockets->stats().tcp_connections, 2u);
  // Connecting: watched for writing; the checks wait in the queue.
  EXPECT_EQ(rig.sockets->watch_set().writable.size(), 2u);
  const uint64_t generation = rig.sockets->watch_generation();
  for (auto& [h, c] : rig.streams.conns)
    c.state = StreamSockets::ConnectState::connected;
  rig.sockets->read(rig.now, *rig.pub);
  EXPECT_NE(rig.sockets->watch_generation(), generation);
  for (int i = 0; i < 20; ++i)
    rig.advance(milliseconds(50));
  // The ICE checks went out framed on each connection (RFC 4571), none as a datagram.
  for (int h : rig.streams.to("198.51.100.1:443")) {
    auto sent = messages(rig.streams.conns.at(h).written);
    ASSERT_FALSE(sent.empty());
    EXPECT_TRUE(is_stun_method(sent.front(), 0x0001));  // Binding request
  }
  EXPECT_EQ(rig.datagrams.sent, 0);
  EXPECT_GT(rig.sockets->stats().tcp_messages_out, 1u);
  EXPECT_TRUE(rig.sockets->watch_set().writable.empty());
  // More answers and flushes connect nothing more.
  rig.advance(seconds(1));
  EXPECT_EQ(rig.streams.conns.size(), 2u);

  rig.pub->stop(rig.now, streamer::Publisher::StopMode::drop);
  for (const auto& [h, c] : rig.streams.conns)
    EXPECT_TRUE(c.closed);
  EXPECT_TRUE(rig.sockets->handles().empty());
}

TEST(SessionStreamsTest, Rfc4571MessagesSplitAndJoinedAcrossReadsReachTheConnection) {
  Rig rig(streamer::IceTransport::tcp);
  rig.publish({"198.51.100.1:443"}, {});
  ASSERT_EQ(rig.streams.conns.size(), 1u);
  auto& conn = rig.streams.conns.begin()->second;
  conn.state = StreamSockets::ConnectState::connected;
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(100));
  // The server's answers to the device's checks: take the device's own check, answer it from
  // the server's PeerConnection, and give the answers back cut and glued across reads.
  auto sent = messages(conn.written);
  ASSERT_GE(sent.size(), 1u);
  const SocketAddress device_side = SocketAddress::parse("100.64.0.2:50000").value();
  const SocketAddress server_side = SocketAddress::parse("198.51.100.1:443").value();
  for (const auto& m : sent)
    rig.server->handle_datagram(rig.now, server_side, device_side, m, TransportProtocol::tcp);
  Bytes stream;
  size_t answers = 0;
  while (auto t = rig.server->poll_transmit()) {
    if (t->protocol != TransportProtocol::tcp) continue;
    auto framed = ice::frame_rfc4571(t->data).value();
    stream.insert(stream.end(), framed.begin(), framed.end());
    ++answers;
  }
  ASSERT_GE(answers, 1u);
  // Two copies of the answers: the first cut after 3 bytes (inside the length), the rest
  // joined with the second copy in one read.
  Bytes twice = stream;
  twice.insert(twice.end(), stream.begin(), stream.end());
  conn.inbox.push_back(Bytes(twice.begin(), twice.begin() + 3));
  conn.inbox.push_back(Bytes(twice.begin() + 3, twice.end()));
  const uint64_t before = rig.sockets->stats().tcp_messages_in;
  EXPECT_GT(rig.sockets->read(rig.now, *rig.pub), 0u);
  EXPECT_EQ(rig.sockets->stats().tcp_messages_in - before, 2 * answers);
  // The device's ICE agent took the answers: the TCP pair is valid, ICE connected over it.
  EXPECT_TRUE(rig.pub->peer()->ice().selected_pair());

  // A frame announcing more than the limit closes the connection (RFC 4571 cannot resync).
  conn.inbox.push_back(Bytes{0xFF, 0xFF, 0x00});
  rig.sockets->read(rig.now, *rig.pub);
  EXPECT_TRUE(conn.closed);
  EXPECT_TRUE(rig.logged("over the limit"));
}

TEST(SessionStreamsTest, RelaysStartFromLinkEntriesAndTheirStreamCommandsAreCarriedOut) {
  Rig rig(streamer::IceTransport::tcp);
  rig.publish({}, {kTurnTcpLink,
                   "<turn:198.51.100.30:3478?transport=udp>; rel=\"ice-server\"; "
                   "username=\"u\"; credential=\"p\""});
  EXPECT_TRUE(rig.logged("relay: skipped turn:198.51.100.30:3478?transport=udp: TURN over UDP"));
  EXPECT_TRUE(rig.logged("relay: allocating on turn:198.51.100.30:3478?transport=tcp"));
  // connect: a TCP connection to the TURN server.
  auto turn = rig.streams.to("198.51.100.30:3478");
  ASSERT_EQ(turn.size(), 1u);
  EXPECT_EQ(rig.sockets->stats().turn_streams, 1u);
  auto& conn = rig.streams.conns.at(turn[0]);
  // write: the Allocate request once connected (RFC 8656 section 7.1), unframed STUN.
  conn.state = StreamSockets::ConnectState::connected;
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(10));
  ASSERT_GE(conn.written.size(), 20u);
  EXPECT_TRUE(is_stun_method(conn.written, 0x0003));
  // close: with the session.
  rig.pub->stop(rig.now, streamer::Publisher::StopMode::drop);
  EXPECT_TRUE(conn.closed);
  EXPECT_EQ(rig.datagrams.opened, 0);
}

TEST(SessionStreamsTest, ARefusedTurnConnectionIsReportedAndFailsThatServerOnly) {
  Rig rig(streamer::IceTransport::tcp);
  rig.publish({"198.51.100.1:443"}, {kTurnTcpLink});
  auto turn = rig.streams.to("198.51.100.30:3478");
  ASSERT_EQ(turn.size(), 1u);
  rig.streams.conns.at(turn[0]).state = StreamSockets::ConnectState::failed;
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(10));
  EXPECT_TRUE(rig.logged("warning: cannot connect to 198.51.100.30:3478 (TURN)"));
  EXPECT_TRUE(rig.logged("relay: turn:198.51.100.30:3478?transport=tcp failed"));
  EXPECT_TRUE(rig.streams.conns.at(turn[0]).closed);
  // The ICE-TCP connection is untouched.
  EXPECT_FALSE(rig.streams.conns.at(rig.streams.to("198.51.100.1:443")[0]).closed);

  // A connect() that fails at once is reported the same way.
  Rig refused(streamer::IceTransport::tcp);
  refused.streams.refuse = true;
  refused.publish({}, {kTurnTcpLink});
  refused.advance(milliseconds(10));
  EXPECT_TRUE(refused.logged("warning: cannot connect to 198.51.100.30:3478 (TURN): connect()"));
  EXPECT_TRUE(refused.logged("relay: turn:198.51.100.30:3478?transport=tcp failed"));
}

TEST(SessionStreamsTest, TurnsNeedsTheCaAndUdpRelaysUseTheFirstHostSocket) {
  const std::string turns =
      "<turns:turn.example.net:5349?transport=tcp>; rel=\"ice-server\"; username=\"u\"; "
      "credential=\"p\"";
  Rig rig(streamer::IceTransport::automatic);
  rig.publish({}, {turns});
  EXPECT_TRUE(
      rig.logged("relay: skipped turns:turn.example.net:5349?transport=tcp: cannot be verified "
                 "without ca_pem"));
  EXPECT_TRUE(rig.logged("relay: no relays: no usable TURN server"));
  EXPECT_TRUE(rig.streams.conns.empty());

  // auto: UDP host sockets too, and TURN over UDP goes out of the first.
  Rig udp(streamer::IceTransport::automatic);
  udp.publish({}, {"<turn:198.51.100.30:3478?transport=udp>; rel=\"ice-server\"; "
                   "username=\"u\"; credential=\"p\""});
  EXPECT_EQ(udp.datagrams.opened, 1);
  EXPECT_TRUE(udp.logged("relay: allocating on turn:198.51.100.30:3478?transport=udp"));
  EXPECT_GE(udp.datagrams.sent, 1);  // the Allocate request
}

TEST(SessionStreamsTest, A437OverUdpAllocatesAgainFromANewSocket) {
  Rig rig(streamer::IceTransport::automatic);
  rig.publish({}, {"<turn:198.51.100.30:3478?transport=udp>; rel=\"ice-server\"; "
                   "username=\"u\"; credential=\"p\""});
  ASSERT_EQ(rig.datagrams.opened, 1);
  const FakeDatagrams::Datagram allocate = rig.datagrams.last;
  auto request = stun::Message::parse(allocate.data);
  ASSERT_TRUE(request.ok());
  ASSERT_EQ(request->method(), stun::Method::allocate);
  // RFC 8656 section 7.4: 437 Allocation Mismatch.
  auto mismatch = stun::MessageBuilder::response_to(*request, stun::Class::error_response);
  mismatch.add_error_code(437, "Allocation Mismatch");
  rig.datagrams.inbox.push_back({allocate.handle, allocate.peer, std::move(mismatch).finish()});
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(10));
  // A second socket, and the Allocate again from it.
  EXPECT_EQ(rig.datagrams.opened, 2);
  EXPECT_NE(rig.datagrams.last.handle, allocate.handle);
  auto again = stun::Message::parse(rig.datagrams.last.data);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->method(), stun::Method::allocate);
  EXPECT_EQ(rig.sockets->handles().size(), 2u);
  rig.pub->stop(rig.now, streamer::Publisher::StopMode::drop);
  EXPECT_TRUE(rig.sockets->handles().empty());
}

// The first STUN message of TURN-over-TCP bytes (RFC 8656 section 12.5: no outer framing).
std::optional<stun::Message> first_stun(const Bytes& written) {
  if (written.size() < 20) return std::nullopt;
  const size_t size = 20 + (written[2] << 8 | written[3]);
  if (written.size() < size) return std::nullopt;
  auto m = stun::Message::parse(ByteView(written.data(), size));
  if (!m) return std::nullopt;
  return *m;
}

// The TURN server's side of one allocation over the fake TCP connection: the (unchallenged)
// Allocate answered with a relayed address.
void allocate_over_tcp(Rig& rig, FakeStreams::Conn& conn) {
  conn.state = StreamSockets::ConnectState::connected;
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(10));
  auto allocate = first_stun(conn.written);
  ASSERT_TRUE(allocate);
  ASSERT_EQ(allocate->method(), stun::Method::allocate);
  auto ok = stun::MessageBuilder::response_to(*allocate, stun::Class::success_response);
  ok.add_xor_relayed_address(SocketAddress::parse("198.51.100.30:50000").value());
  ok.add_xor_mapped_address(SocketAddress::parse("100.64.0.2:40001").value());
  ok.add_lifetime(600);
  conn.inbox.push_back(std::move(ok).finish());
  rig.sockets->read(rig.now, *rig.pub);
  rig.advance(milliseconds(10));
  ASSERT_TRUE(rig.logged("relay: allocated 198.51.100.30:50000"));
  conn.written.clear();
}

TEST(SessionStreamsTest, AClosedSessionsRelaysKeepTheirConnectionUntilDeallocated) {
  Rig rig(streamer::IceTransport::tcp);
  rig.publish({}, {kTurnTcpLink});
  auto turn = rig.streams.to("198.51.100.30:3478");
  ASSERT_EQ(turn.size(), 1u);
  auto& conn = rig.streams.conns.at(turn[0]);
  ASSERT_NO_FATAL_FAILURE(allocate_over_tcp(rig, conn));

  // RFC 8656 section 7.2: the session ends, a Refresh with LIFETIME 0 goes out and the
  // connection stays for its answer.
  rig.pub->stop(rig.now, streamer::Publisher::StopMode::drop);
  EXPECT_FALSE(conn.closed);
  EXPECT_EQ(rig.sockets->closing_relays(), 1u);
  EXPECT_EQ(rig.sockets->stats().relays_kept_closing, 1u);
  EXPECT_TRUE(rig.sockets->next_timeout());
  auto refresh = first_stun(conn.written);
  ASSERT_TRUE(refresh);
  EXPECT_EQ(refresh->method(), stun::Method::refresh);
  auto gone = stun::MessageBuilder::response_to(*refresh, stun::Class::success_response);
  gone.add_lifetime(0);
  conn.inbox.push_back(std::move(gone).finish());
  rig.sockets->read(rig.now, *rig.pub);
  EXPECT_TRUE(conn.closed);
  EXPECT_EQ(rig.sockets->closing_relays(), 0u);
  EXPECT_TRUE(rig.sockets->handles().empty());

  // Unanswered, the relays are given up at their close_timeout.
  Rig silent(streamer::IceTransport::tcp);
  silent.publish({}, {kTurnTcpLink});
  auto& quiet = silent.streams.conns.at(silent.streams.to("198.51.100.30:3478").at(0));
  ASSERT_NO_FATAL_FAILURE(allocate_over_tcp(silent, quiet));
  silent.pub->stop(silent.now, streamer::Publisher::StopMode::drop);
  EXPECT_FALSE(quiet.closed);
  for (int i = 0; i < 30 && silent.sockets->closing_relays() > 0; ++i) {
    silent.now = silent.now + milliseconds(100);
    if (auto t = silent.sockets->next_timeout(); t && *t <= silent.now)
      silent.sockets->handle_timeout(silent.now);
  }
  EXPECT_EQ(silent.sockets->closing_relays(), 0u);
  EXPECT_TRUE(quiet.closed);
}

TEST(SessionStreamsTest, TurnsCertificateDatesAreCheckedOnceTheClockIsKnown) {
  FakeDatagrams datagrams;
  FakeStreams streams;
  std::optional<int64_t> clock;
  SessionSocketsConfig c;
  c.unix_time = [&clock] { return clock; };
  SessionSockets sockets(datagrams, streams, c);
  EXPECT_FALSE(sockets.relay_plan_config().now_unix_s);  // before SNTP: not checked
  clock = 1'800'000'000;
  EXPECT_EQ(sockets.relay_plan_config().now_unix_s, 1'800'000'000);
}

}  // namespace
}  // namespace cellrtc::firmware
