#include "sim/network.h"

#include <algorithm>
#include <cstdio>

namespace cellrtc::sim {

namespace {

// A run that spends this many events on one instant is not going anywhere.
constexpr uint64_t kMaxEventsPerInstant = 1'000'000;

}  // namespace

Network::Network(uint64_t seed) : rng_(seed) {
  Node root;
  root.kind = Kind::internet;
  root.name = "internet";
  nodes_.push_back(std::move(root));
}

Result<NodeId> Network::add_node(Kind kind, std::string name, IpAddress ip, NodeId parent,
                                 const Attachment& links) {
  if (parent >= nodes_.size() || nodes_[parent].kind == Kind::host)
    return Error{Errc::invalid_argument, "parent must be the internet or a NAT"};
  if (ip.is_unspecified()) return Error{Errc::invalid_argument, "node address is unspecified"};
  if (nodes_[parent].children.contains(ip) ||
      (nodes_[parent].kind == Kind::nat && nodes_[parent].ip == ip))
    return Error{Errc::invalid_argument, "address already used in the parent's realm"};
  auto id = static_cast<NodeId>(nodes_.size());
  Node n;
  n.kind = kind;
  n.name = std::move(name);
  n.ip = ip;
  n.parent = parent;
  n.up = std::make_unique<Link>(*this, rng_.next(), links.up, id, Direction::up);
  n.down = std::make_unique<Link>(*this, rng_.next(), links.down, id, Direction::down);
  nodes_[parent].children.emplace(ip, id);
  nodes_.push_back(std::move(n));
  return id;
}

Result<NodeId> Network::add_host(std::string name, IpAddress ip, NodeId parent,
                                 const Attachment& links) {
  return add_node(Kind::host, std::move(name), ip, parent, links);
}

Result<NodeId> Network::add_nat(std::string name, IpAddress public_ip, const NatConfig& config,
                                NodeId parent, const Attachment& links) {
  if (config.last_port < config.first_port)
    return Error{Errc::invalid_argument, "NAT port range is empty"};
  auto id = add_node(Kind::nat, std::move(name), public_ip, parent, links);
  if (!id) return id;
  nodes_[*id].nat = std::make_unique<NatTable>(config, rng_.next());
  return id;
}

Result<SocketAddress> Network::bind(NodeId host, uint16_t port, DatagramEndpoint& endpoint) {
  if (host >= nodes_.size() || nodes_[host].kind != Kind::host)
    return Error{Errc::invalid_argument, "bind needs a host node"};
  Node& h = nodes_[host];
  auto it = record_of_.find(&endpoint);
  if (it != record_of_.end() && records_[it->second].host != host)
    return Error{Errc::invalid_argument, "endpoint is already bound on another host"};
  if (port == 0) {
    // Ephemeral ports in the IANA dynamic range, handed out in order so runs repeat.
    for (int tries = 0; tries < 16384 && port == 0; ++tries) {
      uint16_t candidate = h.next_ephemeral;
      h.next_ephemeral = candidate == 65535 ? 49152 : static_cast<uint16_t>(candidate + 1);
      if (!h.ports.contains(candidate)) port = candidate;
    }
    if (port == 0) return Error{Errc::limit_exceeded, "no free ephemeral port"};
  } else if (h.ports.contains(port)) {
    return Error{Errc::invalid_state, "port already bound"};
  }
  size_t index;
  if (it != record_of_.end()) {
    index = it->second;
  } else {
    index = records_.size();
    EndpointRecord r;
    r.endpoint = &endpoint;
    r.host = host;
    records_.push_back(r);
    record_of_.emplace(&endpoint, index);
  }
  ++records_[index].ports;
  h.ports.emplace(port, index);
  drive(index);
  return SocketAddress(h.ip, port);
}

Status Network::unbind(NodeId host, uint16_t port) {
  if (host >= nodes_.size() || nodes_[host].kind != Kind::host)
    return Error{Errc::invalid_argument, "unbind needs a host node"};
  auto it = nodes_[host].ports.find(port);
  if (it == nodes_[host].ports.end()) return Error{Errc::not_found, "port not bound"};
  EndpointRecord& r = records_[it->second];
  nodes_[host].ports.erase(it);
  if (--r.ports == 0) {
    // Forgotten entirely: its pending timeout is cancelled and the object may be destroyed.
    ++r.generation;
    r.armed.reset();
    record_of_.erase(r.endpoint);
    r.endpoint = nullptr;
  }
  return {};
}

void Network::wake(DatagramEndpoint& endpoint) {
  auto it = record_of_.find(&endpoint);
  if (it != record_of_.end()) drive(it->second);
}

void Network::at(Instant when, std::function<void()> action) {
  schedule(when, TaskKind::action).action = std::move(action);
}

Network::Task& Network::schedule(Instant when, TaskKind kind) {
  uint32_t slot;
  if (free_tasks_.empty()) {
    slot = static_cast<uint32_t>(tasks_.size());
    tasks_.emplace_back();
  } else {
    slot = free_tasks_.back();
    free_tasks_.pop_back();
  }
  events_.push_back({std::max(when, now_), next_seq_++, slot});
  std::push_heap(events_.begin(), events_.end(), Event::later);
  Task& t = tasks_[slot];
  t.kind = kind;
  return t;
}

void Network::step() {
  std::pop_heap(events_.begin(), events_.end(), Event::later);
  Event e = events_.back();
  events_.pop_back();
  if (e.at == busy_instant_) {
    if (++events_at_instant_ > kMaxEventsPerInstant) {
      fault_ = Error{Errc::limit_exceeded, "a million events at one instant: the run is stuck"};
      return;
    }
  } else {
    busy_instant_ = e.at;
    events_at_instant_ = 1;
  }
  now_ = e.at;
  // Moved out first: running it may schedule more tasks and grow the slab.
  Task t = std::move(tasks_[e.task]);
  tasks_[e.task].action = nullptr;
  free_tasks_.push_back(e.task);
  switch (t.kind) {
    case TaskKind::action:
      t.action();
      break;
    case TaskKind::arrival:
      arrive(t.node, t.direction, std::move(t.packet));
      break;
    case TaskKind::local_delivery:
      deliver(t.node, std::move(t.packet));
      break;
    case TaskKind::timeout:
      fire_timeout(t.record, t.generation);
      break;
    case TaskKind::nat_expiry:
      nodes_[t.node].expiry_armed = false;
      expire_mappings(t.node);
      arm_expiry(t.node);
      break;
  }
}

Status Network::run_until(Instant deadline) {
  while (!fault_ && !events_.empty() && events_.front().at <= deadline)
    step();
  if (fault_) return *fault_;
  now_ = std::max(now_, deadline);
  return {};
}

bool Network::run_until(const std::function<bool()>& done, Instant deadline) {
  if (done()) return true;
  while (!fault_ && !events_.empty() && events_.front().at <= deadline) {
    step();
    if (done()) return true;
  }
  if (!fault_) now_ = std::max(now_, deadline);
  return done();
}

// ---- endpoints ----

void Network::drive(size_t index) {
  // Indices stay valid while endpoints run: records_ only grows, and only from bind(), which
  // an endpoint cannot call. The pointer is re-read after each call in case of unbind().
  while (records_[index].endpoint) {
    auto t = records_[index].endpoint->poll_transmit();
    if (!t) break;
    send(index, std::move(*t));
  }
  EndpointRecord& r = records_[index];
  if (!r.endpoint) return;
  std::optional<Instant> next = r.endpoint->next_timeout();
  if (next && *next < now_) next = now_;
  if (next == r.armed) return;
  ++r.generation;
  r.armed = next;
  if (next) {
    Task& t = schedule(*next, TaskKind::timeout);
    t.record = index;
    t.generation = r.generation;
  }
}

void Network::fire_timeout(size_t index, uint64_t generation) {
  EndpointRecord& r = records_[index];
  if (r.generation != generation || !r.endpoint) return;
  r.armed.reset();
  r.endpoint->handle_timeout(now_);
  drive(index);
}

void Network::send(size_t index, Transmit t) {
  NodeId host = records_[index].host;
  Node& h = nodes_[host];
  Packet p{++next_packet_, t.from, t.to, std::move(t.data)};
  TraceEvent e;
  e.at = now_;
  e.kind = TraceKind::sent;
  e.node = host;
  e.packet = p.id;
  e.src = p.src;
  e.dst = p.dst;
  e.size = static_cast<uint32_t>(p.data.size());
  e.payload_hash = fnv1a_words(p.data.data(), p.data.size());
  trace_.record(e);

  if (t.protocol != TransportProtocol::udp) return drop(p, DropReason::unsupported, host);
  auto port = h.ports.find(t.from.port());
  if (t.from.ip() != h.ip || port == h.ports.end() || port->second != index)
    return drop(p, DropReason::bad_source, host);
  if (t.to.ip() == h.ip) {
    // To itself: straight back, without touching the links.
    Task& task = schedule(now_, TaskKind::local_delivery);
    task.node = host;
    task.packet = std::move(p);
    return;
  }
  forward(host, Direction::up, std::move(p));
}

// ---- links and routing ----

void Network::forward(NodeId node, Direction direction, Packet p) {
  Link& link = direction == Direction::up ? *nodes_[node].up : *nodes_[node].down;
  Link::Admission a = link.admit(now_, p.data.size());
  if (a.drop) return drop_on_link(p, *a.drop, link);
  record_on_link(TraceKind::queued, p, link);
  auto arrival = [&](Instant when, Packet packet) {
    Task& t = schedule(when, TaskKind::arrival);
    t.node = node;
    t.direction = direction;
    t.packet = std::move(packet);
  };
  if (a.duplicate_arrival) {
    record_on_link(TraceKind::duplicated, p, link);
    arrival(*a.duplicate_arrival, p);
  }
  arrival(a.arrival, std::move(p));
}

void Network::arrive(NodeId node, Direction direction, Packet p) {
  Link& link = direction == Direction::up ? *nodes_[node].up : *nodes_[node].down;
  if (!link.leave(p.data.size())) return drop_on_link(p, DropReason::outage, link);
  if (direction == Direction::up) {
    route(nodes_[node].parent, node, std::move(p));
  } else if (nodes_[node].kind == Kind::host) {
    deliver(node, std::move(p));
  } else {
    route(node, nodes_[node].parent, std::move(p));
  }
}

void Network::route(NodeId router, NodeId from, Packet p) {
  Node& r = nodes_[router];
  if (r.kind == Kind::nat && from == r.parent) return nat_inbound(router, std::move(p));
  // From a child: another child of this router (the same realm) is reached directly.
  if (auto c = r.children.find(p.dst.ip()); c != r.children.end())
    return forward(c->second, Direction::down, std::move(p));
  if (r.kind == Kind::internet) return drop(p, DropReason::no_route, router);

  // Leaving a NAT's realm: translate the source (RFC 4787 section 4).
  bool hairpin = p.dst.ip() == r.ip;
  if (hairpin && !r.nat->config().hairpinning) return drop(p, DropReason::no_route, router);
  expire_mappings(router);
  auto out = r.nat->outbound(now_, p.src, p.dst);
  if (!out) return drop(p, DropReason::nat_exhausted, router);
  SocketAddress external(r.ip, out->external_port);
  if (out->created) {
    TraceEvent e;
    e.at = now_;
    e.kind = TraceKind::mapping_created;
    e.node = router;
    e.src = p.src;
    e.dst = external;
    trace_.record(e);
    arm_expiry(router);
  }
  p.src = external;
  // RFC 4787 REQ-9: a hairpinned packet comes back in as if from outside, with the sender's
  // external address as its source, and meets the same filtering.
  if (hairpin) return nat_inbound(router, std::move(p));
  forward(router, Direction::up, std::move(p));
}

void Network::nat_inbound(NodeId router, Packet p) {
  Node& r = nodes_[router];
  if (p.dst.ip() != r.ip) return drop(p, DropReason::no_route, router);
  expire_mappings(router);
  auto internal = r.nat->inbound(now_, p.dst.port(), p.src);
  if (!internal) return drop(p, DropReason::nat_filter, router);
  p.dst = *internal;
  auto c = r.children.find(p.dst.ip());
  if (c == r.children.end()) return drop(p, DropReason::no_route, router);
  forward(c->second, Direction::down, std::move(p));
}

void Network::deliver(NodeId host, Packet p) {
  Node& h = nodes_[host];
  if (p.dst.ip() != h.ip) return drop(p, DropReason::no_route, host);
  auto port = h.ports.find(p.dst.port());
  if (port == h.ports.end()) return drop(p, DropReason::no_listener, host);
  record(TraceKind::delivered, p, host);
  ++delivered_;
  size_t index = port->second;
  records_[index].endpoint->handle_datagram(now_, p.dst, p.src, p.data);
  drive(index);
}

// ---- NAT mapping lifetime ----

void Network::expire_mappings(NodeId router) {
  for (const NatBinding& b : nodes_[router].nat->expire(now_)) {
    TraceEvent e;
    e.at = now_;
    e.kind = TraceKind::mapping_expired;
    e.node = router;
    e.src = b.internal;
    e.dst = SocketAddress(nodes_[router].ip, b.external_port);
    trace_.record(e);
  }
}

void Network::arm_expiry(NodeId router) {
  // One pending check per NAT. Every mapping has the same timeout, so a check already armed is
  // never later than a new mapping's expiry; when it fires it re-arms for the next one.
  Node& r = nodes_[router];
  if (r.expiry_armed) return;
  auto next = r.nat->next_expiry();
  if (!next) return;
  r.expiry_armed = true;
  schedule(*next, TaskKind::nat_expiry).node = router;
}

// ---- trace ----

void Network::drop(const Packet& p, DropReason reason, NodeId node) {
  ++dropped_[static_cast<size_t>(reason)];
  TraceEvent e;
  e.at = now_;
  e.kind = TraceKind::dropped;
  e.reason = reason;
  e.node = node;
  e.packet = p.id;
  e.src = p.src;
  e.dst = p.dst;
  e.size = static_cast<uint32_t>(p.data.size());
  trace_.record(e);
}

void Network::drop_on_link(const Packet& p, DropReason reason, const Link& link) {
  ++dropped_[static_cast<size_t>(reason)];
  TraceEvent e;
  e.at = now_;
  e.kind = TraceKind::dropped;
  e.reason = reason;
  e.node = link.node();
  e.direction = link.direction();
  e.on_link = true;
  e.packet = p.id;
  e.src = p.src;
  e.dst = p.dst;
  e.size = static_cast<uint32_t>(p.data.size());
  trace_.record(e);
}

void Network::record(TraceKind kind, const Packet& p, NodeId node) {
  TraceEvent e;
  e.at = now_;
  e.kind = kind;
  e.node = node;
  e.packet = p.id;
  e.src = p.src;
  e.dst = p.dst;
  e.size = static_cast<uint32_t>(p.data.size());
  trace_.record(e);
}

void Network::record_on_link(TraceKind kind, const Packet& p, const Link& link) {
  TraceEvent e;
  e.at = now_;
  e.kind = kind;
  e.node = link.node();
  e.direction = link.direction();
  e.on_link = true;
  e.packet = p.id;
  e.src = p.src;
  e.dst = p.dst;
  e.size = static_cast<uint32_t>(p.data.size());
  trace_.record(e);
}

std::string Network::describe(const TraceEvent& e) const {
  std::string where = nodes_.at(e.node).name;
  if (e.on_link) where += e.direction == Direction::up ? "/up" : "/down";
  std::string what = to_string(e.kind);
  if (e.kind == TraceKind::dropped) what += std::string("(") + to_string(e.reason) + ")";
  char head[64];
  std::snprintf(head, sizeof head, "%lld.%06lld ", static_cast<long long>(e.at.us() / 1'000'000),
                static_cast<long long>(e.at.us() % 1'000'000));
  std::string s = head + what + " " + where;
  if (e.packet) s += " #" + std::to_string(e.packet);
  s += " " + e.src.to_string() + " -> " + e.dst.to_string();
  if (e.packet) s += " " + std::to_string(e.size) + " B";
  return s;
}

}  // namespace cellrtc::sim
