#include "firmware/app/request_runner.h"

#include <utility>

namespace cellrtc::firmware {

RequestPumpResult pump_requests(Instant now, streamer::Publisher& publisher, RequestRunner& runner,
                                const whip::WhipLimits& limits, TurnHostCache* turn_hosts) {
  RequestPumpResult result;
  while (auto done = runner.poll_completed()) {
    if (turn_hosts) turn_hosts->store(now, done->turn_hosts);
    if (done->outcome.failure == HttpFailure::none && done->outcome.response.status != 0)
      ++result.responses;
    publisher.handle_response(now, done->id,
                              to_whip_result(done->request, std::move(done->outcome), limits));
    ++result.answered;
  }
  while (auto next = publisher.poll_request()) {
    if (runner.submit(*next)) {
      ++result.submitted;
      continue;
    }
    whip::WhipError e;
    e.kind = whip::WhipErrorKind::network;
    e.message = next->request.what() + ": " + whip::to_string(e.kind) + ": request queue full";
    publisher.handle_response(now, next->id, e);
    ++result.answered;
  }
  return result;
}

}  // namespace cellrtc::firmware
