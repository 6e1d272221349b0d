// ICE agent (RFC 8445), sans-IO: packets and time in; packets, events and the next deadline out.
//
//   IceAgent agent(config, rng);
//   agent.add_host_socket(now, bound_address);         // one per local socket the runtime opened
//   agent.set_remote_credentials(ufrag, pwd);           // from the peer's SDP
//   agent.add_remote_candidate(now, candidate);         // trickled or from SDP (RFC 8838)
//   agent.handle_packet(now, local, from, bytes);       // true when the packet was ICE's STUN
//   agent.handle_timeout(now);
//   while (auto t = agent.poll_transmit()) ...          // checks, responses, gathering, data
//   while (auto e = agent.poll_event()) ...             // candidates, state, selected pair
//   agent.next_timeout();
//
// Full mode in either role and lite mode (RFC 8445 section 2.5: answers checks, never sends
// them, always controlled). One component (data channels multiplex everything on it, RFC 8843).
// Consent freshness per RFC 7675. ICE restart per RFC 8445 section 9.
//
// Later transports plug in as further local candidates: a TURN allocation adds a relayed
// candidate whose base is the relayed address (add_local_candidate), and its Transmits leave
// "from" that address, which the runtime hands to the TURN client instead of a socket; ICE-TCP
// candidates carry TransportProtocol::tcp and pair only with TCP candidates (RFC 6544).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "core/ice/candidate.h"
#include "core/stun/stun_message.h"

namespace cellrtc::ice {

enum class Role : uint8_t { controlling, controlled };

enum class Nomination : uint8_t {
  // RFC 8445 section 8.1.1: checks first, then a second check with USE-CANDIDATE on the best
  // valid pair.
  regular,
  // USE-CANDIDATE on every check, so the first check that succeeds selects its pair: one round
  // trip less. RFC 8445 dropped this mode (RFC 5245 section 8.1.1.2 had it) because two full
  // agents may then select different pairs; toward a lite peer, which only ever has the pairs
  // we check, nothing is lost, so the device uses it toward the server.
  aggressive,
};

enum class IceState : uint8_t { new_, checking, connected, disconnected, failed, closed };
const char* to_string(IceState state);

struct IceConfig {
  Role role = Role::controlling;
  bool lite = false;  // RFC 8445 section 2.5; forces the controlled role
  Nomination nomination = Nomination::regular;
  // Local credentials; generated from the Random source when empty.
  std::string ufrag;
  std::string pwd;
  std::vector<SocketAddress> stun_servers;  // for server-reflexive candidates

  // RFC 8445 section 14.2: pacing of new STUN transactions.
  Duration ta = milliseconds(50);
  // RFC 8489 section 6.2.1: initial RTO, doubled per retransmission up to max_rto, Rc sends.
  Duration initial_rto = milliseconds(500);
  Duration max_rto = milliseconds(3000);
  int max_check_transmissions = 7;
  int max_gather_transmissions = 4;
  // Controlling, regular nomination: nominate the best valid pair once no better pair is still
  // pending, or this long after the first success, whichever comes first.
  Duration nomination_delay = milliseconds(500);
  // Path choice, controlling agent (RFC 6544 section 4.2 ranks UDP above TCP): a valid pair
  // whose local candidate rides TCP (ICE-TCP, or relayed over TURN-TCP/TURN-TLS: see
  // travels_over_tcp) is not nominated while a UDP pair may still succeed, for at
  // most `udp_grace` after checks could start; then it is nominated at once instead of after
  // ICE gave up on UDP (its checks take about 15 s to fail). Without UDP pairs (or once all
  // failed) TCP is nominated without waiting. A UDP pair that succeeds later still takes over
  // in aggressive mode. set_udp_grace_from_round_trip() sets the grace from a measurement.
  Duration udp_grace = seconds(2);
  Duration udp_grace_min = seconds(1);
  Duration udp_grace_max = seconds(4);
  // RFC 7675: consent checks every ~5 s (randomised 0.8..1.2), lost after 30 s without one
  // answered. A lite agent, which sends none, counts the peer's checks instead. The interval
  // is also the keepalive of NAT mappings on the path (the device uses 15 s, below the 30 s
  // UDP timeouts of carrier NATs).
  Duration consent_interval = seconds(5);
  Duration consent_timeout = seconds(30);
  // RFC 7675 section 5.1 sends each consent check once; while the last one is unanswered for
  // this long, a new one follows instead of waiting a whole interval, so a lost check or
  // response costs this much rather than consent.
  Duration consent_retry = seconds(2);
  // State disconnected (recovers when an answer arrives): no consent response for this long
  // and a check and its retry unanswered for consent_retry each. A lite agent: nothing at all
  // (check or data) heard on the selected pair for this long.
  Duration disconnected_after = seconds(8);
  // Checking with no valid pair for this long fails the agent (peers such as libpeer never
  // signal end-of-candidates, so this is the only end for them).
  Duration checking_timeout = seconds(30);
  // Bounds on what the peer can make us hold (RFC 8445 section 6.1.2.5 suggests 100 pairs).
  size_t max_remote_candidates = 32;
  size_t max_pairs = 100;
  std::string software;  // SOFTWARE attribute on requests, empty for none
};

// What one STUN server said about one host socket during gathering, kept for diagnostics
// (a reflexive address equal to the host address yields no candidate, RFC 8445 5.1.3).
struct StunServerResult {
  SocketAddress server;
  SocketAddress base;
  std::optional<SocketAddress> mapped;  // nullopt: no answer or an error response
  bool done = false;
};

struct IceCredentials {
  std::string ufrag;
  std::string pwd;
};

struct SelectedPair {
  Candidate local;
  Candidate remote;
  SocketAddress base;  // the local address to send from
};

// Per-phase timing and counters (RFC 8445 section 14 terms).
struct IceStats {
  std::optional<Instant> started;  // first call that could start checks
  std::optional<Instant> first_check_sent;
  std::optional<Instant> first_success;  // first valid pair
  std::optional<Instant> nominated;      // first pair selected
  uint32_t checks_sent = 0;              // new check transactions
  uint32_t retransmissions = 0;
  uint32_t requests_received = 0;
  uint32_t responses_received = 0;
  uint32_t consent_checks_sent = 0;
  uint32_t role_conflicts = 0;
  uint32_t rejected_packets = 0;  // STUN for us that failed a check (integrity, username)
};

namespace event {
struct LocalCandidate {
  Candidate candidate;
};
struct GatheringComplete {};
struct StateChanged {
  IceState state;
};
struct SelectedPairChanged {
  SelectedPair pair;
};
struct ConsentLost {};
struct RoleChanged {
  Role role;
};
}  // namespace event

using IceEvent = std::variant<event::LocalCandidate, event::GatheringComplete, event::StateChanged,
                              event::SelectedPairChanged, event::ConsentLost, event::RoleChanged>;

class IceAgent {
 public:
  IceAgent(IceConfig config, Random& rng);

  // --- local side
  // A socket the runtime bound (one per interface and family): a host candidate, and the
  // base from which server-reflexive candidates are gathered. Emits LocalCandidate.
  Status add_host_socket(Instant now, const SocketAddress& bound);
  // A local candidate gathered elsewhere (TURN relayed, ICE-TCP); its `address` is its base.
  Status add_local_candidate(Instant now, Candidate candidate);
  // A relayed candidate whose allocation died (refresh refused or unanswered, 437, the TCP/TLS
  // connection to the TURN server lost): its pairs fail and are never checked, nominated or
  // used again, also after an ICE restart. When the selected pair was one of them the state
  // turns disconnected and, as controlling agent, the best pair still valid is nominated at
  // once (a check with USE-CANDIDATE), or checks resume on the pairs not yet tried. The peer
  // is told nothing by signaling (trickle ICE cannot remove a candidate, RFC 8838): it sees
  // the relayed address fall silent and the new nomination.
  Status withdraw_local_candidate(Instant now, const SocketAddress& relayed);
  // No further host sockets: gathering completes once the STUN transactions end.
  void end_of_local_sockets(Instant now);
  const IceCredentials& local_credentials() const { return local_credentials_; }
  const std::vector<Candidate>& local_candidates() const { return local_candidates_; }
  // The peer's candidates, signaled and peer-reflexive, in the order learned.
  std::vector<Candidate> remote_candidates() const;
  size_t remote_candidate_count() const { return remote_.size(); }
  std::vector<StunServerResult> stun_server_results() const;

  // Before checks start: the role and nomination mode that offer/answer decided (RFC 8445
  // section 6.1.1). A lite agent stays controlled.
  void set_role(Role role, Nomination nomination);
  // The grace for UDP (IceConfig::udp_grace) as twice the duration of an exchange that took at
  // least two round trips over the same network (a signaling request on a new TCP connection:
  // handshake, then request), so at least four round trips, within udp_grace_min..max.
  void set_udp_grace_from_round_trip(Duration exchange);
  Duration udp_grace() const { return config_.udp_grace; }

  // --- remote side
  // Setting different credentials than before is the peer's ICE restart (RFC 8445 section 9).
  void set_remote_credentials(Instant now, std::string ufrag, std::string pwd);
  Status add_remote_candidate(Instant now, const Candidate& candidate);
  void set_remote_end_of_candidates(Instant now);  // RFC 8838 section 4.3

  // --- network
  // Returns true when the packet was STUN for this agent (consumed, answered if needed);
  // false for anything else (DTLS, application data), which the caller handles.
  // `protocol` is the transport it came on: TCP for a message taken out of an ICE-TCP
  // connection's RFC 4571 framing (then `local` is the local TCP candidate's address and
  // `from` the connection's remote address); answers go back on the same transport.
  bool handle_packet(Instant now, const SocketAddress& local, const SocketAddress& from,
                     ByteView data, TransportProtocol protocol = TransportProtocol::udp);
  void handle_timeout(Instant now);
  std::optional<Transmit> poll_transmit();
  std::optional<IceEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  // Sends application data over the selected pair; fails without one or once consent is lost
  // (RFC 7675 section 5.1: stop sending when consent expires).
  Status send(Bytes data);
  // RFC 8445 section 9: new local credentials, checks start over; the old selected pair keeps
  // carrying data until a new one is selected. The new credentials go to the peer by signaling.
  void restart(Instant now);
  void close();

  IceState state() const { return state_; }
  Role role() const { return role_; }
  const std::optional<SelectedPair>& selected_pair() const { return selected_; }
  const IceStats& stats() const { return stats_; }
  size_t pair_count() const { return pairs_.size(); }

 private:
  enum class PairState : uint8_t { frozen, waiting, in_progress, succeeded, failed };
  struct RemoteCandidate {
    Candidate candidate;
  };
  struct Pair {
    size_t local;   // index into local_candidates_ (a base: host, relayed, or tcp)
    size_t remote;  // index into remote_;
    uint64_t priority = 0;
    PairState state = PairState::frozen;
    bool nominate_on_success = false;  // controlled: USE-CANDIDATE seen before success
    bool nominated = false;
    bool valid = false;
    uint64_t valid_priority = 0;  // of the valid pair the check produced (RFC 8445 7.2.5.3.2)
    size_t valid_local = 0;       // local candidate of that valid pair (may be srflx/prflx)
    std::optional<stun::TransactionId> in_flight;
    // The peer's last check on this pair: its retransmissions are answered again but trigger
    // no new check of ours.
    std::optional<stun::TransactionId> last_peer_check;
  };
  enum class TxKind : uint8_t { check, gather, consent };
  struct Transaction {
    TxKind kind;
    size_t index;  // pair for check/consent, gather slot for gather
    SocketAddress from;
    SocketAddress to;
    Bytes request;
    Instant next_send;
    Duration rto;
    int sends_left;
    bool use_candidate = false;
    // RFC 8445 section 7.3.1.4: a triggered check replaced this one; it is no longer
    // retransmitted, and its timeout is no failure, but a late response still counts.
    bool cancelled = false;
    Role role = Role::controlling;  // the role the request claimed
    // RFC 8489 section 6.2.2: over TCP the request is sent once (the stream retransmits); the
    // timers still run so the transaction ends when it would have over UDP.
    TransportProtocol protocol = TransportProtocol::udp;
  };
  struct GatherSlot {
    size_t base;  // local candidate index of the host socket
    SocketAddress server;
    std::optional<SocketAddress> mapped;
    bool started = false;
    bool done = false;
  };
  struct Triggered {
    size_t pair;
    bool use_candidate;
  };

  void set_state(IceState s);
  void emit(IceEvent e) { events_.push_back(std::move(e)); }
  void start_checking(Instant now);
  size_t add_local(Candidate c, bool announce);
  std::optional<size_t> find_local(const SocketAddress& addr, TransportProtocol proto) const;
  std::optional<size_t> find_remote(const SocketAddress& addr, TransportProtocol proto) const;
  std::optional<size_t> find_pair(size_t local, size_t remote) const;
  std::optional<size_t> find_pair_by_address(const SocketAddress& base,
                                             const SocketAddress& remote) const;
  std::optional<size_t> add_pair(size_t local, size_t remote, PairState state);
  void form_pairs_for_remote(size_t remote);
  void form_pairs_for_local(size_t local);
  uint64_t pair_priority(uint32_t local_prio, uint32_t remote_prio) const;
  void recompute_priorities();
  std::string pair_foundation(const Pair& p) const;
  void unfreeze_foundation(const std::string& foundation);
  bool unfreeze_next();
  void pace(Instant now);
  bool start_one_transaction(Instant now);
  bool has_paced_work() const;
  void switch_role(Role role);
  void send_check(Instant now, size_t pair, bool use_candidate);
  void send_consent(Instant now);
  void start_gather(Instant now, size_t slot);
  void handle_request(Instant now, const SocketAddress& local, const SocketAddress& from,
                      const stun::Message& msg);
  void handle_response(Instant now, const SocketAddress& local, const SocketAddress& from,
                       const stun::Message& msg);
  void on_check_success(Instant now, size_t pair, const Transaction& tx, const stun::Message& msg);
  void on_check_failure(Instant now, size_t pair);
  void on_gather_done(Instant now, size_t slot, const stun::Message* response);
  void maybe_nominate(Instant now);
  // Path choice: true while a TCP pair must not be nominated (see IceConfig::udp_grace).
  bool holding_for_udp(Instant now) const;
  std::optional<Instant> udp_grace_deadline() const;
  // When a checking agent without a selected pair fails (checking_timeout from the start of
  // checks, or from the loss of the selected pair).
  std::optional<Instant> checking_deadline() const;
  bool withdrawn(size_t local) const;
  bool withdrawn_base(const SocketAddress& base) const;
  void select_pair(Instant now, size_t pair);
  void update_connectivity(Instant now);
  void check_gathering_complete();
  void queue_transmit(const SocketAddress& from, const SocketAddress& to, Bytes data,
                      TransportProtocol proto);
  void send_error(const SocketAddress& local, const SocketAddress& to, const stun::Message& req,
                  uint16_t code, const char* reason, const std::vector<uint16_t>* unknown);
  Duration jittered_consent_interval();
  std::optional<Instant> disconnect_deadline() const;
  void reset_checks();

  IceConfig config_;
  Random& rng_;
  Role role_;
  uint64_t tiebreaker_;
  IceCredentials local_credentials_;
  std::optional<IceCredentials> remote_credentials_;
  IceState state_ = IceState::new_;

  // The transport of the packet handle_packet is handling (answers and peer-reflexive
  // candidates take it).
  TransportProtocol input_protocol_ = TransportProtocol::udp;
  std::vector<Candidate> local_candidates_;
  std::vector<SocketAddress> local_bases_;  // parallel to local_candidates_
  std::vector<RemoteCandidate> remote_;
  std::vector<Pair> pairs_;
  std::map<stun::TransactionId, Transaction> transactions_;
  std::deque<Triggered> triggered_;
  std::vector<GatherSlot> gather_slots_;
  std::map<std::string, int> foundations_;  // foundation key -> number
  uint32_t next_prflx_foundation_ = 0;

  bool local_sockets_done_ = false;
  bool gathering_complete_sent_ = false;
  bool remote_end_of_candidates_ = false;
  std::optional<Instant> next_pace_;         // next new transaction may start
  std::optional<Instant> first_success_at_;  // for the nomination delay
  std::optional<Instant> checking_since_;
  std::optional<Instant> path_lost_at_;   // the selected pair's relay was withdrawn
  std::vector<SocketAddress> withdrawn_;  // bases of withdrawn relayed candidates
  std::optional<size_t> selected_index_;
  std::optional<SelectedPair> selected_;
  std::optional<size_t> nominating_;         // pair with a USE-CANDIDATE check in flight
  bool checks_done_ = false;                 // a pair is selected: no more ordinary checks
  bool udp_grace_passed_ = false;            // handle_timeout ran at or after the UDP grace's end
  Instant last_consent_;                     // last proof the peer wants our traffic
  Instant last_heard_;                       // lite: last packet of any kind on the selected pair
  std::optional<Instant> unanswered_since_;  // first consent check since the last answer
  std::optional<Instant> next_consent_;
  bool consent_lost_ = false;

  std::deque<Transmit> transmits_;
  std::deque<IceEvent> events_;
  IceStats stats_;
};

}  // namespace cellrtc::ice
