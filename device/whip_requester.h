// Performs WHIP requests off the device's event loop: WhipClient's calls block for a round
// trip or up to the request's timeout, so a worker thread makes them one at a time, in the
// order they were submitted (a trickle PATCH after its POST), and each completion is posted to
// the loop, where the callback runs. The loop's sockets, camera and timers keep being served
// while a request waits on a slow or silent server.
//
// WhipClient stays as it is (its parallel connect attempts every connect_attempt_interval, its
// timeouts, size limits and error kinds); cancel() makes the request in progress and every
// queued one fail soon with `cancelled`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "core/whip/whip_messages.h"
#include "device/whip_client.h"
#include "runtime/event_loop.h"

namespace cellrtc::device {

class WhipRequester {
 public:
  using Completion = std::function<void(uint64_t id, whip::WhipResult<whip::HttpResponse>)>;

  // `on_done` runs on the loop's thread, once per submitted request (never after the requester
  // is destroyed). Both `client` and `loop` must outlive the requester.
  WhipRequester(WhipClient& client, runtime::EventLoop& loop, Completion on_done);
  // Cancels what is in progress and joins the worker; completions not yet run are dropped.
  ~WhipRequester();
  WhipRequester(const WhipRequester&) = delete;
  WhipRequester& operator=(const WhipRequester&) = delete;

  // Loop thread: queues a request; its completion comes later with `id`.
  void submit(uint64_t id, whip::WhipRequest request);
  // Submitted requests whose completion has not run yet (loop thread).
  size_t in_flight() const { return in_flight_; }

 private:
  struct Job {
    uint64_t id;
    whip::WhipRequest request;
  };
  void work();

  WhipClient& client_;
  runtime::EventLoop& loop_;
  Completion on_done_;
  size_t in_flight_ = 0;  // loop thread only
  // Loop thread only: false once destroyed, so a completion posted but not yet run is dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // guarded by mutex_
  bool quit_ = false;     // guarded by mutex_
  std::thread worker_;    // last: starts after the members it uses
};

}  // namespace cellrtc::device
