// DTLS handshakes over simulated links. Each test prints how many round trips the handshake
// took, from the client's start to its Connected (gtest property "round_trips").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/network.h"
#include "support/dtls_endpoint.h"
#include "support/mbedtls_wall_clock.h"

namespace cellrtc {
namespace {

using dtls::Certificate;
using dtls::DtlsConfig;
using dtls::DtlsRole;
using dtls::DtlsState;
using testing::DtlsEndpoint;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

struct HandshakeRun {
  bool connected = false;
  Duration took{0};
  uint32_t client_retransmissions = 0;
  uint32_t server_retransmissions = 0;
  uint64_t dropped = 0;
  bool data_ok = false;
};

// A device on a cellular-like link (one-way delay `one_way` each direction, `loss` each
// direction) to a server on an ideal link; the device is the DTLS client.
HandshakeRun run_handshake(uint64_t seed, Duration one_way, double loss) {
  SeededRandom device_rng(seed * 3 + 1), server_rng(seed * 3 + 2);
  Certificate device_cert = Certificate::generate(device_rng, "device").value();
  Certificate server_cert = Certificate::generate(server_rng, "server").value();

  sim::Network net(seed);
  sim::LinkConfig cell;
  cell.delay = one_way;
  cell.loss = loss;
  auto device_node =
      net.add_host("device", ip("198.51.100.10"), net.internet(), sim::Attachment::symmetric(cell))
          .value();
  auto server_node = net.add_host("server", ip("203.0.113.5"), net.internet()).value();

  DtlsConfig dc;
  dc.role = DtlsRole::client;
  dc.certificate = &device_cert;
  dc.remote_fingerprint = server_cert.fingerprint_sha256();
  DtlsConfig sc;
  sc.role = DtlsRole::server;
  sc.certificate = &server_cert;
  sc.remote_fingerprint = device_cert.fingerprint_sha256();

  SocketAddress device_addr(ip("198.51.100.10"), 5000), server_addr(ip("203.0.113.5"), 443);
  DtlsEndpoint device(dc, device_rng, device_addr, server_addr);
  DtlsEndpoint server(sc, server_rng, server_addr, device_addr);
  EXPECT_TRUE(net.bind(device_node, 5000, device));
  EXPECT_TRUE(net.bind(server_node, 443, server));

  Instant start = net.now();
  EXPECT_TRUE(server.transport.start(net.now()));
  EXPECT_TRUE(device.transport.start(net.now()));
  net.wake(server);
  net.wake(device);
  HandshakeRun run;
  run.connected = net.run_until(
      [&] {
        return (device.connected_at && server.connected_at) || device.failure || server.failure;
      },
      start + seconds(60));
  run.connected = device.connected_at.has_value() && server.connected_at.has_value();
  if (device.connected_at) run.took = *device.connected_at - start;
  run.client_retransmissions = device.transport.stats().retransmissions;
  run.server_retransmissions = server.transport.stats().retransmissions;
  run.dropped = net.dropped(sim::DropReason::loss);
  if (run.connected) {
    // A frame-sized message each way, resent by the test until it arrives (DTLS itself does
    // not retransmit application data).
    Bytes payload(1000, 0x42);
    for (int attempt = 0; attempt < 20 && (device.received.empty() || server.received.empty());
         ++attempt) {
      if (server.received.empty()) {
        EXPECT_TRUE(device.transport.send(net.now(), payload));
      }
      if (device.received.empty()) {
        EXPECT_TRUE(server.transport.send(net.now(), payload));
      }
      net.wake(device);
      net.wake(server);
      (void)net.run_for(milliseconds(500));
    }
    run.data_ok = !device.received.empty() && !server.received.empty() &&
                  device.received[0] == payload && server.received[0] == payload;
  }
  return run;
}

// Every datagram each end sent, in order, for a seeded handshake on a 100 ms link with 2 %
// loss each way (retransmission timers in play) and one message each way, with mbedTLS's wall
// clock at `epoch_seconds` when the run starts.
struct Datagrams {
  bool connected = false;
  std::vector<Bytes> device;
  std::vector<Bytes> server;
};
Datagrams seeded_handshake(uint64_t seed, int64_t epoch_seconds) {
  SeededRandom device_rng(seed * 3 + 1), server_rng(seed * 3 + 2);
  Certificate device_cert = Certificate::generate(device_rng, "device").value();
  Certificate server_cert = Certificate::generate(server_rng, "server").value();
  sim::Network net(seed);
  testing::MbedtlsWallClock wall([&net] { return net.now(); }, net.now(), epoch_seconds);
  sim::LinkConfig cell;
  cell.delay = milliseconds(50);
  cell.loss = 0.02;
  auto device_node =
      net.add_host("device", ip("198.51.100.10"), net.internet(), sim::Attachment::symmetric(cell))
          .value();
  auto server_node = net.add_host("server", ip("203.0.113.5"), net.internet()).value();
  DtlsConfig dc;
  dc.role = DtlsRole::client;
  dc.certificate = &device_cert;
  dc.remote_fingerprint = server_cert.fingerprint_sha256();
  DtlsConfig sc;
  sc.role = DtlsRole::server;
  sc.certificate = &server_cert;
  sc.remote_fingerprint = device_cert.fingerprint_sha256();
  SocketAddress device_addr(ip("198.51.100.10"), 5000), server_addr(ip("203.0.113.5"), 443);
  DtlsEndpoint device(dc, device_rng, device_addr, server_addr);
  DtlsEndpoint server(sc, server_rng, server_addr, device_addr);
  device.record_sent = server.record_sent = true;
  EXPECT_TRUE(net.bind(device_node, 5000, device));
  EXPECT_TRUE(net.bind(server_node, 443, server));
  EXPECT_TRUE(server.transport.start(net.now()));
  EXPECT_TRUE(device.transport.start(net.now()));
  net.wake(server);
  net.wake(device);
  Datagrams out;
  out.connected = net.run_until(
      [&] {
        return (device.connected_at && server.connected_at) || device.failure || server.failure;
      },
      net.now() + seconds(60));
  out.connected = out.connected && device.connected_at && server.connected_at;
  if (out.connected) {
    EXPECT_TRUE(device.transport.send(net.now(), Bytes(100, 1)));
    EXPECT_TRUE(server.transport.send(net.now(), Bytes(100, 2)));
    net.wake(device);
    net.wake(server);
    (void)net.run_for(seconds(1));
  }
  out.device = device.sent;
  out.server = server.sent;
  return out;
}

// A simulation is deterministic down to the bytes: the same seed gives the same datagrams.
// mbedTLS's one wall-clock input, the hello randoms' gmt_unix_time, follows the simulator
// (support/mbedtls_wall_clock.h); the control run at another wall-clock time shows it is what
// would differ otherwise (runs seconds apart would not be identical without it).
TEST(DtlsSim, SameSeedGivesTheSameDatagrams) {
  const int64_t epoch = 1'767'225'600;
  Datagrams a = seeded_handshake(7, epoch);
  Datagrams b = seeded_handshake(7, epoch);
  ASSERT_TRUE(a.connected);
  ASSERT_GE(a.device.size(), 3u);
  ASSERT_GE(a.server.size(), 2u);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.server, b.server);

  // 0x01010101 s later (about half a year): each of the four time bytes changes.
  Datagrams later = seeded_handshake(7, epoch + 0x01010101);
  ASSERT_TRUE(later.connected);
  // The ClientHello differs in the 4 bytes of gmt_unix_time only: record header (13), handshake
  // header (12) and client_version (2) come before the random (RFC 6347 sections 4.1, 4.2.2).
  ASSERT_EQ(a.device[0].size(), later.device[0].size());
  std::vector<size_t> differing;
  for (size_t i = 0; i < a.device[0].size(); ++i)
    if (a.device[0][i] != later.device[0][i]) differing.push_back(i);
  EXPECT_EQ(differing, (std::vector<size_t>{27, 28, 29, 30}));
  EXPECT_NE(a.server, later.server);
}

double round_trips(Duration took, Duration rtt) {
  return static_cast<double>(took.count()) / static_cast<double>(rtt.count());
}

TEST(DtlsSim, HandshakeOverLossless300msRtt) {
  HandshakeRun run = run_handshake(1, milliseconds(150), 0.0);
  ASSERT_TRUE(run.connected);
  double rtts = round_trips(run.took, milliseconds(300));
  ::testing::Test::RecordProperty("round_trips", std::to_string(rtts));
  std::printf("[ round trips ] DTLS, 300 ms RTT, no loss: %.2f (%.0f ms)\n", rtts,
              static_cast<double>(run.took.count()) / 1000.0);
  // ClientHello -> server flight -> client flight -> server Finished: two round trips.
  EXPECT_DOUBLE_EQ(rtts, 2.0);
  EXPECT_EQ(run.client_retransmissions, 0u);
  EXPECT_EQ(run.server_retransmissions, 0u);
  EXPECT_TRUE(run.data_ok);
}

TEST(DtlsSim, HandshakeOver300msRttWithTwoPercentLoss) {
  // 40 seeds over a 300 ms RTT link losing 2 % of datagrams each way.
  std::vector<double> rtts;
  uint32_t retransmissions = 0;
  uint64_t dropped = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    HandshakeRun run = run_handshake(seed, milliseconds(150), 0.02);
    ASSERT_TRUE(run.connected) << "seed " << seed;
    EXPECT_TRUE(run.data_ok) << "seed " << seed;
    rtts.push_back(round_trips(run.took, milliseconds(300)));
    retransmissions += run.client_retransmissions + run.server_retransmissions;
    dropped += run.dropped;
  }
  std::sort(rtts.begin(), rtts.end());
  double mean = 0;
  for (double r : rtts)
    mean += r;
  mean /= static_cast<double>(rtts.size());
  ::testing::Test::RecordProperty("round_trips", std::to_string(mean));
  std::printf(
      "[ round trips ] DTLS, 300 ms RTT, 2%% loss, 40 runs: mean %.2f, median %.2f, max %.2f "
      "(%u flights retransmitted, %llu datagrams lost)\n",
      mean, rtts[rtts.size() / 2], rtts.back(), retransmissions,
      static_cast<unsigned long long>(dropped));
  EXPECT_DOUBLE_EQ(rtts.front(), 2.0);
  EXPECT_LT(mean, 3.0);
}

TEST(DtlsSim, HandshakeOverGprsLikeLink) {
  // A GPRS-like path: 1 s RTT, 40 kbit/s up, 80 kbit/s down. The first retransmission timer
  // (400 ms) fires before any answer can arrive; the handshake still completes, at the price of
  // needless retransmissions, which the test counts.
  SeededRandom device_rng(91), server_rng(92);
  Certificate device_cert = Certificate::generate(device_rng, "device").value();
  Certificate server_cert = Certificate::generate(server_rng, "server").value();
  sim::Network net(9);
  sim::Attachment gprs;
  gprs.up.delay = milliseconds(500);
  gprs.up.rate_bps = 40'000;
  gprs.down.delay = milliseconds(500);
  gprs.down.rate_bps = 80'000;
  auto dn = net.add_host("device", ip("198.51.100.10"), net.internet(), gprs).value();
  auto sn = net.add_host("server", ip("203.0.113.5"), net.internet()).value();
  DtlsConfig dc{DtlsRole::client, &device_cert, server_cert.fingerprint_sha256()};
  DtlsConfig sc{DtlsRole::server, &server_cert, device_cert.fingerprint_sha256()};
  SocketAddress da(ip("198.51.100.10"), 5000), sa(ip("203.0.113.5"), 443);
  DtlsEndpoint device(dc, device_rng, da, sa), server(sc, server_rng, sa, da);
  ASSERT_TRUE(net.bind(dn, 5000, device));
  ASSERT_TRUE(net.bind(sn, 443, server));
  ASSERT_TRUE(server.transport.start(net.now()));
  ASSERT_TRUE(device.transport.start(net.now()));
  net.wake(server);
  net.wake(device);
  ASSERT_TRUE(net.run_until([&] { return device.connected_at && server.connected_at; },
                            net.now() + seconds(30)));
  double rtts = round_trips(*device.connected_at - Instant(), milliseconds(1000));
  std::printf(
      "[ round trips ] DTLS, GPRS-like (1 s RTT, 40/80 kbit/s): %.2f, retransmitted flights "
      "client %u server %u\n",
      rtts, device.transport.stats().retransmissions, server.transport.stats().retransmissions);
  EXPECT_LT(rtts, 4.0);
}

}  // namespace
}  // namespace cellrtc
