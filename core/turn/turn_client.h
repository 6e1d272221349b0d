// A TURN client (RFC 8656), sans-IO: one allocation on one TURN server, over UDP, TCP or TLS.
//
//   TurnClientConfig config;
//   config.transport = TurnTransport::udp;       // tcp / tls: the runtime holds the connection
//   config.credentials = {username, password};   // long-term (TURN REST style) credentials
//   TurnClient turn(config, rng);
//   turn.allocate(now);                          // Allocate; 401 -> authenticated retry
//   turn.handle_input(now, bytes);               // a datagram (UDP) or stream bytes (TCP/TLS)
//   turn.handle_timeout(now);                    // when next_timeout() has passed
//   while (auto b = turn.poll_transmit()) ...    // a datagram to the server, or stream bytes
//   while (auto e = turn.poll_event()) ...       // Allocated, PeerData, TurnError, Closed
//   turn.create_permission(now, peer.ip());      // before the peer's data is relayed
//   turn.send_to(now, peer, data);               // Send indication, or ChannelData once bound
//   turn.bind_channel(now, peer);                // ChannelBind (RFC 8656 section 12)
//   turn.close(now);                             // Refresh with LIFETIME 0 (section 7.2)
//
// Over TLS the bytes in and out are the TLS plaintext: the runtime (or tls::TlsClient) does the
// record layer. The client does not know the server's address; every output goes to it.
//
// What the client does by itself:
// - Long-term credentials (RFC 8489 section 9.2): the first Allocate goes without; a 401 with
//   REALM and NONCE brings an authenticated retry; every later request carries USERNAME, REALM,
//   NONCE and MESSAGE-INTEGRITY; a 438 (stale nonce) brings a retry with the new nonce (bounded).
//   Success responses to authenticated requests must carry a valid MESSAGE-INTEGRITY, else they
//   are ignored (section 9.2.5).
// - Refresh of the allocation before it expires (section 8), of each permission before its
//   300 s lifetime ends (section 9) and of each channel binding before its 600 s (section 12).
// - Retransmission (RFC 8489 section 6.2.1): over UDP, RTO doubling from 500 ms, Rc = 7
//   transmissions and a last wait of Rm = 16 RTOs (39.5 s in all); over TCP/TLS one transmission
//   and a 39.5 s timeout (section 6.2.2).
// - 437 (allocation mismatch) and 486 (quota reached) to Allocate are reported as errors; 486
//   is retried with exponential backoff a bounded number of times (RFC 8656 section 7.4).
//
// Credentials can be replaced (set_credentials): an allocation keeps the username it was made
// with (RFC 8656 section 7.3: a request on an allocation must use the same username), so new
// credentials serve the next allocate(); a refresh the server refuses with 401 (TURN REST
// credentials that expired) ends the allocation with an error, and the owner allocates again.
//
// Not here: EVEN-PORT, RESERVATION-TOKEN, DONT-FRAGMENT, REQUESTED-ADDRESS-FAMILY (IPv6
// relays), MESSAGE-INTEGRITY-SHA256 and PASSWORD-ALGORITHMS (RFC 8489 section 9.2.1 bid-down
// protection), TCP allocations (RFC 6062), ALTERNATE-SERVER redirection (300 is an error).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/common/backoff.h"
#include "core/common/bytes.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/common/transport.h"
#include "core/stun/stun_message.h"
#include "core/turn/stream_framer.h"

namespace cellrtc::turn {

enum class TurnTransport : uint8_t { udp, tcp, tls };
const char* to_string(TurnTransport transport);
// The transport to the TURN server as ICE names it (relayed candidate preferences).
TransportProtocol to_transport_protocol(TurnTransport transport);

struct TurnCredentials {
  std::string username;
  std::string password;
};

struct TurnClientConfig {
  TurnTransport transport = TurnTransport::udp;
  TurnCredentials credentials;
  // Asked for in Allocate and Refresh; the server decides (RFC 8656 section 7.2: 600 s default).
  uint32_t requested_lifetime_s = 600;
  // RFC 8489 section 6.2.1: initial RTO (500 ms recommended), Rc and Rm.
  Duration rto = milliseconds(500);
  uint32_t max_transmissions = 7;
  uint32_t last_wait_rtos = 16;
  // RFC 8489 section 6.2.2: over a reliable transport one transmission, given up after Ti.
  Duration stream_transaction_timeout = milliseconds(39500);
  // The allocation is refreshed this long before it expires, or at 3/4 of its lifetime when
  // that is earlier (short lifetimes).
  Duration refresh_margin = seconds(60);
  // RFC 8656 section 9: permissions last 300 s; section 12: channel bindings 600 s.
  Duration permission_refresh = seconds(240);
  Duration channel_refresh = seconds(540);
  // Retries of a request answered with 438 (stale nonce) in a row.
  uint32_t max_stale_nonce_retries = 3;
  // 486 (allocation quota reached): retries of Allocate with this backoff, then an error.
  BackoffConfig quota_backoff{seconds(5), seconds(60), 0.2};
  uint32_t max_quota_retries = 3;
  // Peers with permissions and channels, and data waiting for a permission (bounds).
  size_t max_permissions = 32;
  size_t max_channels = 32;
  size_t max_pending_per_peer = 4;
  // Send ChannelData once a peer has a channel (4 bytes of overhead instead of 36).
  bool use_channels = true;
  std::string software = "cellrtc";
  StreamFramerConfig framing;
};

enum class TurnState : uint8_t {
  idle,        // before allocate(), or after close() finished
  allocating,  // Allocate in flight (or waiting for a 486 backoff)
  allocated,
  closing,  // Refresh with LIFETIME 0 in flight
  failed,   // the allocation could not be made or was lost; allocate() starts over
};
const char* to_string(TurnState state);

enum class TurnErrorKind : uint8_t {
  unauthorized,         // 401 after an authenticated request: wrong or expired credentials
  stale_nonce_loop,     // 438 more than max_stale_nonce_retries times in a row
  allocation_mismatch,  // 437 (section 7.4: use another 5-tuple, i.e. a new local port)
  quota_reached,        // 486 and out of retries
  server_error,         // any other error response (code and reason in the event)
  timeout,              // no response after the last retransmission
  allocation_expired,   // the allocation's lifetime ended without a successful refresh
  permission_failed,    // CreatePermission refused or timed out
  channel_bind_failed,  // ChannelBind refused or timed out
  protocol,             // a response that breaks the protocol (e.g. no XOR-RELAYED-ADDRESS)
  stream,               // bytes on the TCP/TLS stream that are not TURN framing
};
const char* to_string(TurnErrorKind kind);

namespace event {
// The allocation exists (RFC 8656 section 7.3).
struct Allocated {
  SocketAddress relayed;  // XOR-RELAYED-ADDRESS: what peers send to
  SocketAddress mapped;   // XOR-MAPPED-ADDRESS: our address as the server sees it
  uint32_t lifetime_s = 0;
};
// Data a peer sent to the relayed address (Data indication or ChannelData).
struct PeerData {
  SocketAddress peer;
  Bytes data;
};
struct TurnError {
  TurnErrorKind kind;
  uint16_t stun_code = 0;  // the error response's code, 0 when there was none
  std::string reason;      // ours, then the server's reason phrase when it gave one
  // True when the allocation is gone (state failed); false for a permission or channel that
  // failed while the allocation lives on, or a 486 that will be retried.
  bool fatal = true;
  std::optional<IpAddress> peer;  // for permission and channel failures
};
// close() finished: the server confirmed the deallocation, or did not answer in time.
struct Closed {};
}  // namespace event

using TurnEvent = std::variant<event::Allocated, event::PeerData, event::TurnError, event::Closed>;

struct TurnClientStats {
  uint64_t requests_sent = 0;  // transmissions, retransmissions included
  uint64_t retransmissions = 0;
  uint64_t responses = 0;
  uint64_t refreshes = 0;  // successful allocation refreshes
  uint64_t send_indications = 0;
  uint64_t channel_data_sent = 0;
  uint64_t data_indications = 0;
  uint64_t channel_data_received = 0;
  uint64_t dropped_inputs = 0;  // unparseable, unexpected or unauthenticated messages
};

class TurnClient {
 public:
  // `rng` (transaction ids) must outlive the client.
  TurnClient(TurnClientConfig config, Random& rng);

  // Starts an allocation (from idle or failed). Fails while one is in progress or exists.
  Status allocate(Instant now);
  // Input from the server: one datagram (UDP) or any piece of the byte stream (TCP/TLS).
  void handle_input(Instant now, ByteView bytes);
  void handle_timeout(Instant now);
  // TCP/TLS: the connection to the server ended (closed, reset, or TLS failed). RFC 8656
  // section 3.1 ties the allocation to the connection, so it is gone: an allocation in progress
  // or in place fails with TurnErrorKind::stream, a close() in progress finishes with Closed.
  // A new allocation needs a new connection (and a new TurnClient, whose framer starts clean).
  void handle_connection_closed(Instant now);
  // The next datagram for the server (UDP), or the next bytes to write to the stream.
  std::optional<Bytes> poll_transmit();
  std::optional<TurnEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  // Installs a permission for `peer` (RFC 8656 section 9), refreshed until close. Allowed
  // while allocating (sent once allocated).
  Status create_permission(Instant now, const IpAddress& peer);
  // Binds a channel to `peer` (RFC 8656 section 12), refreshed until close; also installs
  // the permission. Later send_to(peer) uses ChannelData once the binding is confirmed.
  Status bind_channel(Instant now, const SocketAddress& peer);
  // Sends to a peer through the relay: ChannelData when a channel is bound, else a Send
  // indication. Without a permission for the peer's address one is requested and the data
  // waits for it (at most max_pending_per_peer messages). With use_channels, the first send
  // to a peer also starts a ChannelBind.
  Status send_to(Instant now, const SocketAddress& peer, ByteView data);
  // Deallocates (Refresh with LIFETIME 0, RFC 8656 section 7.2); Closed follows.
  void close(Instant now);

  // New credentials for the next allocation (see the top of this file).
  void set_credentials(TurnCredentials credentials);

  TurnState state() const { return state_; }
  TurnTransport transport() const { return config_.transport; }
  std::optional<SocketAddress> relayed_address() const;
  std::optional<Instant> allocation_expires() const;
  bool has_permission(const IpAddress& peer) const;
  std::optional<uint16_t> channel_for(const SocketAddress& peer) const;
  const TurnClientStats& stats() const { return stats_; }

 private:
  enum class RequestKind : uint8_t { allocate, refresh, deallocate, permission, channel_bind };

  struct Transaction {
    RequestKind kind;
    stun::TransactionId tid{};
    Bytes request;
    bool authenticated = false;
    Md5Digest key{};  // the key the request was sealed with (checks the response)
    uint32_t transmissions = 0;
    Duration rto{};
    Instant next_send;  // next retransmission, or the deadline after the last one
    uint32_t stale_nonce_retries = 0;
    IpAddress peer_ip;     // permission
    SocketAddress peer;    // channel_bind
    uint16_t channel = 0;  // channel_bind
  };

  struct Permission {
    bool confirmed = false;
    bool in_flight = false;
    Instant refresh_at;
    std::deque<std::pair<SocketAddress, Bytes>> pending;
  };

  struct Channel {
    uint16_t number = 0;
    bool confirmed = false;
    bool in_flight = false;
    Instant refresh_at;
  };

  // Building and sending requests.
  stun::MessageBuilder builder(stun::Method method, const stun::TransactionId& tid) const;
  Bytes seal(stun::MessageBuilder b, bool authenticated) const;
  void start_transaction(Instant now, Transaction t);
  void transmit(Instant now, Transaction& t);
  void send_allocate(Instant now, uint32_t stale_nonce_retries);
  void send_refresh(Instant now, RequestKind kind, uint32_t lifetime_s,
                    uint32_t stale_nonce_retries);
  void send_permission(Instant now, const IpAddress& peer, uint32_t stale_nonce_retries);
  void send_channel_bind(Instant now, const SocketAddress& peer, uint16_t channel,
                         uint32_t stale_nonce_retries);
  void resend_with_new_nonce(Instant now, const Transaction& t, bool stale);
  void output(Bytes bytes);

  // Input.
  void handle_message(Instant now, ByteView bytes);
  void handle_channel_data(ByteView bytes);
  void handle_response(Instant now, const stun::Message& m);
  void handle_data_indication(const stun::Message& m);
  void on_success(Instant now, const Transaction& t, const stun::Message& m);
  void on_error(Instant now, const Transaction& t, const stun::Message& m);
  void on_timeout(Instant now, const Transaction& t);

  // State changes.
  void fail(TurnErrorKind kind, uint16_t code, std::string reason);
  void peer_error(TurnErrorKind kind, uint16_t code, std::string reason, const IpAddress& peer);
  void reset_allocation();
  void flush_pending(Instant now, const IpAddress& peer);
  void send_now(const SocketAddress& peer, ByteView data);
  void schedule_refresh(Instant now, uint32_t lifetime_s);
  bool in_flight(RequestKind kind) const;

  TurnClientConfig config_;
  Random& rng_;
  TurnState state_ = TurnState::idle;
  TurnCredentials allocation_credentials_;  // the username of the current allocation
  // Long-term credential state (RFC 8489 section 9.2): known after the first 401.
  std::string realm_;
  std::string nonce_;
  std::optional<Md5Digest> key_;

  std::optional<SocketAddress> relayed_;
  std::optional<Instant> expires_at_;
  std::optional<Instant> refresh_at_;
  std::optional<Instant> quota_retry_at_;
  ExponentialBackoff quota_backoff_;
  uint32_t quota_retries_ = 0;

  std::map<IpAddress, Permission> permissions_;
  std::map<SocketAddress, Channel> channels_;
  uint16_t next_channel_ = 0x4000;

  std::vector<Transaction> transactions_;
  std::deque<Bytes> out_;
  std::deque<TurnEvent> events_;
  StreamFramer framer_;
  TurnClientStats stats_;
};

}  // namespace cellrtc::turn
