#include "core/ice/ice_agent.h"

#include <algorithm>

namespace cellrtc::ice {
namespace {

constexpr uint16_t kComponent = 1;

// RFC 8839 section 5.4: ufrag at least 4 ice-chars, pwd at least 22.
constexpr size_t kUfragLength = 8;
constexpr size_t kPwdLength = 24;

uint16_t local_preference_of(uint32_t priority) {
  return static_cast<uint16_t>(priority >> 8);
}

}  // namespace

const char* to_string(IceState state) {
  switch (state) {
    case IceState::new_:
      return "new";
    case IceState::checking:
      return "checking";
    case IceState::connected:
      return "connected";
    case IceState::disconnected:
      return "disconnected";
    case IceState::failed:
      return "failed";
    case IceState::closed:
      return "closed";
  }
  return "unknown";
}

IceAgent::IceAgent(IceConfig config, Random& rng)
    : config_(std::move(config)),
      rng_(rng),
      role_(config_.lite ? Role::controlled : config_.role),
      tiebreaker_(rng.next_u64()) {
  local_credentials_.ufrag = config_.ufrag.empty() ? rng_.ice_chars(kUfragLength) : config_.ufrag;
  local_credentials_.pwd = config_.pwd.empty() ? rng_.ice_chars(kPwdLength) : config_.pwd;
}

// ---------------------------------------------------------------------------------------------
// Local candidates

size_t IceAgent::add_local(Candidate c, bool announce) {
  local_candidates_.push_back(c);
  local_bases_.push_back(c.type == CandidateType::server_reflexive ||
                                 c.type == CandidateType::peer_reflexive
                             ? *c.related
                             : c.address);
  if (announce) emit(event::LocalCandidate{std::move(c)});
  return local_candidates_.size() - 1;
}

Status IceAgent::add_host_socket(Instant now, const SocketAddress& bound) {
  if (state_ == IceState::closed) return Error{Errc::invalid_state, "agent closed"};
  if (bound.ip().is_unspecified() || bound.port() == 0)
    return Error{Errc::invalid_argument, "host socket must be bound to an address and port"};
  if (find_local(bound, TransportProtocol::udp))
    return Error{Errc::invalid_argument, "host socket already added"};
  size_t hosts = 0;
  for (const auto& c : local_candidates_)
    hosts += c.type == CandidateType::host;

  // RFC 8445 section 5.1.1.3: same type, base IP, server and transport -> same foundation.
  std::string key = "host/" + bound.ip().to_string() + "/udp";
  auto [it, inserted] = foundations_.emplace(key, static_cast<int>(foundations_.size()) + 1);
  Candidate c;
  c.foundation = std::to_string(it->second);
  c.component = kComponent;
  c.transport = TransportProtocol::udp;
  // RFC 8445 section 5.1.2.1: local preference orders interfaces; the runtime lists the
  // preferred ones first.
  uint32_t local_pref = 65535 - static_cast<uint32_t>(std::min<size_t>(hosts, 1000));
  c.priority = compute_priority(type_preference(CandidateType::host, TransportProtocol::udp),
                                local_pref, kComponent);
  c.address = bound;
  c.type = CandidateType::host;
  size_t index = add_local(std::move(c), true);

  // RFC 8445 section 2.5: a lite agent gathers host candidates only.
  if (!config_.lite) {
    for (const auto& server : config_.stun_servers) {
      if (server.family() != bound.family()) continue;
      gather_slots_.push_back(GatherSlot{index, server, std::nullopt});
    }
  }
  form_pairs_for_local(index);
  if (remote_credentials_) start_checking(now);
  pace(now);
  return {};
}

Status IceAgent::add_local_candidate(Instant now, Candidate candidate) {
  if (state_ == IceState::closed) return Error{Errc::invalid_state, "agent closed"};
  if (candidate.hostname) return Error{Errc::invalid_argument, "local candidate needs an address"};
  if (find_local(candidate.address, candidate.transport))
    return Error{Errc::invalid_argument, "local candidate already added"};
  candidate.component = kComponent;
  size_t index = add_local(std::move(candidate), true);
  form_pairs_for_local(index);
  if (remote_credentials_) start_checking(now);
  pace(now);
  return {};
}

bool IceAgent::withdrawn(size_t local) const {
  return withdrawn_base(local_bases_[local]) &&
         local_candidates_[local].transport == TransportProtocol::udp;
}

bool IceAgent::withdrawn_base(const SocketAddress& base) const {
  return std::find(withdrawn_.begin(), withdrawn_.end(), base) != withdrawn_.end();
}

Status IceAgent::withdraw_local_candidate(Instant now, const SocketAddress& base) {
  auto index = find_local(base, TransportProtocol::udp);
  if (!index || local_candidates_[*index].type != CandidateType::relayed)
    return Error{Errc::not_found, "no relayed local candidate with that address"};
  if (withdrawn_base(base)) return {};
  withdrawn_.push_back(base);
  // Nothing more leaves from it: queued transmits, checks and consent on its pairs end.
  std::erase_if(transmits_, [&](const Transmit& t) { return t.from == base; });
  std::erase_if(transactions_, [&](const auto& entry) {
    return entry.second.kind != TxKind::gather && entry.second.from == base;
  });
  bool lost_selected = false;
  for (size_t i = 0; i < pairs_.size(); ++i) {
    Pair& p = pairs_[i];
    if (local_bases_[p.local] != base) continue;
    p.state = PairState::failed;
    p.valid = false;
    p.nominated = false;
    p.nominate_on_success = false;
    p.in_flight.reset();
    if (nominating_ == i) nominating_.reset();
    if (selected_index_ == i) lost_selected = true;
  }
  std::erase_if(triggered_, [&](const Triggered& t) {
    return t.pair < pairs_.size() && local_bases_[pairs_[t.pair].local] == base;
  });
  if (!lost_selected || state_ == IceState::closed) return {};

  // The path in use is gone. Until another pair is selected no data goes out; the state is
  // disconnected (the connection may recover) and the checking timeout runs from now.
  selected_index_.reset();
  selected_.reset();
  next_consent_.reset();
  unanswered_since_.reset();
  path_lost_at_ = now;
  set_state(IceState::disconnected);
  if (role_ == Role::controlling && !config_.lite) {
    // RFC 8445 section 8.1.1: nominate the best pair still valid with a check carrying
    // USE-CANDIDATE; without one, ordinary checks resume on the pairs not yet tried.
    std::optional<size_t> best;
    for (size_t i = 0; i < pairs_.size(); ++i)
      if (pairs_[i].valid && (!best || pairs_[i].valid_priority > pairs_[*best].valid_priority))
        best = i;
    checks_done_ = false;
    if (best) {
      nominating_ = *best;
      triggered_.push_front(Triggered{*best, true});
    }
    pace(now);
  }
  // A controlled agent waits for the controlling peer's next nomination.
  return {};
}

void IceAgent::end_of_local_sockets(Instant now) {
  local_sockets_done_ = true;
  check_gathering_complete();
  pace(now);
}

std::vector<StunServerResult> IceAgent::stun_server_results() const {
  std::vector<StunServerResult> out;
  for (const auto& slot : gather_slots_)
    out.push_back(StunServerResult{slot.server, local_bases_[slot.base], slot.mapped, slot.done});
  return out;
}

void IceAgent::check_gathering_complete() {
  if (gathering_complete_sent_ || !local_sockets_done_) return;
  for (const auto& slot : gather_slots_)
    if (!slot.done) return;
  gathering_complete_sent_ = true;
  emit(event::GatheringComplete{});
}

std::optional<size_t> IceAgent::find_local(const SocketAddress& addr,
                                           TransportProtocol proto) const {
  for (size_t i = 0; i < local_candidates_.size(); ++i)
    if (local_candidates_[i].address == addr && local_candidates_[i].transport == proto) return i;
  return std::nullopt;
}

void IceAgent::set_udp_grace_from_round_trip(Duration exchange) {
  config_.udp_grace = std::clamp(exchange * 2, config_.udp_grace_min, config_.udp_grace_max);
}

void IceAgent::set_role(Role role, Nomination nomination) {
  config_.nomination = nomination;
  if (config_.lite || role_ == role) return;
  role_ = role;
  recompute_priorities();
}

// ---------------------------------------------------------------------------------------------
// Remote candidates and pairs

void IceAgent::set_remote_credentials(Instant now, std::string ufrag, std::string pwd) {
  if (state_ == IceState::closed) return;
  if (remote_credentials_ &&
      (remote_credentials_->ufrag != ufrag || remote_credentials_->pwd != pwd)) {
    // The peer restarted ICE (RFC 8445 section 9): its old candidates and our checks toward
    // them are void.
    reset_checks();
  }
  remote_credentials_ = IceCredentials{std::move(ufrag), std::move(pwd)};
  start_checking(now);
  pace(now);
}

Status IceAgent::add_remote_candidate(Instant now, const Candidate& candidate) {
  if (state_ == IceState::closed) return Error{Errc::invalid_state, "agent closed"};
  if (candidate.component != kComponent) return {};  // RTCP component: unused with rtcp-mux
  if (candidate.hostname)
    return Error{Errc::unsupported, "host-name (mDNS) candidates are not resolved"};
  if (candidate.address.port() == 0 || candidate.address.ip().is_unspecified())
    return Error{Errc::invalid_argument, "candidate address is unspecified"};
  if (auto existing = find_remote(candidate.address, candidate.transport)) {
    // RFC 8445 section 7.3.1.3: a signaled candidate replaces the peer-reflexive one
    // learned from a check, keeping its pairs.
    auto& known = remote_[*existing].candidate;
    if (known.type == CandidateType::peer_reflexive) {
      known = candidate;
      recompute_priorities();
    }
    return {};
  }
  if (remote_.size() >= config_.max_remote_candidates)
    return Error{Errc::limit_exceeded, "too many remote candidates"};
  remote_.push_back(RemoteCandidate{candidate});
  form_pairs_for_remote(remote_.size() - 1);
  if (remote_credentials_) start_checking(now);
  pace(now);
  return {};
}

void IceAgent::set_remote_end_of_candidates(Instant now) {
  remote_end_of_candidates_ = true;
  handle_timeout(now);
}

std::vector<Candidate> IceAgent::remote_candidates() const {
  std::vector<Candidate> out;
  out.reserve(remote_.size());
  for (const auto& r : remote_)
    out.push_back(r.candidate);
  return out;
}

std::optional<size_t> IceAgent::find_remote(const SocketAddress& addr,
                                            TransportProtocol proto) const {
  for (size_t i = 0; i < remote_.size(); ++i)
    if (remote_[i].candidate.address == addr && remote_[i].candidate.transport == proto) return i;
  return std::nullopt;
}

std::optional<size_t> IceAgent::find_pair(size_t local, size_t remote) const {
  for (size_t i = 0; i < pairs_.size(); ++i)
    if (pairs_[i].local == local && pairs_[i].remote == remote) return i;
  return std::nullopt;
}

std::optional<size_t> IceAgent::find_pair_by_address(const SocketAddress& base,
                                                     const SocketAddress& remote) const {
  for (size_t i = 0; i < pairs_.size(); ++i)
    if (local_bases_[pairs_[i].local] == base &&
        remote_[pairs_[i].remote].candidate.address == remote)
      return i;
  return std::nullopt;
}

uint64_t IceAgent::pair_priority(uint32_t local_prio, uint32_t remote_prio) const {
  // RFC 8445 section 6.1.2.3: G is the controlling agent's candidate priority, D the
  // controlled agent's.
  uint64_t g = role_ == Role::controlling ? local_prio : remote_prio;
  uint64_t d = role_ == Role::controlling ? remote_prio : local_prio;
  return (std::min(g, d) << 32) + 2 * std::max(g, d) + (g > d ? 1 : 0);
}

void IceAgent::recompute_priorities() {
  for (auto& p : pairs_) {
    uint32_t rp = remote_[p.remote].candidate.priority;
    p.priority = pair_priority(local_candidates_[p.local].priority, rp);
    if (p.valid) p.valid_priority = pair_priority(local_candidates_[p.valid_local].priority, rp);
  }
}

std::string IceAgent::pair_foundation(const Pair& p) const {
  return local_candidates_[p.local].foundation + ":" + remote_[p.remote].candidate.foundation;
}

std::optional<size_t> IceAgent::add_pair(size_t local, size_t remote, PairState state) {
  if (pairs_.size() >= config_.max_pairs) return std::nullopt;
  Pair p;
  p.local = local;
  p.remote = remote;
  p.priority = pair_priority(local_candidates_[local].priority, remote_[remote].candidate.priority);
  p.state = state;
  if (state == PairState::frozen || state == PairState::waiting) {
    // RFC 8445 section 6.1.2.6, and RFC 8838 section 10 for pairs formed while checks run:
    // a pair waits unless another of its foundation is already waiting or being checked.
    std::string f =
        local_candidates_[local].foundation + ":" + remote_[remote].candidate.foundation;
    bool busy = false;
    for (const auto& q : pairs_)
      busy |= (q.state == PairState::waiting || q.state == PairState::in_progress) &&
              pair_foundation(q) == f;
    p.state = busy ? PairState::frozen : PairState::waiting;
  }
  pairs_.push_back(p);
  return pairs_.size() - 1;
}

void IceAgent::form_pairs_for_remote(size_t remote) {
  const auto& rc = remote_[remote].candidate;
  for (size_t l = 0; l < local_candidates_.size(); ++l) {
    const auto& lc = local_candidates_[l];
    // RFC 8445 section 6.1.2.4: reflexive local candidates are replaced by their bases, so
    // only bases (host, relayed) pair.
    if (lc.type == CandidateType::server_reflexive || lc.type == CandidateType::peer_reflexive)
      continue;
    if (withdrawn(l)) continue;
    if (lc.transport != rc.transport || lc.address.family() != rc.address.family()) continue;
    if (!tcp_types_pair(lc.tcp_type, rc.tcp_type)) continue;  // RFC 6544 section 6.2
    // A link-local address reaches only link-local peers.
    if (lc.address.ip().is_link_local() != rc.address.ip().is_link_local()) continue;
    if (!find_pair(l, remote)) add_pair(l, remote, PairState::frozen);
  }
}

void IceAgent::form_pairs_for_local(size_t local) {
  if (withdrawn(local)) return;
  for (size_t r = 0; r < remote_.size(); ++r) {
    const auto& lc = local_candidates_[local];
    const auto& rc = remote_[r].candidate;
    if (lc.transport != rc.transport || lc.address.family() != rc.address.family()) continue;
    if (!tcp_types_pair(lc.tcp_type, rc.tcp_type)) continue;  // RFC 6544 section 6.2
    if (lc.address.ip().is_link_local() != rc.address.ip().is_link_local()) continue;
    if (!find_pair(local, r)) add_pair(local, r, PairState::frozen);
  }
}

void IceAgent::unfreeze_foundation(const std::string& foundation) {
  // RFC 8445 section 7.2.5.3.3: success unfreezes the pairs that share its foundation.
  for (auto& p : pairs_)
    if (p.state == PairState::frozen && pair_foundation(p) == foundation)
      p.state = PairState::waiting;
}

bool IceAgent::unfreeze_next() {
  // RFC 8445 section 6.1.4.2: with nothing waiting, wake the best frozen pair of every
  // foundation that has no pair waiting or in progress.
  bool any = false;
  for (size_t i = 0; i < pairs_.size(); ++i) {
    if (pairs_[i].state != PairState::frozen) continue;
    std::string f = pair_foundation(pairs_[i]);
    bool blocked = false;
    std::optional<size_t> best;
    for (size_t j = 0; j < pairs_.size(); ++j) {
      if (pair_foundation(pairs_[j]) != f) continue;
      if (pairs_[j].state == PairState::waiting || pairs_[j].state == PairState::in_progress)
        blocked = true;
      if (pairs_[j].state == PairState::frozen &&
          (!best || pairs_[j].priority > pairs_[*best].priority))
        best = j;
    }
    if (!blocked && best) {
      pairs_[*best].state = PairState::waiting;
      any = true;
    }
  }
  return any;
}

void IceAgent::reset_checks() {
  remote_.clear();
  pairs_.clear();
  triggered_.clear();
  // Checks and consent toward the old peer state are void; gathering goes on.
  for (auto it = transactions_.begin(); it != transactions_.end();) {
    if (it->second.kind == TxKind::gather)
      ++it;
    else
      it = transactions_.erase(it);
  }
  remote_credentials_.reset();
  remote_end_of_candidates_ = false;
  first_success_at_.reset();
  checking_since_.reset();
  path_lost_at_.reset();
  selected_index_.reset();
  nominating_.reset();
  checks_done_ = false;
  udp_grace_passed_ = false;
  next_consent_.reset();
  unanswered_since_.reset();
}

// ---------------------------------------------------------------------------------------------
// Scheduling

void IceAgent::start_checking(Instant now) {
  if (!stats_.started) stats_.started = now;
  if (config_.lite) return;  // a lite agent only answers
  if (!checking_since_ && !local_candidates_.empty() && remote_credentials_) {
    checking_since_ = now;
    if (!selected_) set_state(IceState::checking);
  }
}

bool IceAgent::has_paced_work() const {
  for (const auto& slot : gather_slots_)
    if (!slot.started) return true;
  if (config_.lite || !remote_credentials_) return false;
  if (!triggered_.empty()) return true;
  if (checks_done_) return false;
  for (const auto& p : pairs_) {
    if (p.state == PairState::waiting) return true;
    if (p.state != PairState::frozen) continue;
    // A frozen pair counts only if unfreeze_next() could wake it; otherwise the deadline
    // would stand in the past with nothing to do.
    std::string f = pair_foundation(p);
    bool blocked = std::any_of(pairs_.begin(), pairs_.end(), [&](const Pair& q) {
      return (q.state == PairState::waiting || q.state == PairState::in_progress) &&
             pair_foundation(q) == f;
    });
    if (!blocked) return true;
  }
  return false;
}

void IceAgent::pace(Instant now) {
  if (state_ == IceState::closed) return;
  if (next_pace_ && now < *next_pace_) return;
  if (start_one_transaction(now)) next_pace_ = now + config_.ta;
}

bool IceAgent::start_one_transaction(Instant now) {
  // RFC 8445 section 6.1.4.2: triggered checks first, then ordinary checks by priority.
  // Gathering transactions share the pacing (RFC 8445 section 5.1.1.2).
  if (!config_.lite && remote_credentials_) {
    while (!triggered_.empty()) {
      Triggered t = triggered_.front();
      triggered_.pop_front();
      if (t.pair >= pairs_.size()) continue;
      Pair& p = pairs_[t.pair];
      if (p.state == PairState::in_progress && !t.use_candidate) continue;
      send_check(now, t.pair, t.use_candidate);
      return true;
    }
  }
  for (size_t i = 0; i < gather_slots_.size(); ++i) {
    if (!gather_slots_[i].started) {
      start_gather(now, i);
      return true;
    }
  }
  if (config_.lite || !remote_credentials_ || checks_done_) return false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::optional<size_t> best;
    for (size_t i = 0; i < pairs_.size(); ++i)
      if (pairs_[i].state == PairState::waiting &&
          (!best || pairs_[i].priority > pairs_[*best].priority))
        best = i;
    if (best) {
      send_check(now, *best, false);
      return true;
    }
    if (!unfreeze_next()) break;
  }
  return false;
}

std::optional<Instant> IceAgent::next_timeout() const {
  if (state_ == IceState::closed) return std::nullopt;
  std::optional<Instant> t;
  for (const auto& [id, tx] : transactions_)
    t = earliest(t, std::optional<Instant>(tx.next_send));
  if (has_paced_work())
    t = earliest(t, next_pace_ ? next_pace_ : std::optional<Instant>(Instant()));
  // Path choice: a valid TCP pair waits for the end of the UDP grace, then is nominated.
  std::optional<Instant> grace_end;
  if (role_ == Role::controlling && !config_.lite && !selected_index_ && !nominating_ &&
      remote_credentials_ && !udp_grace_passed_) {
    bool tcp_valid = false, udp_valid = false;
    for (const auto& p : pairs_) {
      if (!p.valid) continue;
      (travels_over_tcp(local_candidates_[p.local]) ? tcp_valid : udp_valid) = true;
    }
    if (tcp_valid && !udp_valid) grace_end = udp_grace_deadline();
  }
  t = earliest(t, grace_end);
  if (role_ == Role::controlling && config_.nomination == Nomination::regular &&
      first_success_at_ && !selected_index_ && !nominating_) {
    // Held for UDP, the nomination delay's end would otherwise stand in the past.
    Instant at = *first_success_at_ + config_.nomination_delay;
    if (grace_end) at = std::max(at, *grace_end);
    t = earliest(t, std::optional<Instant>(at));
  }
  if (selected_ && !consent_lost_) {
    if (next_consent_) t = earliest(t, next_consent_);
    if (state_ != IceState::disconnected) t = earliest(t, disconnect_deadline());
    t = earliest(t, std::optional<Instant>(last_consent_ + config_.consent_timeout));
  }
  if (!selected_ && checking_since_ && state_ != IceState::failed)
    t = earliest(t, checking_deadline());
  return t;
}

void IceAgent::handle_timeout(Instant now) {
  if (state_ == IceState::closed) return;
  // Retransmissions and transaction timeouts (RFC 8489 section 6.2.1).
  std::vector<stun::TransactionId> due;
  for (const auto& [id, tx] : transactions_)
    if (tx.next_send <= now) due.push_back(id);
  for (const auto& id : due) {
    auto it = transactions_.find(id);
    if (it == transactions_.end()) continue;
    Transaction& tx = it->second;
    if (tx.sends_left > 0 && !tx.cancelled) {
      --tx.sends_left;
      tx.rto = std::min(tx.rto * 2, config_.max_rto);
      tx.next_send = now + tx.rto;
      // RFC 8489 section 6.2.2: no retransmission on a reliable transport.
      if (tx.protocol == TransportProtocol::udp) {
        ++stats_.retransmissions;
        queue_transmit(tx.from, tx.to, tx.request, TransportProtocol::udp);
      }
      continue;
    }
    Transaction done = std::move(tx);
    transactions_.erase(it);
    if (done.kind == TxKind::check && !done.cancelled && done.index < pairs_.size() &&
        pairs_[done.index].in_flight == id)
      on_check_failure(now, done.index);
    else if (done.kind == TxKind::gather)
      on_gather_done(now, done.index, nullptr);
    else if (done.kind == TxKind::check && done.index < pairs_.size() &&
             pairs_[done.index].in_flight == id)
      pairs_[done.index].in_flight.reset();
  }
  if (auto deadline = udp_grace_deadline(); deadline && now >= *deadline) udp_grace_passed_ = true;
  pace(now);
  maybe_nominate(now);
  update_connectivity(now);
}

void IceAgent::maybe_nominate(Instant now) {
  if (role_ != Role::controlling || config_.lite) return;
  if (selected_index_ || nominating_ || !remote_credentials_) return;
  std::optional<size_t> best;
  for (size_t i = 0; i < pairs_.size(); ++i)
    if (pairs_[i].valid && (!best || pairs_[i].valid_priority > pairs_[*best].valid_priority))
      best = i;
  if (config_.nomination == Nomination::aggressive) {
    // Every UDP check nominates by itself; a TCP pair that succeeded while UDP still had its
    // chance is nominated by a check of its own once the grace is over.
    if (!best || !travels_over_tcp(local_candidates_[pairs_[*best].local]) || holding_for_udp(now))
      return;
    nominating_ = *best;
    triggered_.push_front(Triggered{*best, true});
    pace(now);
    return;
  }
  if (!best) {
    // The only valid pair failed its nomination: wait for the next success.
    first_success_at_.reset();
    return;
  }
  if (travels_over_tcp(local_candidates_[pairs_[*best].local]) && holding_for_udp(now)) return;
  bool better_pending = false;
  for (const auto& p : pairs_)
    better_pending |= (p.state == PairState::frozen || p.state == PairState::waiting ||
                       p.state == PairState::in_progress) &&
                      p.priority > pairs_[*best].valid_priority;
  if (better_pending && now < *first_success_at_ + config_.nomination_delay) return;
  // RFC 8445 section 8.1.1: nominate by repeating the check with USE-CANDIDATE.
  nominating_ = *best;
  triggered_.push_front(Triggered{*best, true});
  pace(now);
}

bool IceAgent::holding_for_udp(Instant now) const {
  if (role_ != Role::controlling) return false;
  bool udp_pending = false;
  for (const auto& p : pairs_) {
    if (travels_over_tcp(local_candidates_[p.local])) continue;
    if (p.valid) return true;  // UDP works: it wins
    udp_pending |= p.state != PairState::failed;
  }
  if (!udp_pending) return false;
  auto deadline = udp_grace_deadline();
  return !deadline || now < *deadline;
}

std::optional<Instant> IceAgent::checking_deadline() const {
  if (!checking_since_) return std::nullopt;
  Instant from = *checking_since_;
  if (path_lost_at_) from = std::max(from, *path_lost_at_);
  return from + config_.checking_timeout;
}

std::optional<Instant> IceAgent::udp_grace_deadline() const {
  if (!checking_since_) return std::nullopt;
  return *checking_since_ + config_.udp_grace;
}

void IceAgent::update_connectivity(Instant now) {
  if (!selected_) {
    if (checking_since_ && now >= *checking_deadline() && state_ != IceState::failed)
      set_state(IceState::failed);
    // RFC 8445 section 8.1.2: every pair failed and no more candidates will come.
    if (!pairs_.empty() && remote_end_of_candidates_ && gathering_complete_sent_ &&
        triggered_.empty() && std::all_of(pairs_.begin(), pairs_.end(), [](const Pair& p) {
          return p.state == PairState::failed;
        }))
      set_state(IceState::failed);
    return;
  }
  if (consent_lost_) return;
  if (!config_.lite && selected_index_ && next_consent_ && now >= *next_consent_) {
    send_consent(now);
    if (!unanswered_since_) unanswered_since_ = now;
    // RFC 7675 section 5.1: each check is sent once. Until one is answered the next follows
    // after consent_retry; an answer schedules the one after a whole (jittered) interval.
    next_consent_ = now + std::min(config_.consent_retry, jittered_consent_interval());
  }
  Duration silent = now - last_consent_;
  auto disconnect_at = disconnect_deadline();
  if (silent >= config_.consent_timeout) {
    // RFC 7675 section 5.1: consent expired; stop sending.
    consent_lost_ = true;
    emit(event::ConsentLost{});
    set_state(IceState::failed);
  } else if (disconnect_at && now >= *disconnect_at) {
    set_state(IceState::disconnected);
  } else if (selected_index_ &&
             (state_ == IceState::disconnected || state_ == IceState::checking)) {
    set_state(IceState::connected);
  }
}

std::optional<Instant> IceAgent::disconnect_deadline() const {
  if (config_.lite) return std::max(last_consent_, last_heard_) + config_.disconnected_after;
  if (!unanswered_since_) return std::nullopt;
  // A check and its retry both unanswered for consent_retry: one lost packet is not enough.
  return std::max(last_consent_ + config_.disconnected_after,
                  *unanswered_since_ + 2 * config_.consent_retry);
}

Duration IceAgent::jittered_consent_interval() {
  // RFC 7675 section 5.1: randomised between 0.8 and 1.2 of the interval.
  auto base = config_.consent_interval.count();
  auto spread = base * 4 / 10;
  return Duration(base * 8 / 10 + (spread > 0 ? rng_.uniform(static_cast<uint32_t>(spread)) : 0));
}

void IceAgent::set_state(IceState s) {
  if (state_ == s) return;
  state_ = s;
  emit(event::StateChanged{s});
}

void IceAgent::switch_role(Role role) {
  if (role_ == role) return;
  role_ = role;
  ++stats_.role_conflicts;
  recompute_priorities();
  emit(event::RoleChanged{role});
}

// ---------------------------------------------------------------------------------------------
// Sending

void IceAgent::queue_transmit(const SocketAddress& from, const SocketAddress& to, Bytes data,
                              TransportProtocol proto) {
  transmits_.push_back(Transmit{from, to, std::move(data), proto});
}

void IceAgent::send_check(Instant now, size_t index, bool use_candidate) {
  Pair& p = pairs_[index];
  const Candidate& local = local_candidates_[p.local];
  const Candidate& remote = remote_[p.remote].candidate;
  if (role_ == Role::controlling && config_.nomination == Nomination::aggressive)
    use_candidate = true;
  if (role_ != Role::controlling) use_candidate = false;
  // Path choice: a TCP check nominates only once UDP had its chance (IceConfig::udp_grace).
  if (use_candidate && travels_over_tcp(local) && holding_for_udp(now)) use_candidate = false;

  auto tid = stun::random_transaction_id(rng_);
  stun::MessageBuilder b(stun::Method::binding, stun::Class::request, tid);
  // RFC 8445 section 7.2.2: USERNAME "remote:local", PRIORITY of a peer-reflexive candidate
  // from this base, the role with our tie-breaker, USE-CANDIDATE when nominating.
  b.add_username(remote_credentials_->ufrag + ":" + local_credentials_.ufrag);
  b.add_priority(compute_priority(type_preference(CandidateType::peer_reflexive, local.transport),
                                  local_preference_of(local.priority), kComponent));
  if (role_ == Role::controlling)
    b.add_ice_controlling(tiebreaker_);
  else
    b.add_ice_controlled(tiebreaker_);
  if (use_candidate) b.add_use_candidate();
  if (!config_.software.empty()) b.add_software(config_.software);
  Bytes request = std::move(b).finish_with_integrity(as_bytes(remote_credentials_->pwd), true);

  // A new check on this pair replaces an older one still waiting for its answer.
  if (p.in_flight) {
    auto old = transactions_.find(*p.in_flight);
    if (old != transactions_.end()) old->second.cancelled = true;
  }
  Transaction tx{TxKind::check,
                 index,
                 local_bases_[p.local],
                 remote.address,
                 request,
                 now + config_.initial_rto,
                 config_.initial_rto,
                 config_.max_check_transmissions - 1,
                 use_candidate};
  tx.role = role_;
  tx.protocol = local.transport;
  transactions_.emplace(tid, std::move(tx));
  p.in_flight = tid;
  if (p.state != PairState::succeeded) p.state = PairState::in_progress;
  if (!stats_.first_check_sent) stats_.first_check_sent = now;
  ++stats_.checks_sent;
  queue_transmit(local_bases_[p.local], remote.address, std::move(request), local.transport);
}

void IceAgent::send_consent(Instant now) {
  if (!selected_index_ || !remote_credentials_) return;
  const Pair& p = pairs_[*selected_index_];
  auto tid = stun::random_transaction_id(rng_);
  stun::MessageBuilder b(stun::Method::binding, stun::Class::request, tid);
  b.add_username(remote_credentials_->ufrag + ":" + local_credentials_.ufrag);
  b.add_priority(compute_priority(
      type_preference(CandidateType::peer_reflexive, local_candidates_[p.local].transport),
      local_preference_of(local_candidates_[p.local].priority), kComponent));
  if (role_ == Role::controlling)
    b.add_ice_controlling(tiebreaker_);
  else
    b.add_ice_controlled(tiebreaker_);
  Bytes request = std::move(b).finish_with_integrity(as_bytes(remote_credentials_->pwd), true);
  // RFC 7675 section 5.1: sent once, with a new transaction id each time; a late answer to
  // any check still in the table counts, so it lives until consent would expire.
  transactions_.emplace(
      tid,
      Transaction{TxKind::consent, *selected_index_, selected_->base, selected_->remote.address,
                  request, now + config_.consent_timeout, config_.consent_timeout, 0});
  ++stats_.consent_checks_sent;
  queue_transmit(selected_->base, selected_->remote.address, std::move(request),
                 selected_->local.transport);
}

void IceAgent::start_gather(Instant now, size_t slot_index) {
  GatherSlot& slot = gather_slots_[slot_index];
  slot.started = true;
  auto tid = stun::random_transaction_id(rng_);
  Bytes request =
      stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid).finish(true);
  const SocketAddress& base = local_bases_[slot.base];
  transactions_.emplace(tid, Transaction{TxKind::gather, slot_index, base, slot.server, request,
                                         now + config_.initial_rto, config_.initial_rto,
                                         config_.max_gather_transmissions - 1});
  queue_transmit(base, slot.server, std::move(request), TransportProtocol::udp);
}

Status IceAgent::send(Bytes data) {
  if (!selected_) return Error{Errc::invalid_state, "no selected candidate pair"};
  if (consent_lost_) return Error{Errc::invalid_state, "consent to send expired (RFC 7675)"};
  queue_transmit(selected_->base, selected_->remote.address, std::move(data),
                 selected_->local.transport);
  return {};
}

void IceAgent::send_error(const SocketAddress& local, const SocketAddress& to,
                          const stun::Message& req, uint16_t code, const char* reason,
                          const std::vector<uint16_t>* unknown) {
  auto b = stun::MessageBuilder::response_to(req, stun::Class::error_response);
  b.add_error_code(code, reason);
  if (unknown) b.add_unknown_attributes(*unknown);
  // RFC 8489 section 9.1.3: a 401 or 400 carries no MESSAGE-INTEGRITY; a 487 answers an
  // authenticated request and is signed (RFC 8445 section 7.3.1.1).
  Bytes out = code == stun::error::kRoleConflict
                  ? std::move(b).finish_with_integrity(as_bytes(local_credentials_.pwd), true)
                  : std::move(b).finish(true);
  queue_transmit(local, to, std::move(out), input_protocol_);
}

// ---------------------------------------------------------------------------------------------
// Receiving

bool IceAgent::handle_packet(Instant now, const SocketAddress& local, const SocketAddress& from,
                             ByteView data, TransportProtocol protocol) {
  // A lite agent sends no consent checks; any packet on the selected pair (DTLS, the peer's
  // checks) shows the path is alive, so a peer with a long consent interval is not taken for
  // disconnected between its checks. Consent itself still comes from checks only.
  if (config_.lite && selected_ && from == selected_->remote.address && local == selected_->base)
    last_heard_ = now;
  if (!stun::looks_like_stun(data)) return false;
  // A withdrawn base (a relay whose allocation died) answers nothing and checks nothing.
  if (protocol == TransportProtocol::udp && withdrawn_base(local)) return true;
  input_protocol_ = protocol == TransportProtocol::udp ? protocol : TransportProtocol::tcp;
  auto parsed = stun::Message::parse(data);
  if (!parsed) {
    ++stats_.rejected_packets;
    return true;  // STUN-shaped garbage: dropped here, nobody else wants it
  }
  const stun::Message& msg = *parsed;
  if (msg.raw_method() != static_cast<uint16_t>(stun::Method::binding)) return false;  // TURN
  if (state_ == IceState::closed) return true;
  switch (msg.cls()) {
    case stun::Class::request:
      handle_request(now, local, from, msg);
      break;
    case stun::Class::indication:
      break;  // keepalive (RFC 8445 section 11)
    case stun::Class::success_response:
    case stun::Class::error_response:
      if (!transactions_.count(msg.transaction_id())) return false;
      handle_response(now, local, from, msg);
      break;
  }
  pace(now);
  maybe_nominate(now);
  update_connectivity(now);
  return true;
}

void IceAgent::handle_request(Instant now, const SocketAddress& local, const SocketAddress& from,
                              const stun::Message& req) {
  // RFC 8489 section 6.3.1 and RFC 8445 section 7.3: validate before anything else.
  auto unknown = req.unknown_comprehension_required();
  if (!unknown.empty()) {
    send_error(local, from, req, stun::error::kUnknownAttribute, "Unknown Attribute", &unknown);
    return;
  }
  auto username = req.username();
  if (!username || !req.has_message_integrity()) {
    send_error(local, from, req, stun::error::kBadRequest, "Bad Request", nullptr);
    return;
  }
  const std::string& ufrag = local_credentials_.ufrag;
  if (username->size() <= ufrag.size() || username->substr(0, ufrag.size()) != ufrag ||
      (*username)[ufrag.size()] != ':' || !req.check_integrity(as_bytes(local_credentials_.pwd))) {
    ++stats_.rejected_packets;
    send_error(local, from, req, stun::error::kUnauthorized, "Unauthorized", nullptr);
    return;
  }
  auto priority = req.priority();
  if (!priority) {
    send_error(local, from, req, stun::error::kBadRequest, "PRIORITY missing", nullptr);
    return;
  }
  ++stats_.requests_received;

  // RFC 8445 section 7.3.1.1: role conflicts, settled by the tie-breakers.
  if (!config_.lite) {
    auto their_controlling = req.ice_controlling();
    auto their_controlled = req.ice_controlled();
    if (role_ == Role::controlling && their_controlling) {
      if (tiebreaker_ >= *their_controlling) {
        send_error(local, from, req, stun::error::kRoleConflict, "Role Conflict", nullptr);
        return;
      }
      switch_role(Role::controlled);
    } else if (role_ == Role::controlled && their_controlled) {
      if (tiebreaker_ >= *their_controlled) {
        switch_role(Role::controlling);
      } else {
        send_error(local, from, req, stun::error::kRoleConflict, "Role Conflict", nullptr);
        return;
      }
    }
  }

  // RFC 8445 section 7.3.1.2: the success response reflects the source address.
  auto b = stun::MessageBuilder::response_to(req, stun::Class::success_response);
  b.add_xor_mapped_address(from);
  queue_transmit(local, from,
                 std::move(b).finish_with_integrity(as_bytes(local_credentials_.pwd), true),
                 input_protocol_);

  auto local_index = find_local(local, input_protocol_);
  if (!local_index) return;  // arrived on a socket we were not told about

  // RFC 8445 section 7.3.1.3: an unknown source is a peer-reflexive remote candidate.
  auto remote_index = find_remote(from, input_protocol_);
  if (!remote_index) {
    if (remote_.size() >= config_.max_remote_candidates) return;
    Candidate c;
    c.foundation = "prflx" + std::to_string(++next_prflx_foundation_);
    c.component = kComponent;
    c.transport = input_protocol_;
    // RFC 6544 section 7.2.1: a check on a connection we accepted comes from an active peer.
    if (input_protocol_ == TransportProtocol::tcp)
      c.tcp_type = local_candidates_[*local_index].tcp_type == TcpType::active ? TcpType::passive
                                                                               : TcpType::active;
    c.priority = *priority;
    c.address = from;
    c.type = CandidateType::peer_reflexive;
    remote_.push_back(RemoteCandidate{std::move(c)});
    remote_index = remote_.size() - 1;
  }
  auto pair_index = find_pair(*local_index, *remote_index);
  if (!pair_index) {
    pair_index = add_pair(*local_index, *remote_index, PairState::waiting);
    if (!pair_index) return;  // pair limit reached
  }
  Pair& p = pairs_[*pair_index];
  if (!stats_.started) stats_.started = now;

  if (config_.lite) {
    // RFC 8445 section 7.3.1.5 for a lite agent: the pair the nominating check came on is
    // selected; checks on the selected pair are the peer's proof of consent.
    if (state_ == IceState::new_) set_state(IceState::checking);
    p.valid = true;
    p.valid_local = p.local;
    p.valid_priority = p.priority;
    p.state = PairState::succeeded;
    if (req.use_candidate()) {
      p.nominated = true;
      select_pair(now, *pair_index);
    }
    if (selected_index_ == pair_index) last_consent_ = now;
    return;
  }

  bool nominate = req.use_candidate() && role_ == Role::controlled;
  bool retransmission = p.last_peer_check == req.transaction_id();
  p.last_peer_check = req.transaction_id();
  if (retransmission && p.state == PairState::in_progress) {
    if (nominate) p.nominate_on_success = true;
    return;
  }
  // RFC 8445 section 7.3.1.4: triggered checks.
  switch (p.state) {
    case PairState::succeeded:
      if (nominate) {
        p.nominated = true;
        select_pair(now, *pair_index);
      }
      break;
    case PairState::in_progress:
      // Cancel the running check and check again now: on a lossy link the peer's check
      // arriving is the best hint that the path works in both directions.
      if (p.in_flight) {
        auto it = transactions_.find(*p.in_flight);
        if (it != transactions_.end()) it->second.cancelled = true;
      }
      [[fallthrough]];
    case PairState::frozen:
    case PairState::waiting:
    case PairState::failed:
      p.state = PairState::waiting;
      if (nominate) p.nominate_on_success = true;
      if (std::none_of(triggered_.begin(), triggered_.end(),
                       [&](const Triggered& t) { return t.pair == *pair_index; }))
        triggered_.push_back(Triggered{*pair_index, false});
      break;
  }
  if (!checking_since_ && remote_credentials_) start_checking(now);
}

void IceAgent::handle_response(Instant now, const SocketAddress& local, const SocketAddress& from,
                               const stun::Message& msg) {
  auto it = transactions_.find(msg.transaction_id());
  Transaction tx = it->second;
  if (tx.kind == TxKind::gather) {
    transactions_.erase(it);
    on_gather_done(now, tx.index, msg.cls() == stun::Class::success_response ? &msg : nullptr);
    return;
  }
  // Responses to checks are signed with the peer's password, the key the request used.
  if (!remote_credentials_ || !msg.check_integrity(as_bytes(remote_credentials_->pwd))) {
    ++stats_.rejected_packets;  // RFC 8445 section 7.2.5.2.? : discard, keep waiting
    return;
  }
  transactions_.erase(it);
  ++stats_.responses_received;
  if (tx.kind == TxKind::consent) {
    if (msg.cls() == stun::Class::success_response && tx.index == selected_index_) {
      last_consent_ = now;
      unanswered_since_.reset();
      next_consent_ = now + jittered_consent_interval();
    }
    return;
  }
  size_t index = tx.index;
  if (index >= pairs_.size()) return;
  Pair& p = pairs_[index];
  if (p.in_flight == msg.transaction_id()) p.in_flight.reset();

  // RFC 8445 section 7.2.5.2.1: the response must come back on the same 5-tuple.
  if (from != tx.to || local != tx.from) {
    on_check_failure(now, index);
    return;
  }
  if (msg.cls() == stun::Class::error_response) {
    auto err = msg.error_code();
    if (err && err->code == stun::error::kRoleConflict) {
      // RFC 8445 section 7.2.5.1: take the other role (unless a conflict already switched
      // it) and check the pair again.
      if (tx.role == role_)
        switch_role(role_ == Role::controlling ? Role::controlled : Role::controlling);
      p.state = PairState::waiting;
      triggered_.push_back(Triggered{index, false});
      return;
    }
    on_check_failure(now, index);
    return;
  }
  on_check_success(now, index, tx, msg);
}

void IceAgent::on_check_success(Instant now, size_t index, const Transaction& tx,
                                const stun::Message& msg) {
  auto mapped = msg.xor_mapped_address();
  if (!mapped) {
    on_check_failure(now, index);
    return;
  }
  const Pair& p = pairs_[index];
  // RFC 8445 section 7.2.5.3.1: a mapped address we do not know is a peer-reflexive local
  // candidate, with the priority the check carried; it is not signaled.
  auto valid_local = find_local(*mapped, local_candidates_[p.local].transport);
  if (!valid_local) {
    Candidate c;
    c.foundation = "prflx" + std::to_string(++next_prflx_foundation_);
    c.component = kComponent;
    c.transport = local_candidates_[p.local].transport;
    c.priority =
        compute_priority(type_preference(CandidateType::peer_reflexive, c.transport),
                         local_preference_of(local_candidates_[p.local].priority), kComponent);
    c.address = *mapped;
    c.type = CandidateType::peer_reflexive;
    c.related = local_bases_[p.local];
    valid_local = add_local(std::move(c), false);
  }
  Pair& pair = pairs_[index];
  pair.state = PairState::succeeded;
  pair.valid = true;
  pair.valid_local = *valid_local;
  pair.valid_priority = pair_priority(local_candidates_[*valid_local].priority,
                                      remote_[pair.remote].candidate.priority);
  if (!stats_.first_success) stats_.first_success = now;
  if (!first_success_at_) first_success_at_ = now;
  unfreeze_foundation(pair_foundation(pair));

  if (selected_index_ == index) last_consent_ = now;
  if (tx.use_candidate && role_ == Role::controlling) {
    // RFC 8445 section 7.2.5.3.4: the check carried USE-CANDIDATE, so its valid pair is
    // nominated. In aggressive mode a later, better pair may still take over.
    if (nominating_ == index) nominating_.reset();
    if (!selected_index_ || pairs_[*selected_index_].valid_priority < pair.valid_priority ||
        config_.nomination == Nomination::regular) {
      pair.nominated = true;
      select_pair(now, index);
    } else if (*selected_index_ != index && !nominating_) {
      // Aggressive mode: a worse pair's check nominated it after the selected one's. A lite
      // peer takes the pair of the latest USE-CANDIDATE (section 7.3.1.5 as it applies to a
      // lite agent here), so nominate the selected pair once more to keep both ends on it.
      nominating_ = *selected_index_;
      triggered_.push_front(Triggered{*selected_index_, true});
    }
  } else if (role_ == Role::controlled && pair.nominate_on_success) {
    // RFC 8445 section 7.3.1.5: USE-CANDIDATE arrived before our check succeeded.
    pair.nominated = true;
    select_pair(now, index);
  }
}

void IceAgent::on_check_failure(Instant now, size_t index) {
  Pair& p = pairs_[index];
  p.state = PairState::failed;
  p.in_flight.reset();
  if (nominating_ == index) {
    // The nominating check got no answer: this pair is no longer known to work.
    nominating_.reset();
    p.valid = false;
  }
  update_connectivity(now);
}

void IceAgent::on_gather_done(Instant now, size_t slot_index, const stun::Message* response) {
  GatherSlot& slot = gather_slots_[slot_index];
  slot.done = true;
  if (response) {
    auto mapped = response->xor_mapped_address();
    if (!mapped) mapped = response->mapped_address();
    slot.mapped = mapped;
    const Candidate& base = local_candidates_[slot.base];
    // RFC 8445 section 5.1.3: a reflexive address equal to an existing candidate is redundant.
    if (mapped && !find_local(*mapped, TransportProtocol::udp)) {
      std::string key = "srflx/" + base.address.ip().to_string() + "/" + slot.server.to_string();
      auto [it, inserted] = foundations_.emplace(key, static_cast<int>(foundations_.size()) + 1);
      Candidate c;
      c.foundation = std::to_string(it->second);
      c.component = kComponent;
      c.transport = TransportProtocol::udp;
      c.priority =
          compute_priority(type_preference(CandidateType::server_reflexive, TransportProtocol::udp),
                           local_preference_of(base.priority), kComponent);
      c.address = *mapped;
      c.type = CandidateType::server_reflexive;
      c.related = base.address;
      add_local(std::move(c), true);
    }
  }
  check_gathering_complete();
  (void)now;
}

void IceAgent::select_pair(Instant now, size_t index) {
  Pair& p = pairs_[index];
  bool changed = selected_index_ != index;
  selected_index_ = index;
  checks_done_ = true;
  if (!changed && selected_) return;
  const Candidate& local = local_candidates_[p.valid ? p.valid_local : p.local];
  selected_ = SelectedPair{local, remote_[p.remote].candidate, local_bases_[p.local]};
  if (!stats_.nominated) stats_.nominated = now;
  last_consent_ = now;
  last_heard_ = now;
  unanswered_since_.reset();
  consent_lost_ = false;
  if (!config_.lite) next_consent_ = now + jittered_consent_interval();
  emit(event::SelectedPairChanged{*selected_});
  set_state(IceState::connected);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

void IceAgent::restart(Instant now) {
  if (state_ == IceState::closed) return;
  local_credentials_.ufrag = rng_.ice_chars(kUfragLength);
  local_credentials_.pwd = rng_.ice_chars(kPwdLength);
  reset_checks();
  // The old selected pair carries data until a new one is selected, but without consent
  // checks (the peer no longer knows our old credentials); the consent timeout still runs.
  for (size_t i = 0; i < local_candidates_.size(); ++i)
    if (local_candidates_[i].type != CandidateType::peer_reflexive && !withdrawn(i))
      emit(event::LocalCandidate{local_candidates_[i]});
  if (gathering_complete_sent_) emit(event::GatheringComplete{});
  set_state(IceState::checking);
  pace(now);
}

void IceAgent::close() {
  // What is already queued still goes out (a DTLS close_notify, an SCTP ABORT); nothing new
  // is produced.
  transactions_.clear();
  triggered_.clear();
  set_state(IceState::closed);
}

std::optional<Transmit> IceAgent::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Transmit t = std::move(transmits_.front());
  transmits_.pop_front();
  return t;
}

std::optional<IceEvent> IceAgent::poll_event() {
  if (events_.empty()) return std::nullopt;
  IceEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace cellrtc::ice
