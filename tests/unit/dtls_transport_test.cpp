#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <mbedtls/ssl.h>

#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/common/random.h"
#include "core/dtls/dtls_transport.h"
#include "core/dtls/record.h"
#include "support/mbedtls_wall_clock.h"

namespace cellrtc::dtls {
namespace {

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

struct Side {
  std::vector<DtlsEvent> events;
  template <class T>
  const T* find() const {
    for (const DtlsEvent& e : events)
      if (auto* p = std::get_if<T>(&e)) return p;
    return nullptr;
  }
  std::vector<Bytes> data() const {
    std::vector<Bytes> out;
    for (const DtlsEvent& e : events)
      if (auto* d = std::get_if<event::Data>(&e)) out.push_back(d->data);
    return out;
  }
};

// Two transports wired back to back in memory, with zero latency, under virtual time. A filter
// may drop (or rewrite) datagrams on the way.
class DtlsPair {
 public:
  using Filter = std::function<bool(bool from_client, size_t index, const Bytes& datagram)>;

  explicit DtlsPair(uint64_t seed = 1)
      : client_rng_(seed * 2 + 1),
        server_rng_(seed * 2 + 2),
        client_cert_(Certificate::generate(client_rng_, "client").value()),
        server_cert_(Certificate::generate(server_rng_, "server").value()) {}

  DtlsConfig config(DtlsRole role) const {
    DtlsConfig cfg;
    cfg.role = role;
    cfg.certificate = role == DtlsRole::client ? &client_cert_ : &server_cert_;
    cfg.remote_fingerprint = role == DtlsRole::client ? server_cert_.fingerprint_sha256()
                                                      : client_cert_.fingerprint_sha256();
    return cfg;
  }

  void create(DtlsConfig client_config, DtlsConfig server_config) {
    client = std::make_unique<DtlsTransport>(std::move(client_config), client_rng_);
    server = std::make_unique<DtlsTransport>(std::move(server_config), server_rng_);
  }
  void create() { create(config(DtlsRole::client), config(DtlsRole::server)); }

  void start() {
    ASSERT_TRUE(server->start(now));
    ASSERT_TRUE(client->start(now));
    pump();
  }

  // Moves datagrams both ways until neither side has anything to send.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (auto d = client->poll_transmit()) {
        moved = true;
        size_t i = client_sent++;
        client_datagrams.push_back(*d);
        if (filter && !filter(true, i, *d)) continue;
        server->handle_datagram(now, *d);
      }
      while (auto d = server->poll_transmit()) {
        moved = true;
        size_t i = server_sent++;
        server_datagrams.push_back(*d);
        if (filter && !filter(false, i, *d)) continue;
        client->handle_datagram(now, *d);
      }
      collect();
      if (!moved) return;
    }
    FAIL() << "the transports never went quiet";
  }

  void collect() {
    while (auto e = client->poll_event())
      c.events.push_back(std::move(*e));
    while (auto e = server->poll_event())
      s.events.push_back(std::move(*e));
  }

  // Advances virtual time from deadline to deadline until `done` or `limit` has passed.
  bool run_until(const std::function<bool()>& done, Duration limit) {
    Instant end = now + limit;
    pump();
    while (!done()) {
      auto t = earliest(client->next_timeout(), server->next_timeout());
      if (!t || *t > end) return done();
      now = std::max(now, *t);
      client->handle_timeout(now);
      server->handle_timeout(now);
      pump();
    }
    return true;
  }
  bool connected() const {
    return client->state() == DtlsState::connected && server->state() == DtlsState::connected;
  }

  SeededRandom client_rng_;
  SeededRandom server_rng_;
  Certificate client_cert_;
  Certificate server_cert_;
  std::unique_ptr<DtlsTransport> client;
  std::unique_ptr<DtlsTransport> server;
  Instant now = Instant::from_us(1'000'000);
  Filter filter;
  Side c, s;
  size_t client_sent = 0, server_sent = 0;
  std::vector<Bytes> client_datagrams, server_datagrams;
};

TEST(DtlsTransport, HandshakeAndApplicationDataBothWays) {
  DtlsPair p;
  p.create();
  p.start();
  ASSERT_TRUE(p.connected()) << to_string(p.client->state()) << " " << to_string(p.server->state());
  auto* cc = p.c.find<event::Connected>();
  auto* sc = p.s.find<event::Connected>();
  ASSERT_TRUE(cc && sc);
  EXPECT_EQ(cc->remote_fingerprint, p.server_cert_.fingerprint_sha256());
  EXPECT_EQ(sc->remote_fingerprint, p.client_cert_.fingerprint_sha256());
  EXPECT_EQ(cc->cipher_suite, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
  EXPECT_EQ(cc->cipher_suite, sc->cipher_suite);
  // One round trip for ClientHello / server flight, one for the client's keys / Finished.
  EXPECT_EQ(p.client->stats().flights_sent, 2u);
  EXPECT_EQ(p.server->stats().flights_sent, 2u);
  EXPECT_EQ(p.client->stats().retransmissions, 0u);
  EXPECT_EQ(p.client->next_timeout(), std::nullopt);
  EXPECT_EQ(p.server->next_timeout(), std::nullopt);
  for (const Bytes& d : p.client_datagrams)
    EXPECT_LE(d.size(), 1200u);
  for (const Bytes& d : p.server_datagrams)
    EXPECT_LE(d.size(), 1200u);

  ASSERT_TRUE(p.client->send(p.now, bytes_of("hello server")));
  ASSERT_TRUE(p.server->send(p.now, bytes_of("hello client")));
  // A full-size record arrives as one Data event.
  auto max = p.client->max_payload();
  ASSERT_TRUE(max);
  EXPECT_GE(*max, 1150u);
  EXPECT_LT(*max, 1200u);
  Bytes big(*max, 0x5a);
  ASSERT_TRUE(p.client->send(p.now, big));
  Bytes too_big(*max + 1, 1);
  auto refused = p.client->send(p.now, too_big);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::limit_exceeded);
  p.pump();
  auto at_server = p.s.data();
  ASSERT_EQ(at_server.size(), 2u);
  EXPECT_EQ(at_server[0], bytes_of("hello server"));
  EXPECT_EQ(at_server[1], big);
  auto at_client = p.c.data();
  ASSERT_EQ(at_client.size(), 1u);
  EXPECT_EQ(at_client[0], bytes_of("hello client"));
}

// The use_srtp extension (RFC 5764 section 4.1.1) as it appears in a hello: type 14, length 5,
// a profile list of 2 bytes holding SRTP_AES128_CM_HMAC_SHA1_80 (0x0001), an empty MKI.
bool has_use_srtp(const Bytes& datagram) {
  const Bytes ext = {0x00, 0x0e, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00};
  return std::search(datagram.begin(), datagram.end(), ext.begin(), ext.end()) != datagram.end();
}

TEST(DtlsTransport, NegotiatesAnSrtpProfileOnlyWhenAsked) {
  DtlsPair plain;
  plain.create();
  plain.start();
  ASSERT_TRUE(plain.connected());
  EXPECT_FALSE(has_use_srtp(plain.client_datagrams.at(0)));
  EXPECT_FALSE(has_use_srtp(plain.server_datagrams.at(0)));

  DtlsPair p;
  DtlsConfig client = p.config(DtlsRole::client);
  DtlsConfig server = p.config(DtlsRole::server);
  client.negotiate_srtp_profile = true;
  server.negotiate_srtp_profile = true;
  p.create(std::move(client), std::move(server));
  p.start();
  ASSERT_TRUE(p.connected());
  EXPECT_TRUE(has_use_srtp(p.client_datagrams.at(0)));  // offered in the ClientHello
  EXPECT_TRUE(has_use_srtp(p.server_datagrams.at(0)));  // selected in the ServerHello

  // A client that offers it to a server that does not want it still connects, without it.
  DtlsPair one;
  DtlsConfig offering = one.config(DtlsRole::client);
  offering.negotiate_srtp_profile = true;
  one.create(std::move(offering), one.config(DtlsRole::server));
  one.start();
  ASSERT_TRUE(one.connected());
  EXPECT_TRUE(has_use_srtp(one.client_datagrams.at(0)));
  EXPECT_FALSE(has_use_srtp(one.server_datagrams.at(0)));
}

TEST(DtlsTransport, ClientCanAlsoBeTheSideThatStartsLast) {
  // The server may start after the client's ClientHello arrived (ICE connected on the client
  // first): early datagrams wait for start().
  DtlsPair p;
  p.create();
  ASSERT_TRUE(p.client->start(p.now));
  while (auto d = p.client->poll_transmit())
    p.server->handle_datagram(p.now, *d);
  ASSERT_TRUE(p.server->start(p.now));
  p.pump();
  EXPECT_TRUE(p.connected());
}

TEST(DtlsTransport, EarlyDatagramTooLargeForTheLibraryIsSkipped) {
  DtlsPair p;
  p.create();
  ASSERT_TRUE(p.client->start(p.now));
  Bytes huge(40000, 0);
  huge[0] = 22;  // looks like DTLS, but no record buffer holds it
  p.server->handle_datagram(p.now, huge);
  while (auto d = p.client->poll_transmit())
    p.server->handle_datagram(p.now, *d);
  ASSERT_TRUE(p.server->start(p.now));
  p.pump();
  EXPECT_TRUE(p.connected());
}

TEST(DtlsTransport, FingerprintMismatchFailsWithAClearReason) {
  DtlsPair p;
  auto client = p.config(DtlsRole::client);
  client.remote_fingerprint = p.client_cert_.fingerprint_sha256();  // not the server's
  p.create(client, p.config(DtlsRole::server));
  p.start();
  EXPECT_EQ(p.client->state(), DtlsState::failed);
  auto* f = p.c.find<event::Failed>();
  ASSERT_TRUE(f);
  EXPECT_NE(std::string(f->reason).find("fingerprint"), std::string::npos) << f->reason;
  EXPECT_EQ(p.client->remote_fingerprint(), p.server_cert_.fingerprint_sha256());
  // The client's fatal alert ends the server too.
  EXPECT_EQ(p.server->state(), DtlsState::failed);
  EXPECT_TRUE(p.s.find<event::Failed>());
  EXPECT_FALSE(p.c.find<event::Connected>());
  EXPECT_FALSE(p.s.find<event::Connected>());
}

TEST(DtlsTransport, ServerChecksTheClientFingerprintToo) {
  DtlsPair p;
  auto server = p.config(DtlsRole::server);
  server.remote_fingerprint = p.server_cert_.fingerprint_sha256();
  p.create(p.config(DtlsRole::client), server);
  p.start();
  EXPECT_EQ(p.server->state(), DtlsState::failed);
  auto* f = p.s.find<event::Failed>();
  ASSERT_TRUE(f);
  EXPECT_NE(std::string(f->reason).find("fingerprint"), std::string::npos) << f->reason;
  EXPECT_EQ(p.client->state(), DtlsState::failed);
  EXPECT_FALSE(p.s.find<event::Connected>());
}

TEST(DtlsTransport, FingerprintComparisonIgnoresCase) {
  DtlsPair p;
  auto client = p.config(DtlsRole::client);
  std::transform(client.remote_fingerprint.begin(), client.remote_fingerprint.end(),
                 client.remote_fingerprint.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  p.create(client, p.config(DtlsRole::server));
  p.start();
  EXPECT_TRUE(p.connected());
}

TEST(DtlsTransport, StartRefusesWithoutFingerprintOrCertificate) {
  SeededRandom rng(3);
  auto cert = Certificate::generate(rng, "x").value();
  DtlsConfig c;
  c.certificate = &cert;
  DtlsTransport no_fp(c, rng);
  EXPECT_FALSE(no_fp.start(Instant()));
  c.certificate = nullptr;
  c.allow_any_fingerprint = true;
  DtlsTransport no_cert(c, rng);
  EXPECT_FALSE(no_cert.start(Instant()));
  c.certificate = &cert;
  DtlsTransport ok(c, rng);
  EXPECT_TRUE(ok.start(Instant()));
  EXPECT_FALSE(ok.start(Instant()));
  EXPECT_TRUE(ok.poll_transmit());  // the ClientHello
}

TEST(DtlsTransport, CloseNotifyGivesClosedAtThePeer) {
  DtlsPair p;
  p.create();
  p.start();
  ASSERT_TRUE(p.connected());
  p.client->close(p.now);
  EXPECT_EQ(p.client->state(), DtlsState::closed);
  p.pump();
  EXPECT_EQ(p.server->state(), DtlsState::closed);
  EXPECT_TRUE(p.s.find<event::Closed>());
  EXPECT_FALSE(p.c.find<event::Closed>());  // our own close raises no event
  EXPECT_FALSE(p.server->send(p.now, bytes_of("late")));
  EXPECT_FALSE(p.client->send(p.now, bytes_of("late")));
}

TEST(DtlsTransport, RetransmitsWhenFirstFlightsAreLost) {
  DtlsPair p;
  p.create();
  // Lose the first ClientHello and the server's first answer.
  p.filter = [](bool from_client, size_t index, const Bytes&) {
    if (from_client) return index != 0;
    return index != 0;
  };
  Instant t0 = p.now;
  p.start();
  EXPECT_FALSE(p.connected());
  ASSERT_TRUE(p.run_until([&] { return p.connected(); }, seconds(30)));
  // ClientHello lost: the client resends it after 400 ms. The server's answer is lost: the
  // server's own timer (400 ms) resends it before the client's (now 800 ms) fires.
  EXPECT_EQ(p.now - t0, milliseconds(800));
  EXPECT_EQ(p.client->stats().retransmissions, 1u);
  EXPECT_EQ(p.server->stats().retransmissions, 1u);
  EXPECT_EQ(p.client->stats().flights_sent, 3u);
  EXPECT_EQ(p.server->stats().flights_sent, 3u);
  EXPECT_EQ(*p.client->stats().handshake_completed - *p.client->stats().handshake_started,
            milliseconds(800));
}

TEST(DtlsTransport, ServerRepeatsItsFinalFlightWhenTheClientMissesIt) {
  DtlsPair p;
  p.create();
  // The server's second flight (ChangeCipherSpec, Finished) is lost once: the server is done,
  // the client retransmits its flight, and the server answers with its final flight again.
  p.filter = [](bool from_client, size_t index, const Bytes& d) {
    return from_client || !(index == 1 && d[0] == 20);
  };
  p.start();
  EXPECT_EQ(p.server->state(), DtlsState::connected);
  EXPECT_EQ(p.client->state(), DtlsState::handshaking);
  ASSERT_TRUE(p.run_until([&] { return p.connected(); }, seconds(30)));
  EXPECT_EQ(p.server->stats().retransmissions, 1u);
  ASSERT_TRUE(p.client->send(p.now, bytes_of("after")));
  p.pump();
  ASSERT_EQ(p.s.data().size(), 1u);
}

TEST(DtlsTransport, GivesUpAfterTheLastRetransmission) {
  DtlsPair p;
  p.create();
  p.filter = [](bool, size_t, const Bytes&) { return false; };  // a black hole
  Instant t0 = p.now;
  p.start();
  p.run_until([&] { return p.client->state() == DtlsState::failed; }, seconds(120));
  ASSERT_EQ(p.client->state(), DtlsState::failed);
  auto* f = p.c.find<event::Failed>();
  ASSERT_TRUE(f);
  EXPECT_NE(std::string(f->reason).find("timed out"), std::string::npos) << f->reason;
  // 400 ms doubling to 12.8 s: 6 transmissions, given up 25.2 s after the first.
  EXPECT_EQ(p.client_datagrams.size(), 6u);
  EXPECT_EQ(p.now - t0, milliseconds(400 + 800 + 1600 + 3200 + 6400 + 12800));
  EXPECT_EQ(p.client->next_timeout(), std::nullopt);
}

TEST(DtlsTransport, IgnoresWhatIsNotDtls) {
  DtlsPair p;
  p.create();
  p.start();
  ASSERT_TRUE(p.connected());
  const uint8_t stun[] = {0, 1, 0, 0};
  const uint8_t rtp[] = {0x80, 0x60};
  p.server->handle_datagram(p.now, stun);
  p.server->handle_datagram(p.now, rtp);
  p.server->handle_datagram(p.now, {});
  EXPECT_EQ(p.server->stats().not_dtls, 3u);
  EXPECT_EQ(p.server->state(), DtlsState::connected);
  // Garbage that looks like DTLS is discarded by the record layer.
  const uint8_t junk[] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3};
  p.server->handle_datagram(p.now, junk);
  EXPECT_EQ(p.server->state(), DtlsState::connected);
  ASSERT_TRUE(p.client->send(p.now, bytes_of("still fine")));
  p.pump();
  EXPECT_EQ(p.s.data().size(), 1u);
}

TEST(DtlsTransport, SendBeforeConnectedFails) {
  DtlsPair p;
  p.create();
  auto r = p.client->send(p.now, bytes_of("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_state);
}

// Splits a datagram holding one whole ClientHello record into `n` fragments, each in its own
// record numbered from `first_seq`.
std::vector<Bytes> split_client_hello(const Bytes& datagram, size_t n, uint64_t first_seq) {
  RecordReader records(datagram);
  auto rec = records.next();
  EXPECT_TRUE(rec && *rec);
  const Record& r = rec->value();
  HandshakeReader hs(r.payload);
  auto f = hs.next();
  EXPECT_TRUE(f && *f);
  const HandshakeFragment& whole = f->value();
  EXPECT_EQ(whole.msg_type, kClientHello);
  EXPECT_TRUE(whole.is_whole());
  std::vector<Bytes> out;
  uint32_t step = static_cast<uint32_t>((whole.length + n - 1) / n);
  for (uint32_t off = 0, i = 0; off < whole.length; off += step, ++i) {
    HandshakeFragment part = whole;
    part.fragment_offset = off;
    part.fragment_length = std::min(step, whole.length - off);
    part.body = whole.body.subspan(off, part.fragment_length);
    Bytes payload;
    write_handshake_fragment(payload, part);
    RecordHeader h = r.header;
    h.sequence = first_seq + i;
    Bytes record;
    write_record(record, h, payload);
    out.push_back(std::move(record));
  }
  return out;
}

TEST(DtlsTransport, ServerReassemblesAFragmentedClientHello) {
  DtlsPair p;
  p.create();
  ASSERT_TRUE(p.server->start(p.now));
  ASSERT_TRUE(p.client->start(p.now));
  auto hello = p.client->poll_transmit();
  ASSERT_TRUE(hello);
  ASSERT_FALSE(p.client->poll_transmit());
  // Seven fragments in records 0..6, sent as four datagrams out of order: {5,6}, {2}, {0,3},
  // {4,1}, and fragment 3 again as a duplicate.
  auto parts = split_client_hello(*hello, 7, 0);
  ASSERT_EQ(parts.size(), 7u);
  auto cat = [](std::initializer_list<const Bytes*> list) {
    Bytes d;
    for (const Bytes* b : list)
      d.insert(d.end(), b->begin(), b->end());
    return d;
  };
  std::vector<Bytes> datagrams = {cat({&parts[5], &parts[6]}), cat({&parts[2]}), cat({&parts[3]}),
                                  cat({&parts[0], &parts[3]}), cat({&parts[4], &parts[1]})};
  for (size_t i = 0; i < datagrams.size(); ++i) {
    p.server->handle_datagram(p.now, datagrams[i]);
    if (i + 1 < datagrams.size()) {
      EXPECT_FALSE(p.server->poll_transmit().has_value()) << i;
    }
  }
  EXPECT_EQ(p.server->stats().client_hello.reassembled, 1u);
  EXPECT_EQ(p.server->stats().client_hello.fragments, 8u);
  p.pump();
  ASSERT_TRUE(p.connected()) << to_string(p.server->state());
  EXPECT_EQ(p.server->stats().retransmissions, 0u);
  ASSERT_TRUE(p.client->send(p.now, bytes_of("through")));
  p.pump();
  EXPECT_EQ(p.s.data().size(), 1u);
}

TEST(DtlsTransport, FragmentedClientHelloSurvivesLossOfAFragment) {
  // One fragment lost: the client's retransmission (fragmented the same way by the filter)
  // completes the message, as a fragmenting peer's would.
  DtlsPair p;
  p.create();
  uint64_t next_seq = 0;
  int hellos = 0;
  p.filter = [&](bool from_client, size_t, const Bytes& d) {
    if (!from_client || d[0] != 22 || d[3] != 0 || d[4] != 0) return true;
    RecordReader rr(d);
    auto rec = rr.next();
    if (!rec || !*rec) return true;
    HandshakeReader hr(rec->value().payload);
    auto f = hr.next();
    if (!f || !*f || f->value().msg_type != kClientHello) return true;
    ++hellos;
    auto parts = split_client_hello(d, 3, next_seq);
    next_seq += parts.size();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (hellos == 1 && i == 1) continue;  // lost
      p.server->handle_datagram(p.now, parts[i]);
    }
    return false;  // delivered in pieces above
  };
  p.start();
  ASSERT_TRUE(p.run_until([&] { return p.connected(); }, seconds(10)));
  EXPECT_EQ(hellos, 2);
  EXPECT_EQ(p.server->stats().client_hello.reassembled, 1u);
}

TEST(DtlsTransport, SameSeedsSameBytes) {
  // Every random byte comes from the injected Random, but mbedTLS (with MBEDTLS_HAVE_TIME, as
  // Debian and ESP-IDF build it) writes the wall-clock time into the first four bytes of each
  // hello's random (RFC 5246 section 7.4.1.2), and the randoms enter the keys and what the
  // ECDSA signature signs (whose DER length varies with it). With that clock held still (see
  // mbedtls_wall_clock.h), two handshakes from the same seeds are the same bytes.
  cellrtc::testing::MbedtlsWallClock frozen([] { return Instant::from_us(0); },
                                            Instant::from_us(0));
  auto datagrams = [] {
    DtlsPair p(5);
    p.create();
    p.start();
    EXPECT_TRUE(p.connected());
    std::vector<Bytes> all = p.client_datagrams;
    all.emplace_back();
    all.insert(all.end(), p.server_datagrams.begin(), p.server_datagrams.end());
    return all;
  };
  EXPECT_EQ(datagrams(), datagrams());
}

TEST(DtlsTransport, ReportsHeapPerConnection) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  DtlsPair p;
  size_t before = mallinfo2().uordblks;
  p.create();
  size_t created = mallinfo2().uordblks;
  ASSERT_TRUE(p.server->start(p.now));
  ASSERT_TRUE(p.client->start(p.now));
  size_t started = mallinfo2().uordblks;
  p.pump();
  ASSERT_TRUE(p.connected());
  p.c.events.clear();
  p.s.events.clear();
  size_t connected = mallinfo2().uordblks;
  // Two transports: halve for one connection.
  std::printf(
      "[ heap ] per DTLS connection (mbedTLS IN/OUT content %d/%d): constructed %zu B, "
      "started %zu B, connected %zu B\n",
      MBEDTLS_SSL_IN_CONTENT_LEN, MBEDTLS_SSL_OUT_CONTENT_LEN, (created - before) / 2,
      (started - before) / 2, (connected - before) / 2);
  EXPECT_LT((connected - before) / 2, 128u * 1024);
#else
  GTEST_SKIP() << "needs glibc's mallinfo2 without a sanitizer allocator";
#endif
}

}  // namespace
}  // namespace cellrtc::dtls
