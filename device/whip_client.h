// The device's WHIP client (RFC 9725) on libcurl, performing the requests core/whip builds and
// reading the responses with its parsers: POST the offer with the device token, keep
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
#include "core/whip/whip_messages.h"
#include "core/whip/whip_url.h"

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

// When the next TCP connect attempt of one connect starts, counted from the first, after
// `attempts_made` attempts (see WhipClientConfig::connect_attempt_interval): the first at once,
// then one every interval while it starts before the connect timeout and the count allows;
// nullopt: no more attempts.
std::optional<Duration> next_connect_attempt(size_t attempts_made, const WhipClientConfig& config);

// The request and response values, their parsers and the ICE fragments are portable
// (core/whip); the names stay available here.
using whip::IceFragment;
using whip::IceServer;
using whip::WhipError;
using whip::WhipErrorKind;
using whip::WhipSession;
template <class T>
using WhipResult = whip::WhipResult<T>;
using whip::apply_ice_fragment;
using whip::ice_restart_fragment;
using whip::parse_ice_fragment;
using whip::parse_ice_server_links;
using whip::trickle_fragment;
using whip::whip_endpoint;

class WhipClient {
 public:
  explicit WhipClient(WhipClientConfig config);
  ~WhipClient();
  WhipClient(const WhipClient&) = delete;
  WhipClient& operator=(const WhipClient&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  // The response limits of the configuration, for core/whip's parsers.
  whip::WhipLimits limits() const;

  // Performs a request built by core/whip (whip_messages.h): the response whatever its
  // status, or the transport's error (DNS, connect, TLS, timeout, too large, cancelled).
  // request.timeout, when set, bounds it instead of request_timeout.
  WhipResult<whip::HttpResponse> perform(const whip::WhipRequest& request);

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
  WhipClientConfig config_;
  std::string endpoint_;
  std::atomic<bool> cancelled_{false};
  std::atomic<size_t> connect_attempts_{0};
};

}  // namespace cellrtc::device
