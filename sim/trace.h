// A record of everything that happens to packets in a simulated network. The digest is always
// kept (it is cheap) so a test can prove that the same seed gives the same run bit for bit;
// the event list itself is kept only when asked for, because hours of traffic make millions of
// events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/socket_address.h"
#include "core/common/time.h"

namespace cellrtc::sim {

using NodeId = uint32_t;

enum class Direction : uint8_t { up, down };  // towards the parent, towards the node

enum class DropReason : uint8_t {
  loss,           // random or Gilbert-Elliott loss on a link
  queue,          // the link's queue was full (drop-tail)
  outage,         // the link was down when the packet entered or would have left it
  nat_filter,     // a NAT refused an inbound packet (no mapping, or filtered)
  nat_exhausted,  // a NAT had no free external port for a new mapping
  no_route,       // no node owns the destination address
  no_listener,    // the destination host has nothing bound on that port
  bad_source,     // a Transmit's `from` is not bound by the endpoint that sent it
  unsupported,    // a transport the simulator does not carry yet (TCP, TLS)
};
inline constexpr size_t kDropReasonCount = 9;

const char* to_string(DropReason reason);

enum class TraceKind : uint8_t {
  sent,             // an endpoint emitted a datagram
  queued,           // a link accepted it; it will arrive at the far end
  duplicated,       // a link made an extra copy
  dropped,          // lost, with a reason
  delivered,        // handed to the endpoint bound to the destination
  mapping_created,  // NAT: src = internal address, dst = external address
  mapping_expired,  // NAT: src = internal address, dst = external address
};

const char* to_string(TraceKind kind);

struct TraceEvent {
  Instant at;
  TraceKind kind = TraceKind::sent;
  DropReason reason = DropReason::loss;  // meaningful for `dropped` only
  NodeId node = 0;                       // where: the host, NAT, or the node a link attaches
  Direction direction = Direction::up;   // which of the node's links, for link events
  bool on_link = false;                  // whether node+direction name a link
  uint64_t packet = 0;                   // packet id (copies share it); 0 for NAT events
  SocketAddress src;
  SocketAddress dst;
  uint32_t size = 0;
  uint64_t payload_hash = 0;  // FNV-1a of the payload, for `sent` only
};

class Trace {
 public:
  void set_recording(bool on) { recording_ = on; }
  bool recording() const { return recording_; }

  void record(const TraceEvent& event);

  // FNV-1a (64 bit), a 64-bit field at a time, over every event's fields, in order.
  uint64_t digest() const { return digest_; }
  uint64_t event_count() const { return count_; }
  // Only events recorded while recording was on.
  const std::vector<TraceEvent>& events() const { return events_; }
  void clear_events() { events_.clear(); }

 private:
  bool recording_ = false;
  uint64_t digest_ = 0xcbf29ce484222325ull;
  uint64_t count_ = 0;
  std::vector<TraceEvent> events_;
};

uint64_t fnv1a(const uint8_t* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull);
// The same, eight bytes (little-endian) per step: one eighth of the work for payloads.
uint64_t fnv1a_words(const uint8_t* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull);

}  // namespace cellrtc::sim
