// Relay::handle_datagram on arbitrary input: the script interleaves raw datagrams (from a
// learned path or from strangers), well-signed ICE checks for the relay's sessions built from
// fuzzer bytes (so a source address is learned and later datagrams reach the session's
// DTLS/SCTP stack), and time steps. Besides memory errors it checks that handle_timeout leaves
// no deadline in the past.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "core/stun/stun_message.h"
#include "relay_fuzz_setup.h"

using namespace cellrtc;

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
  fuzz::RelayUnderTest r(s.u8());
  const auto& fixtures = fuzz::RelayUnderTest::fixtures();
  for (int step = 0; step < 128 && !s.done(); ++step) {
    uint8_t op = s.u8();
    // Four source addresses: the ones ICE checks come from become the sessions' paths.
    SocketAddress from(IpAddress::v4(198, 51, 100, static_cast<uint8_t>(1 + ((op >> 4) & 3))),
                       6000);
    switch (op % 4) {
      case 0: {  // a raw datagram (STUN, DTLS or anything else, by its first byte)
        uint16_t n = static_cast<uint16_t>(s.u16() % 1500);
        r.relay.handle_datagram(r.now, r.media, from, s.take(n));
        break;
      }
      case 1: {  // a signed check for one of the sessions
        uint8_t flags = s.u8();
        const auto& session = (flags & 1) ? r.viewer : r.device;
        stun::TransactionId tid{};
        for (auto& b : tid)
          b = s.u8();
        stun::MessageBuilder b(stun::Method::binding, stun::Class::request, tid);
        b.add_username((flags & 2) ? session.local_ufrag + ":" + fixtures.offer_ufrag
                                   : session.local_ufrag + ":x");
        b.add_priority(s.u32());
        if (flags & 4) b.add_use_candidate();
        if (flags & 8) b.add_ice_controlling(uint64_t{s.u32()} << 32 | s.u32());
        if (flags & 16) b.add_ice_controlled(s.u32());
        Bytes msg = std::move(b).finish_with_integrity(as_bytes(session.local_pwd), flags & 32);
        r.relay.handle_datagram(r.now, r.media, from, msg);
        break;
      }
      case 2: {  // a DTLS-looking record (RFC 7983 first byte 20..63) with fuzzed contents
        Bytes record{static_cast<uint8_t>(20 + s.u8() % 44), 0xfe, 0xfd};
        ByteView rest = s.take(s.u16() % 1400);
        record.insert(record.end(), rest.begin(), rest.end());
        r.relay.handle_datagram(r.now, r.media, from, record);
        break;
      }
      case 3:  // time passes
        r.advance(Duration(int64_t{s.u16()} * 1000));
        continue;
    }
    r.drain();
  }
  return 0;
}
