// The device's WHIP client (RFC 9725) on libcurl: POST the offer with the device token, keep
// the session's Location and ETag, PATCH for an ICE restart, DELETE at the end. Blocking calls,
// each bounded by a connect and a total timeout and cancellable from another thread.
//
// Every failure comes back as a WhipError with one line saying what failed ("POST
// http://h/whip: connection refused", "... HTTP 503 Service Unavailable", "... answer is not
// SDP") and whether trying again can help: 401 and 403 (a wrong or revoked token) cannot.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/common/time.h"

namespace cellrtc::device {

struct WhipClientConfig {
  // The WHIP endpoint. A URL without a path (http://host:8080 or .../) gets "/whip" appended;
  // any other path is used as given (whip_endpoint()).
  std::string url;
  std::string token;    // sent as Authorization: Bearer; empty sends none
  std::string ca_file;  // a PEM file of CAs to trust for https, instead of the system's
  Duration connect_timeout = seconds(10);
  Duration request_timeout = seconds(20);  // the whole request, connect included
  // A TCP connect whose SYN gets no answer is tried again on a fresh socket every
  // connect_attempt_interval, the earlier attempts kept, until one connects (the others are
  // closed), one is refused, or connect_timeout passes. The kernel alone retransmits a SYN
  // 1 s, then 3 s, 7 s, ... after the first (RFC 6298 section 5.5 and appendix A: initial RTO
  // 1 s, doubled); a request made while the radio link is down would so wait for a SYN sent up
  // to several seconds after the link came back (an ICE restart's PATCH during an outage).
  // With attempts the first SYN after the link returns leaves within one interval. Zero: one
  // attempt, the kernel's retransmissions only.
  Duration connect_attempt_interval = milliseconds(500);
  size_t max_connect_attempts = 20;       // per connect, each a socket open until the connect ends
  size_t max_response_bytes = 64 * 1024;  // an SDP answer is a few KB
  size_t max_header_bytes = 16 * 1024;
};

// The endpoint a --server value names (see WhipClientConfig::url).
std::string whip_endpoint(std::string_view server);

// When the next TCP connect attempt of one connect starts, counted from the first, after
// `attempts_made` attempts (see WhipClientConfig::connect_attempt_interval): the first at once,
// then one every interval while it starts before the connect timeout and the count allows;
// nullopt: no more attempts.
std::optional<Duration> next_connect_attempt(size_t attempts_made, const WhipClientConfig& config);

enum class WhipErrorKind : uint8_t {
  dns,           // the host name did not resolve
  connect,       // TCP connect failed (refused, unreachable)
  tls,           // handshake or certificate verification failed
  timeout,       // no complete answer in time
  network,       // the connection broke in another way
  unauthorized,  // 401 or 403: the token is wrong, never retried
  not_found,     // 404: no such endpoint or the session is gone
  http,          // another unexpected status (4xx, 5xx)
  bad_response,  // the body or headers are not what WHIP answers (not SDP, no Location)
  too_large,     // the response passed max_response_bytes
  cancelled,     // cancel() was called
  invalid,       // the client was misconfigured (bad URL, unreadable CA file)
};
const char* to_string(WhipErrorKind kind);

struct WhipError {
  WhipErrorKind kind = WhipErrorKind::network;
  int status = 0;  // the HTTP status, when one came
  std::string message;
  // Whether waiting and trying again can succeed.
  bool retryable() const {
    return kind != WhipErrorKind::unauthorized && kind != WhipErrorKind::invalid &&
           kind != WhipErrorKind::cancelled;
  }
};

template <class T>
using WhipResult = Result<T, WhipError>;

// A TURN or STUN server the server offered in a Link header (RFC 9725 section 4.6).
struct IceServer {
  std::string url;  // turn:host:port?transport=udp, stun:...
  std::string username;
  std::string credential;
  bool operator==(const IceServer&) const = default;
};

// Link header values with rel="ice-server", in order; other links are skipped.
std::vector<IceServer> parse_ice_server_links(std::string_view link_header);

struct WhipSession {
  std::string resource_url;  // Location, resolved against the endpoint
  std::string etag;
  std::string answer;  // the server's SDP answer
  std::vector<IceServer> ice_servers;
};

// The ICE part of a description (RFC 8840 fragment or full SDP): credentials and candidates.
struct IceFragment {
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> candidates;  // "candidate:..." without "a="
};
std::optional<IceFragment> parse_ice_fragment(std::string_view sdp);
// The fragment a WHIP client PATCHes for an ICE restart (RFC 9725 section 4.3.2, RFC 8840):
// the new credentials and candidates of our new offer, under its first m= line and mid.
std::optional<std::string> ice_restart_fragment(std::string_view offer_sdp);
// A trickle fragment (RFC 8840 section 4.4, RFC 9725 section 4.3.1) for candidates gathered
// after the offer: our current credentials from `offer_sdp`, its first m= line and mid, and
// `candidates` ("candidate:..." without "a="). nullopt when the offer has no credentials.
std::optional<std::string> trickle_fragment(std::string_view offer_sdp,
                                            const std::vector<std::string>& candidates);
// The previous answer with the ICE credentials and candidates of the server's fragment, to set
// as the remote description after a restart.
std::string apply_ice_fragment(std::string_view answer_sdp, const IceFragment& fragment);

class WhipClient {
 public:
  explicit WhipClient(WhipClientConfig config);
  ~WhipClient();
  WhipClient(const WhipClient&) = delete;
  WhipClient& operator=(const WhipClient&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // POST the offer: 201 with an SDP answer and a Location.
  WhipResult<WhipSession> publish(std::string_view offer_sdp);
  // PATCH an ICE restart with our new offer (If-Match: "*"); the server's answer fragment is
  // applied to session.answer, whose credentials it replaces, and the ETag kept.
  WhipResult<std::string> restart_ice(WhipSession& session, std::string_view offer_sdp);
  // PATCH a trickle fragment (RFC 9725 section 4.3.1): 204 (or 200) is success.
  WhipResult<bool> trickle(const WhipSession& session, std::string_view fragment);
  // DELETE the session; a 404 (already gone) counts as done.
  // `timeout` bounds this request instead of request_timeout.
  WhipResult<bool> end(const WhipSession& session, std::optional<Duration> timeout = std::nullopt);

  // Makes a request in progress (on another thread) fail soon with `cancelled`, and every
  // later one at once, until reset_cancel().
  void cancel() { cancelled_.store(true); }
  void reset_cancel() { cancelled_.store(false); }

  // TCP connect attempts made so far (every socket opened towards the server), over all
  // requests.
  size_t connect_attempts() const { return connect_attempts_.load(); }

 private:
  struct Response;
  WhipResult<Response> request(const char* method, const std::string& url,
                               const std::vector<std::string>& headers, std::string_view body,
                               std::optional<Duration> timeout = std::nullopt);

  WhipClientConfig config_;
  std::string endpoint_;
  std::atomic<bool> cancelled_{false};
  std::atomic<size_t> connect_attempts_{0};
};

}  // namespace cellrtc::device
