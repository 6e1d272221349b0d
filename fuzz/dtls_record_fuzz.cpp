// DTLS framing, ClientHello reassembly and the transport's glue around mbedTLS on arbitrary
// datagrams (anything on the 5-tuple whose first byte is 20..63 reaches the transport).
//
// Input: one mode byte, then datagrams, each as [time step in 100 ms units: 1 byte]
// [length: 2 bytes, big-endian][bytes]. Mode 0 runs the record and handshake-fragment readers
// and the ClientHello reassembler; mode 1 feeds a DTLS server, mode 2 a DTLS client that has sent
// its ClientHello.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/common/random.h"
#include "core/dtls/client_hello_reassembler.h"
#include "core/dtls/dtls_transport.h"
#include "core/dtls/record.h"

namespace cellrtc::dtls {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct Step {
  Duration advance;
  ByteView datagram;
};

std::vector<Step> split(ByteView input) {
  std::vector<Step> steps;
  ByteReader r(input);
  while (r.remaining() >= 3) {
    uint8_t dt = r.u8();
    uint16_t len = r.u16();
    ByteView d = r.take(std::min<size_t>(len, r.remaining()));
    steps.push_back({milliseconds(100) * dt, d});
  }
  return steps;
}

void framing(ByteView datagram) {
  // Records: what parses re-encodes to the same bytes.
  RecordReader records(datagram);
  Bytes again;
  size_t end = 0;
  while (auto r = records.next()) {
    if (!*r) {
      check(r->error().reason && r->error().reason[0]);
      break;
    }
    const Record& rec = r->value();
    check(rec.payload.size() == rec.header.length);
    write_record(again, rec.header, rec.payload);
    end = records.position();
    HandshakeReader fragments(rec.payload);
    while (auto f = fragments.next()) {
      if (!*f) break;
      const HandshakeFragment& frag = f->value();
      check(frag.fragment_offset + frag.fragment_length <= frag.length);
      check(frag.body.size() == frag.fragment_length);
      Bytes one;
      write_handshake_fragment(one, frag);
      check(one.size() == kHandshakeHeaderSize + frag.body.size());
    }
  }
  check(again.size() == end);
  for (size_t i = 0; i < end; ++i)
    check(again[i] == datagram[i]);
}

void reassemble(const std::vector<Step>& steps) {
  ClientHelloReassembler reassembler({2048, seconds(2)});
  Instant now;
  for (const Step& s : steps) {
    now += s.advance;
    framing(s.datagram);
    auto out = reassembler.process(now, s.datagram);
    if (!out) continue;
    check(out->size() <= s.datagram.size() + kRecordHeaderSize + kHandshakeHeaderSize + 2048);
    // What it hands on is well framed, and every ClientHello in it is whole.
    RecordReader records(*out);
    while (auto r = records.next()) {
      check(r->ok());
      const Record& rec = r->value();
      if (rec.header.content_type != 22 || rec.header.epoch != 0) continue;
      HandshakeReader fragments(rec.payload);
      while (auto f = fragments.next()) {
        if (!*f) break;
        if (f->value().msg_type == kClientHello) check(f->value().is_whole());
      }
    }
    if (auto d = reassembler.deadline()) check(*d > now);
  }
}

const Certificate& certificate() {
  static SeededRandom rng(1);
  static Certificate cert = Certificate::generate(rng, "fuzz").value();
  return cert;
}

void transport(DtlsRole role, const std::vector<Step>& steps) {
  SeededRandom rng(2);
  DtlsConfig config;
  config.role = role;
  config.certificate = &certificate();
  config.allow_any_fingerprint = true;
  DtlsTransport t(config, rng);
  Instant now = Instant::from_us(1'000'000);
  check(t.start(now).ok());
  auto drain = [&] {
    while (auto d = t.poll_transmit())
      check(d->size() <= config.mtu);
    while (t.poll_event()) {
    }
  };
  drain();
  for (const Step& s : steps) {
    now += s.advance;
    // Deadlines that passed meanwhile, in order, as a runtime would fire them.
    for (int i = 0; i < 16; ++i) {
      auto deadline = t.next_timeout();
      if (!deadline || *deadline > now) break;
      t.handle_timeout(*deadline);
      drain();
      // A timeout must move the deadline forward, or a runtime would spin on it.
      auto next = t.next_timeout();
      check(!next || *next > *deadline);
    }
    t.handle_datagram(now, s.datagram);
    drain();
    if (t.state() == DtlsState::connected)
      (void)t.send(now, s.datagram.first(std::min<size_t>(s.datagram.size(), 100)));
    drain();
  }
  t.close(now);
  drain();
  check(t.state() == DtlsState::closed || t.state() == DtlsState::failed);
}

}  // namespace
}  // namespace cellrtc::dtls

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellrtc::dtls;
  if (size == 0) return 0;
  auto steps = split({data + 1, size - 1});
  switch (data[0] % 3) {
    case 0:
      reassemble(steps);
      break;
    case 1:
      transport(DtlsRole::server, steps);
      break;
    case 2:
      transport(DtlsRole::client, steps);
      break;
  }
  return 0;
}
