#include "sim/trace.h"

namespace cellrtc::sim {

namespace {
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
}

const char* to_string(DropReason reason) {
  switch (reason) {
    case DropReason::loss:
      return "loss";
    case DropReason::queue:
      return "queue";
    case DropReason::outage:
      return "outage";
    case DropReason::nat_filter:
      return "nat-filter";
    case DropReason::nat_exhausted:
      return "nat-exhausted";
    case DropReason::no_route:
      return "no-route";
    case DropReason::no_listener:
      return "no-listener";
    case DropReason::bad_source:
      return "bad-source";
    case DropReason::unsupported:
      return "unsupported";
  }
  return "?";
}

const char* to_string(TraceKind kind) {
  switch (kind) {
    case TraceKind::sent:
      return "sent";
    case TraceKind::queued:
      return "queued";
    case TraceKind::duplicated:
      return "duplicated";
    case TraceKind::dropped:
      return "dropped";
    case TraceKind::delivered:
      return "delivered";
    case TraceKind::mapping_created:
      return "mapping-created";
    case TraceKind::mapping_expired:
      return "mapping-expired";
  }
  return "?";
}

uint64_t fnv1a(const uint8_t* data, size_t size, uint64_t hash) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t fnv1a_words(const uint8_t* data, size_t size, uint64_t hash) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w = 0;
    for (int k = 0; k < 8; ++k)
      w |= uint64_t{data[i + k]} << (8 * k);
    hash = (hash ^ w) * kFnvPrime;
  }
  return fnv1a(data + i, size - i, hash);
}

namespace {

// Hashes a value field by field, never through the struct's memory: padding bytes are
// indeterminate and would make the digest differ between identical runs.
class Hasher {
 public:
  explicit Hasher(uint64_t h) : h_(h) {}
  void u64(uint64_t v) { h_ = (h_ ^ v) * kFnvPrime; }
  void address(const SocketAddress& a) {
    const uint8_t* b = a.ip().data();
    uint64_t first = 0;
    for (int k = 0; k < 4; ++k)
      first |= uint64_t{b[k]} << (8 * k);
    u64(first | (uint64_t{a.port()} << 32) | (uint64_t{a.ip().is_v6()} << 48));
    if (a.ip().is_v6()) {
      uint64_t hi = 0, lo = 0;
      for (int k = 0; k < 6; ++k)
        hi |= uint64_t{b[4 + k]} << (8 * k);
      for (int k = 0; k < 6; ++k)
        lo |= uint64_t{b[10 + k]} << (8 * k);
      u64(hi);
      u64(lo);
    }
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_;
};

}  // namespace

void Trace::record(const TraceEvent& e) {
  Hasher h(digest_);
  h.u64(static_cast<uint64_t>(e.at.us()));
  h.u64((uint64_t{static_cast<uint8_t>(e.kind)} << 24) |
        (uint64_t{static_cast<uint8_t>(e.reason)} << 16) |
        (uint64_t{static_cast<uint8_t>(e.direction)} << 8) | uint64_t{e.on_link});
  h.u64(e.node);
  h.u64(e.packet);
  h.address(e.src);
  h.address(e.dst);
  h.u64(e.size);
  h.u64(e.payload_hash);
  digest_ = h.value();
  ++count_;
  if (recording_) events_.push_back(e);
}

}  // namespace cellrtc::sim
