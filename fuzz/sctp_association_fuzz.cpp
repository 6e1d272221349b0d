// Fuzzes an established SCTP association. Two associations connect in memory, then a script
// from the fuzzer's bytes feeds one of them chunks with a valid header and checksum (so the
// association logic is reached, not only the checksum test), raw packets, the peer's real
// packets (delivered, dropped, duplicated), API calls and time steps. Checks, besides memory
// errors: a deadline never stays in the past after handle_timeout, and the send buffer stays
// within its limit.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <vector>

#include "core/common/random.h"
#include "core/sctp/crc32c.h"
#include "core/sctp/sctp_association.h"
#include "core/sctp/sctp_packet.h"

using namespace cellrtc;
using namespace cellrtc::sctp;

namespace {

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  uint32_t u32() { return (uint32_t{u16()} << 16) | u16(); }
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script s(data, size);
  SeededRandom rng_a(1), rng_b(2);
  SctpConfig config;
  config.send_buffer_limit = 64 * 1024;
  config.stream_send_buffer_limit = 32 * 1024;
  config.receive_window = 32 * 1024;
  config.max_receive_message_size = 16 * 1024;
  config.remote_max_message_size = 16 * 1024;
  SctpAssociation a(config, rng_a);
  SctpAssociation b(config, rng_b);
  Instant now;
  std::deque<Bytes> to_a, to_b;
  uint32_t b_tsn = 0;  // the last TSN b sent, and b's last cumulative ack of a's data
  uint32_t a_cum = 0;
  auto collect = [&] {
    while (auto p = a.poll_transmit())
      if (to_b.size() < 256) to_b.push_back(std::move(*p));
    while (auto p = b.poll_transmit()) {
      if (auto parsed = parse_packet(*p)) {
        for (const RawChunk& c : parsed->chunks) {
          if (c.type == 0 && c.value.size() >= 4) b_tsn = load_be32(c.value.data());
          if (c.type == 3 && c.value.size() >= 4) a_cum = load_be32(c.value.data());
        }
      }
      if (to_a.size() < 256) to_a.push_back(std::move(*p));
    }
    while (a.poll_event()) {
    }
    while (b.poll_event()) {
    }
  };
  a.connect(now);
  b.connect(now);
  // The handshake, lossless.
  uint32_t a_tag = 0;  // a's own verification tag: what b's packets carry
  for (int i = 0;
       i < 20 && (a.state() != SctpState::established || b.state() != SctpState::established);
       ++i) {
    collect();
    while (!to_b.empty()) {
      b.handle_packet(now, to_b.front());
      to_b.pop_front();
    }
    collect();
    while (!to_a.empty()) {
      auto p = parse_packet(to_a.front());
      if (p && p->header.verification_tag != 0) a_tag = p->header.verification_tag;
      a.handle_packet(now, to_a.front());
      to_a.pop_front();
    }
  }
  if (a.state() != SctpState::established) std::abort();

  for (int step = 0; step < 200 && !s.done(); ++step) {
    uint8_t op = s.u8();
    switch (op % 8) {
      case 0: {  // one or more fuzzed chunks under a valid header and checksum
        PacketBuilder pb(5000, 5000, (op & 0x80) ? s.u32() : a_tag, kMaxPacketSize);
        int chunks = 1 + (s.u8() % 4);
        Bytes raw;
        for (int c = 0; c < chunks; ++c) {
          uint8_t type = s.u8();
          uint8_t flags = s.u8();
          ByteView taken = s.take(s.u8());
          Bytes value(taken.begin(), taken.end());
          // Make TSN fields land near the live ones, where the logic is.
          if ((op & 0x40) && value.size() >= 4) {
            uint32_t base = type == 0 ? b_tsn : a_cum;
            store_be32(value.data(), base + static_cast<uint32_t>(static_cast<int8_t>(flags)));
          }
          raw.push_back(type);
          raw.push_back(flags);
          raw.push_back(static_cast<uint8_t>((value.size() + 4) >> 8));
          raw.push_back(static_cast<uint8_t>(value.size() + 4));
          raw.insert(raw.end(), value.begin(), value.end());
          while (raw.size() % 4)
            raw.push_back(0);
        }
        Bytes packet = pb.finish();
        packet.insert(packet.end(), raw.begin(), raw.end());
        write_sctp_checksum(packet);
        a.handle_packet(now, packet);
        break;
      }
      case 1:  // raw bytes
        a.handle_packet(now, s.take(s.u8()));
        break;
      case 2: {  // the peer's packets: delivered, dropped or duplicated
        uint8_t fate = s.u8();
        if (!to_a.empty()) {
          if (fate % 3 != 1) a.handle_packet(now, to_a.front());
          if (fate % 3 == 2) a.handle_packet(now, to_a.front());
          to_a.pop_front();
        }
        if (!to_b.empty()) {
          if (fate % 5 != 1) b.handle_packet(now, to_b.front());
          to_b.pop_front();
        }
        break;
      }
      case 3: {  // time passes
        now += Duration(static_cast<int64_t>(s.u16()) * 1000);
        a.handle_timeout(now);
        b.handle_timeout(now);
        auto next = a.next_timeout();
        if (next && *next <= now) std::abort();
        break;
      }
      case 4: {  // sends
        SendOptions o;
        uint8_t f = s.u8();
        o.unordered = f & 1;
        if (f & 2) o.max_retransmits = static_cast<uint16_t>(s.u8() % 4);
        if (f & 4) o.max_lifetime = milliseconds(s.u8() * 10);
        Bytes m(static_cast<size_t>(s.u16() % 20000) + 1, f);
        (void)a.send(now, static_cast<uint16_t>(s.u8() % 8), 51, m, o);
        if (f & 8) (void)b.send(now, static_cast<uint16_t>(s.u8() % 8), 51, m, o);
        break;
      }
      case 5: {
        uint16_t streams[2] = {static_cast<uint16_t>(s.u8() % 8), static_cast<uint16_t>(s.u8())};
        (void)((op & 0x10) ? a : b).reset_streams(now, std::span<const uint16_t>(streams, 2));
        break;
      }
      case 6:
        if (op & 0x40) {
          a.shutdown(now);
        } else if (op & 0x20) {
          b.abort(now, "fuzz");
        } else {
          a.set_buffered_amount_low_threshold(s.u8() % 8, s.u16());
        }
        break;
      case 7:
        (void)a.stats();
        break;
    }
    if (a.stats().buffered_amount > config.send_buffer_limit) std::abort();
    collect();
  }
  return 0;
}
