// A deterministic, virtual-time network for whole-call simulations in one process.
//
// The topology is a tree. The root is the public internet, which routes public addresses to
// the nodes attached to it; a NAT is a router for the private realm below it. Every node but
// the root is attached to its parent by two links (up: towards the parent, down: towards the
// node), each with its own rate, delay, jitter, loss and queue.
//
//   sim::Network net(seed);
//   auto cgnat = net.add_nat("cgnat", ip("100.64.0.1"), {...}, net.internet()).value();
//   auto dev = net.add_host("device", ip("10.0.0.2"), cgnat, Attachment{up3g, down3g}).value();
//   auto addr = net.bind(dev, 5000, device_endpoint).value();
//   net.wake(device_endpoint);        // after poking it from test code
//   net.run_until([&] { return done; }, net.now() + seconds(10));
//
// Endpoints are the sans-IO objects themselves (DatagramEndpoint): the network hands them
// datagrams and timeouts, and after every call drains poll_transmit() and re-reads
// next_timeout(). Everything is single-threaded, reads no clock, and draws all randomness from
// generators derived from the seed, so the same seed and the same calls give the same trace.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "sim/link.h"
#include "sim/nat.h"
#include "sim/trace.h"

namespace cellrtc::sim {

// The two links that attach a node to its parent.
struct Attachment {
  LinkConfig up;    // node -> parent
  LinkConfig down;  // parent -> node
  static Attachment symmetric(const LinkConfig& both) { return {both, both}; }
};

class Network {
 public:
  explicit Network(uint64_t seed);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Instant now() const { return now_; }
  NodeId internet() const { return 0; }

  // `ip` must be unique among the parent's children. The parent is the internet or a NAT.
  Result<NodeId> add_host(std::string name, IpAddress ip, NodeId parent,
                          const Attachment& links = {});
  // `public_ip` is the NAT's address in the parent's realm; hosts behind it get addresses of
  // their own choosing, unique below this NAT.
  Result<NodeId> add_nat(std::string name, IpAddress public_ip, const NatConfig& config,
                         NodeId parent, const Attachment& links = {});

  // The links attaching `node` (not the internet) to its parent.
  Link& uplink(NodeId node) { return *nodes_.at(node).up; }
  Link& downlink(NodeId node) { return *nodes_.at(node).down; }
  // The translation table of a NAT node.
  const NatTable& nat(NodeId node) const { return *nodes_.at(node).nat; }
  const std::string& name(NodeId node) const { return nodes_.at(node).name; }
  IpAddress address(NodeId node) const { return nodes_.at(node).ip; }

  // Binds `endpoint` to `port` on `host` (0 picks a free ephemeral port) and wakes it. One
  // endpoint may hold several ports, on one host. It must outlive its bindings.
  Result<SocketAddress> bind(NodeId host, uint16_t port, DatagramEndpoint& endpoint);
  Status unbind(NodeId host, uint16_t port);

  // Drains and reschedules an endpoint after test code changed it directly (started ICE, queued
  // a message). No-op for an endpoint that is not bound.
  void wake(DatagramEndpoint& endpoint);

  // Runs `action` at virtual time `when` (not before now), after everything already scheduled
  // for that instant. For test scripts and scheduled link changes.
  void at(Instant when, std::function<void()> action);

  // Processes every event up to `deadline`, then sets the clock to it. Fails, and stops the
  // network for good, if a million events happen at one instant: endpoints answering each
  // other forever over zero-delay links, or a timeout that never moves forward.
  Status run_until(Instant deadline);
  Status run_for(Duration duration) { return run_until(now_ + duration); }
  // Runs until `done()` holds (checked after every event) or `deadline`; returns `done()`.
  bool run_until(const std::function<bool()>& done, Instant deadline);
  const std::optional<Error>& fault() const { return fault_; }

  Trace& trace() { return trace_; }
  uint64_t trace_digest() const { return trace_.digest(); }
  // Network-wide counts, links and nodes together.
  uint64_t dropped(DropReason reason) const { return dropped_[static_cast<size_t>(reason)]; }
  uint64_t delivered() const { return delivered_; }
  // "12.345678 dropped(loss) device/up #42 10.0.0.2:5000 -> 192.0.2.1:3478 100 B"
  std::string describe(const TraceEvent& event) const;

 private:
  struct Packet {
    uint64_t id = 0;
    SocketAddress src;
    SocketAddress dst;
    Bytes data;
  };
  enum class Kind : uint8_t { internet, host, nat };
  struct Node {
    Kind kind = Kind::internet;
    std::string name;
    IpAddress ip;
    NodeId parent = 0;
    std::unique_ptr<Link> up;
    std::unique_ptr<Link> down;
    std::map<IpAddress, NodeId> children;  // internet and NATs
    std::map<uint16_t, size_t> ports;      // hosts: port -> endpoint record
    uint16_t next_ephemeral = 49152;
    std::unique_ptr<NatTable> nat;
    bool expiry_armed = false;
  };
  struct EndpointRecord {
    DatagramEndpoint* endpoint = nullptr;
    NodeId host = 0;
    size_t ports = 0;
    std::optional<Instant> armed;  // the timeout an event is scheduled for
    uint64_t generation = 0;       // bumps cancel the scheduled timeout event
  };
  // The heap holds small entries; what to do lives in a slab of tasks, so reordering the heap
  // never moves packets or closures. Slots are reused.
  struct Event {
    Instant at;
    uint64_t seq;
    uint32_t task;
    // The heap's order, reversed because std heaps put the largest first.
    static bool later(const Event& a, const Event& b) {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  enum class TaskKind : uint8_t { action, arrival, local_delivery, timeout, nat_expiry };
  struct Task {
    TaskKind kind = TaskKind::action;
    Direction direction = Direction::up;
    NodeId node = 0;
    size_t record = 0;
    uint64_t generation = 0;
    Packet packet;
    std::function<void()> action;
  };

  Result<NodeId> add_node(Kind kind, std::string name, IpAddress ip, NodeId parent,
                          const Attachment& links);
  void drive(size_t record);
  void fire_timeout(size_t record, uint64_t generation);
  void send(size_t record, Transmit transmit);
  void forward(NodeId node, Direction direction, Packet packet);
  void arrive(NodeId node, Direction direction, Packet packet);
  void route(NodeId router, NodeId from, Packet packet);
  void nat_inbound(NodeId nat, Packet packet);
  void deliver(NodeId host, Packet packet);
  void expire_mappings(NodeId nat);
  void arm_expiry(NodeId nat);
  void drop(const Packet& packet, DropReason reason, NodeId node);
  void drop_on_link(const Packet& packet, DropReason reason, const Link& link);
  void record(TraceKind kind, const Packet& packet, NodeId node);
  void record_on_link(TraceKind kind, const Packet& packet, const Link& link);
  Task& schedule(Instant when, TaskKind kind);
  void step();

  SeededRandom rng_;  // derives one generator per link and NAT, in creation order
  Instant now_;
  uint64_t next_seq_ = 0;
  uint64_t next_packet_ = 0;
  std::vector<Event> events_;  // a min-heap on (at, seq)
  std::vector<Task> tasks_;
  std::vector<uint32_t> free_tasks_;
  std::vector<Node> nodes_;
  std::vector<EndpointRecord> records_;
  std::unordered_map<const DatagramEndpoint*, size_t> record_of_;  // lookup only, never iterated
  Trace trace_;
  std::array<uint64_t, kDropReasonCount> dropped_{};
  uint64_t delivered_ = 0;
  std::optional<Error> fault_;
  Instant busy_instant_;
  uint64_t events_at_instant_ = 0;
};

}  // namespace cellrtc::sim
