// The publisher's HTTP requests, performed away from the app loop: the loop hands each one to
// a RequestRunner (on the device a task running esp_http_client, one request at a time, so
// answers come back in the order asked) and, when the runner signals, takes the finished ones
// back and gives them to the publisher as its answers (http_outcome.h maps them).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/common/time.h"
#include "core/streamer/publisher.h"
#include "firmware/app/http_outcome.h"
#include "firmware/app/turn_host_cache.h"

namespace cellrtc::firmware {

struct CompletedRequest {
  uint64_t id = 0;
  whip::WhipRequest request;
  HttpOutcome outcome;
  // The TURN names of a WHIP POST's answer, looked up by the worker (lookup_turn_hosts) so
  // that the loop never waits for DNS.
  std::vector<TurnHostLookup> turn_hosts = {};
};

class RequestRunner {
 public:
  virtual ~RequestRunner() = default;
  // Hands a request to the worker; false when its queue is full (nothing was taken).
  virtual bool submit(const streamer::PendingRequest& request) = 0;
  // A finished request, or nullopt; never blocks.
  virtual std::optional<CompletedRequest> poll_completed() = 0;
  // The network the requests went out on is gone: every request handed over and not yet taken
  // back is cancelled. Queued ones are not performed, the one being performed is aborted
  // where the platform can (else it ends by its own timeout), and none of them comes back
  // from poll_completed, not even one that finished just before: its answer is stale, and an
  // HTTP response would pass for proof that the network works. The publisher expires what it
  // waited for by its own deadlines.
  virtual void cancel_all() = 0;
};

struct RequestPumpResult {
  size_t submitted = 0;
  size_t answered = 0;   // answers given to the publisher (finished or refused requests)
  size_t responses = 0;  // of those, HTTP responses: proof the network carries traffic
};

// Gives the publisher the answers of finished requests, then submits what it asks for. A
// request the runner cannot take is answered at once as a network error ("request queue
// full"), so the publisher's own retry and backoff handle it. Call it outside socket callbacks
// (handle_response may replace the session). `turn_hosts` (or null) takes each answer's TURN
// name lookups before the publisher gets the answer (whose relays start from them).
RequestPumpResult pump_requests(Instant now, streamer::Publisher& publisher, RequestRunner& runner,
                                const whip::WhipLimits& limits = {},
                                TurnHostCache* turn_hosts = nullptr);

}  // namespace cellrtc::firmware
