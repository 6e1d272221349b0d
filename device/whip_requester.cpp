#include "device/whip_requester.h"

#include <memory>
#include <utility>

namespace cellrtc::device {

WhipRequester::WhipRequester(WhipClient& client, runtime::EventLoop& loop, Completion on_done)
    : client_(client), loop_(loop), on_done_(std::move(on_done)), worker_([this] { work(); }) {}

WhipRequester::~WhipRequester() {
  *alive_ = false;
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
    jobs_.clear();
  }
  client_.cancel();
  wake_.notify_all();
  worker_.join();
  client_.reset_cancel();
}

void WhipRequester::submit(uint64_t id, whip::WhipRequest request) {
  ++in_flight_;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({id, std::move(request)});
  }
  wake_.notify_one();
}

void WhipRequester::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return quit_ || !jobs_.empty(); });
      if (quit_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto result =
        std::make_shared<whip::WhipResult<whip::HttpResponse>>(client_.perform(job.request));
    loop_.post([this, alive = alive_, id = job.id, result] {
      if (!*alive) return;
      --in_flight_;
      on_done_(id, std::move(*result));
    });
  }
}

}  // namespace cellrtc::device
