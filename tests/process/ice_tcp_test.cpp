// ICE-TCP (RFC 6544) against the real cellrtc-server: a device publishes over UDP, and a viewer
// whose only candidate is an active TCP one (so no UDP pair exists) reaches the server's
// passive candidate over a real TCP connection on loopback, RFC 4571-framed, and receives the
// device's frames. Once on a dedicated --ice-tcp-port, once on the HTTP port shared with the
// front end (--ice-tcp-shared), where the same port keeps serving HTTP.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/dtls/certificate.h"
#include "core/ice/tcp_framing.h"
#include "core/media/frame_header.h"
#include "core/peer/peer_connection.h"
#include "core/stun/stun_message.h"
#include "process/http_client.h"
#include "process/server_process.h"
#include "runtime/endpoint_driver.h"
#include "runtime/event_loop.h"
#include "runtime/os_random.h"
#include "support/peer_endpoint.h"

namespace cellrtc::process {
namespace {

using ::testing::HasSubstr;

constexpr const char* kToken = "cam-token-0123456789abcdef";

// A free TCP port on loopback (bound, read back, closed): for --ice-tcp-port.
uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The viewer's side of one ICE-TCP connection: a non-blocking socket to the server's passive
// candidate, RFC 4571 framing both ways.
class TcpLink {
 public:
  ~TcpLink() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connect(const SocketAddress& to) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(to.ip().v4_value());
    a.sin_port = htons(to.port());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ::fcntl(fd_, F_SETFL, O_NONBLOCK) == 0;
  }
  bool send(ByteView message) {
    auto framed = ice::frame_rfc4571(message);
    if (!framed) return false;
    size_t off = 0;
    for (int tries = 0; off < framed->size() && tries < 1000; ++tries) {
      ssize_t n = ::send(fd_, framed->data() + off, framed->size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return false;
      } else {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 10);
      }
    }
    return off == framed->size();
  }
  // Messages received so far; false once the server closed the connection.
  bool receive(std::vector<Bytes>& out) {
    uint8_t buf[8192];
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      if (!framer_.push(ByteView(buf, static_cast<size_t>(n)))) return false;
      while (auto m = framer_.next())
        out.push_back(std::move(*m));
    }
  }

 private:
  int fd_ = -1;
  ice::Rfc4571Framer framer_;
};

struct Device {
  explicit Device(runtime::OsRandom& rng, const dtls::Certificate& cert)
      : endpoint(config_for(cert), rng) {}
  static peer::PeerConfig config_for(const dtls::Certificate& cert) {
    peer::PeerConfig c;
    c.certificate = &cert;
    return c;
  }
  testing::PeerEndpoint endpoint;
};

void run_viewer_over_tcp(ServerProcess& server, const SocketAddress& passive) {
  runtime::OsRandom rng;
  auto certificate = dtls::Certificate::generate(rng, "cellrtc-test");
  ASSERT_TRUE(certificate);

  // The device publishes over UDP.
  testing::PeerEndpoint device(Device::config_for(*certificate), rng);
  auto loop = runtime::EventLoop::create();
  ASSERT_TRUE(loop);
  runtime::EndpointDriver driver(**loop, device);
  auto local = driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(local);
  Instant now = (*loop)->now();
  ASSERT_TRUE(device.pc.add_host_socket(now, *local));
  device.pc.end_of_local_sockets(now);
  auto video = device.pc.create_data_channel(
      now, {.label = "video", .ordered = false, .max_retransmits = 0});
  ASSERT_TRUE(video);
  ASSERT_TRUE(device.pc.create_data_channel(now, {.label = "control"}));
  auto offer = device.pc.create_offer(now);
  ASSERT_TRUE(offer);
  device.drain(now);
  auto published = http_request(server.http_port(),
                                {.method = "POST",
                                 .target = "/whip",
                                 .headers = {{"Content-Type", "application/sdp"},
                                             {"Authorization", std::string("Bearer ") + kToken}},
                                 .body = *offer});
  ASSERT_EQ(published.status, 201) << published.body << server.log_tail();
  // The answer offers the passive TCP candidate next to the UDP one (RFC 6544 section 4.5).
  EXPECT_THAT(published.body, HasSubstr(" TCP "));
  EXPECT_THAT(published.body, HasSubstr("127.0.0.1 " + std::to_string(passive.port()) +
                                        " typ host tcptype passive"));
  ASSERT_TRUE(device.pc.set_remote_description((*loop)->now(), published.body));
  device.drain((*loop)->now());
  driver.wake();
  ASSERT_TRUE((*loop)->run_until([&] { return device.open.size() == 2 || device.failure; },
                                 (*loop)->now() + seconds(20)))
      << server.log_tail();

  // The viewer: one active TCP candidate (port 9, RFC 6544 section 4.5), no UDP socket.
  peer::PeerConfig viewer_config;
  viewer_config.certificate = &*certificate;
  testing::PeerEndpoint viewer(viewer_config, rng);
  const SocketAddress active(IpAddress::loopback_v4(), 9);
  now = (*loop)->now();
  ice::Candidate a;
  a.foundation = "1";
  a.transport = TransportProtocol::tcp;
  a.tcp_type = ice::TcpType::active;
  a.address = active;
  a.priority = ice::compute_priority(
      ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::active, 8191), 1);
  ASSERT_TRUE(viewer.pc.add_local_candidate(now, a));
  viewer.pc.end_of_local_sockets(now);
  ASSERT_TRUE(viewer.pc.create_data_channel(
      now, {.label = "video", .ordered = false, .max_retransmits = 0}));
  ASSERT_TRUE(viewer.pc.create_data_channel(now, {.label = "control"}));
  auto view_offer = viewer.pc.create_offer(now);
  ASSERT_TRUE(view_offer);
  viewer.drain(now);
  auto watched = http_request(server.http_port(), {.method = "POST",
                                                   .target = "/whep/cam",
                                                   .headers = {{"Content-Type", "application/sdp"}},
                                                   .body = *view_offer});
  ASSERT_EQ(watched.status, 201) << watched.body << server.log_tail();
  ASSERT_TRUE(viewer.pc.set_remote_description((*loop)->now(), watched.body));

  TcpLink link;
  ASSERT_TRUE(link.connect(passive)) << "connect to " << passive.to_string();

  // Run both until the viewer has frames: the device sends one every 50 ms.
  std::vector<Bytes> received;
  uint32_t sequence = 0;
  size_t frames = 0;
  size_t udp_transmits = 0;
  Instant next_frame = (*loop)->now();
  const Instant end = (*loop)->now() + seconds(30);
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9};
  while ((*loop)->now() < end && frames < 3 && !viewer.failure) {
    now = (*loop)->now();
    viewer.pc.handle_timeout(now);
    while (auto t = viewer.pc.poll_transmit()) {
      if (t->protocol != TransportProtocol::tcp) {
        ++udp_transmits;
        continue;
      }
      ASSERT_EQ(t->from, active);
      ASSERT_EQ(t->to, passive);
      ASSERT_TRUE(link.send(t->data));
    }
    ASSERT_TRUE(link.receive(received)) << "the server closed the connection\n"
                                        << server.log_tail();
    for (auto& m : received)
      viewer.pc.handle_datagram(now, active, passive, m, TransportProtocol::tcp);
    received.clear();
    viewer.drain(now);
    for (const auto& m : viewer.messages) {
      auto f = media::parse_frame(m.data);
      if (f && viewer.open.count(m.id) && viewer.open[m.id] == "video") ++frames;
    }
    viewer.messages.clear();
    if (device.open.size() == 2 && now >= next_frame) {
      auto frame = media::encode_frame({.sequence = ++sequence,
                                        .capture_time_us = 1000,
                                        .width = 16,
                                        .height = 16,
                                        .quality = 50},
                                       jpeg);
      (void)device.pc.send(now, *video, frame, true);
      device.drain(now);
      driver.wake();
      next_frame = now + milliseconds(50);
    }
    (*loop)->run_for(milliseconds(5));
  }
  EXPECT_EQ(udp_transmits, 0u);
  ASSERT_GE(frames, 3u) << (viewer.failure ? *viewer.failure : "timeout") << "\n"
                        << server.log_tail();
  ASSERT_TRUE(viewer.pc.ice().selected_pair());
  EXPECT_EQ(viewer.pc.ice().selected_pair()->local.transport, TransportProtocol::tcp);
  EXPECT_THAT(http_get(server.http_port(), "/metrics").body, HasSubstr("cellrtc_viewers 1"));
}

TEST(IceTcp, ViewerReachesTheServerOnlyByIceTcpOnItsOwnPort) {
  uint16_t port = free_tcp_port();
  std::string error;
  auto server = ServerProcess::start(
      {"--device", std::string("cam:") + kToken, "--ice-tcp-port", std::to_string(port)}, &error);
  ASSERT_TRUE(server) << error;
  EXPECT_THAT(server->lines(), ::testing::Contains("media tcp 127.0.0.1:" + std::to_string(port)));
  run_viewer_over_tcp(*server, SocketAddress(IpAddress::loopback_v4(), port));
}

TEST(IceTcp, ViewerReachesTheServerByIceTcpOnTheSharedHttpPort) {
  std::string error;
  auto server =
      ServerProcess::start({"--device", std::string("cam:") + kToken, "--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  const uint16_t port = server->http_port();
  EXPECT_THAT(server->lines(), ::testing::Contains("media tcp 127.0.0.1:" + std::to_string(port)));
  run_viewer_over_tcp(*server, SocketAddress(IpAddress::loopback_v4(), port));
  // HTTP still works on the same port, and the hand-over was counted.
  auto metrics = http_get(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("cellrtc_ice_tcp_handed_over_total 1\n"));
}

TEST(IceTcp, SharedPortClosesAConnectionWhoseFirstCheckIsForNoSession) {
  std::string error;
  auto server = ServerProcess::start({"--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  TcpLink link;
  ASSERT_TRUE(link.connect(SocketAddress(IpAddress::loopback_v4(), server->http_port())));
  runtime::OsRandom rng;
  auto b = stun::MessageBuilder(stun::Method::binding, stun::Class::request,
                                stun::random_transaction_id(rng));
  b.add_username("nosuchufrag:x");
  b.add_priority(1);
  ASSERT_TRUE(
      link.send(std::move(b).finish_with_integrity(as_bytes(std::string_view("pw")), true)));
  // The server closes it (no answer: the USERNAME names no session).
  std::vector<Bytes> got;
  bool open = true;
  for (int i = 0; i < 500 && open; ++i) {
    open = link.receive(got);
    ::usleep(10'000);
  }
  EXPECT_FALSE(open);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(http_get(server->http_port(), "/healthz").status, 200);
}

// The same viewer driven by the runtime's EndpointDriver, which opens the ICE-TCP connection
// itself (the active side a device uses): no UDP socket at all.
TEST(IceTcp, EndpointDriverCarriesAnActiveCandidateToTheServer) {
  std::string error;
  auto server =
      ServerProcess::start({"--device", std::string("cam:") + kToken, "--ice-tcp-shared"}, &error);
  ASSERT_TRUE(server) << error;
  const SocketAddress passive(IpAddress::loopback_v4(), server->http_port());
  runtime::OsRandom rng;
  auto certificate = dtls::Certificate::generate(rng, "cellrtc-test");
  ASSERT_TRUE(certificate);
  auto loop = runtime::EventLoop::create();
  ASSERT_TRUE(loop);

  // A publisher over UDP, as above.
  testing::PeerEndpoint device(Device::config_for(*certificate), rng);
  runtime::EndpointDriver device_driver(**loop, device);
  auto local = device_driver.add_socket(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(local);
  Instant now = (*loop)->now();
  ASSERT_TRUE(device.pc.add_host_socket(now, *local));
  device.pc.end_of_local_sockets(now);
  auto video = device.pc.create_data_channel(
      now, {.label = "video", .ordered = false, .max_retransmits = 0});
  ASSERT_TRUE(video);
  ASSERT_TRUE(device.pc.create_data_channel(now, {.label = "control"}));
  auto offer = device.pc.create_offer(now);
  ASSERT_TRUE(offer);
  device.drain(now);
  auto published = http_request(server->http_port(),
                                {.method = "POST",
                                 .target = "/whip",
                                 .headers = {{"Content-Type", "application/sdp"},
                                             {"Authorization", std::string("Bearer ") + kToken}},
                                 .body = *offer});
  ASSERT_EQ(published.status, 201) << published.body << server->log_tail();
  ASSERT_TRUE(device.pc.set_remote_description((*loop)->now(), published.body));
  device.drain((*loop)->now());
  device_driver.wake();

  // The viewer: an active TCP candidate only; the driver connects to the passive one.
  peer::PeerConfig viewer_config;
  viewer_config.certificate = &*certificate;
  testing::PeerEndpoint viewer(viewer_config, rng);
  runtime::EndpointDriver viewer_driver(**loop, viewer);
  const SocketAddress active(IpAddress::loopback_v4(), 9);
  now = (*loop)->now();
  ice::Candidate a;
  a.foundation = "1";
  a.transport = TransportProtocol::tcp;
  a.tcp_type = ice::TcpType::active;
  a.address = active;
  a.priority = ice::compute_priority(
      ice::type_preference(ice::CandidateType::host, TransportProtocol::tcp),
      ice::tcp_local_preference(ice::CandidateType::host, ice::TcpType::active, 8191), 1);
  ASSERT_TRUE(viewer.pc.add_local_candidate(now, a));
  viewer.pc.end_of_local_sockets(now);
  ASSERT_TRUE(viewer.pc.create_data_channel(
      now, {.label = "video", .ordered = false, .max_retransmits = 0}));
  ASSERT_TRUE(viewer.pc.create_data_channel(now, {.label = "control"}));
  auto view_offer = viewer.pc.create_offer(now);
  ASSERT_TRUE(view_offer);
  viewer.drain(now);
  auto watched =
      http_request(server->http_port(), {.method = "POST",
                                         .target = "/whep/cam",
                                         .headers = {{"Content-Type", "application/sdp"}},
                                         .body = *view_offer});
  ASSERT_EQ(watched.status, 201) << watched.body << server->log_tail();
  ASSERT_TRUE(viewer_driver.add_tcp_connection(active, passive));
  ASSERT_TRUE(viewer.pc.set_remote_description((*loop)->now(), watched.body));
  viewer.drain((*loop)->now());
  viewer_driver.wake();

  size_t frames = 0;
  uint32_t sequence = 0;
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9};
  const Instant end = (*loop)->now() + seconds(30);
  while ((*loop)->now() < end && frames < 3 && !viewer.failure) {
    now = (*loop)->now();
    if (device.open.size() == 2) {
      auto frame = media::encode_frame({.sequence = ++sequence,
                                        .capture_time_us = 1000,
                                        .width = 16,
                                        .height = 16,
                                        .quality = 50},
                                       jpeg);
      (void)device.pc.send(now, *video, frame, true);
      device.drain(now);
      device_driver.wake();
    }
    (*loop)->run_for(milliseconds(50));
    for (const auto& m : viewer.messages) {
      if (viewer.open.count(m.id) && viewer.open[m.id] == "video" && media::parse_frame(m.data))
        ++frames;
    }
    viewer.messages.clear();
  }
  ASSERT_GE(frames, 3u) << (viewer.failure ? *viewer.failure : "timeout") << "\n"
                        << server->log_tail();
  EXPECT_EQ(viewer_driver.counters().datagrams_sent, 0u);
  EXPECT_GT(viewer_driver.counters().tcp_messages_received, 0u);
  EXPECT_EQ(viewer_driver.open_tcp_connections(), 1u);
}

}  // namespace
}  // namespace cellrtc::process
