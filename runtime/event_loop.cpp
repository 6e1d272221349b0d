#include "runtime/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

namespace cellrtc::runtime {
namespace {

constexpr uint64_t kWakeToken = 0;
constexpr int kMaxEventsPerWait = 64;

uint32_t epoll_mask(Interest interest) {
  uint32_t events = 0;
  if (interest.readable) events |= EPOLLIN;
  if (interest.writable) events |= EPOLLOUT;
  return events;
}

// epoll_wait counts in milliseconds; round up so the loop never wakes before a deadline and
// spins through a run of zero-timeout waits.
int wait_timeout_ms(Duration until) {
  if (until <= Duration::zero()) return 0;
  int64_t ms = (until.count() + 999) / 1000;
  return ms > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                              : static_cast<int>(ms);
}

}  // namespace

OsResult<std::unique_ptr<EventLoop>> EventLoop::create() {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return OsError::from_errno("epoll_create1");
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    OsError e = OsError::from_errno("eventfd");
    ::close(epoll_fd);
    return e;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    OsError e = OsError::from_errno("epoll_ctl");
    ::close(wake_fd);
    ::close(epoll_fd);
    return e;
  }
  return std::unique_ptr<EventLoop>(new EventLoop(epoll_fd, wake_fd));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

OsStatus EventLoop::watch(int fd, Interest interest, FdCallback callback) {
  if (fd < 0 || watches_by_fd_.count(fd) != 0) return OsError::invalid_argument("watch");
  auto w = std::make_shared<Watch>(Watch{next_token_++, std::move(callback)});
  epoll_event ev{};
  ev.events = epoll_mask(interest);
  ev.data.u64 = w->token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return OsError::from_errno("epoll_ctl");
  watches_by_fd_[fd] = w;
  watches_by_token_[w->token] = std::move(w);
  return {};
}

OsStatus EventLoop::modify(int fd, Interest interest) {
  auto it = watches_by_fd_.find(fd);
  if (it == watches_by_fd_.end()) return OsError::invalid_argument("modify");
  epoll_event ev{};
  ev.events = epoll_mask(interest);
  ev.data.u64 = it->second->token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return OsError::from_errno("epoll_ctl");
  return {};
}

void EventLoop::unwatch(int fd) {
  auto it = watches_by_fd_.find(fd);
  if (it == watches_by_fd_.end()) return;
  // Fails only if the fd is already closed, and then the kernel has dropped it from the set.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  watches_by_token_.erase(it->second->token);
  watches_by_fd_.erase(it);
}

TimerId EventLoop::add_timer(Instant at, Task task) {
  TimerId id = next_timer_id_++;
  timers_.emplace(TimerKey{at, id}, std::move(task));
  timer_deadlines_.emplace(id, at);
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_deadlines_.erase(it);
}

std::optional<Instant> EventLoop::next_timer() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.at;
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  // A full eventfd counter (EAGAIN) already means "wake up", so the result is not needed.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::drain_wake_fd() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
}

size_t EventLoop::run_posted() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  // Tasks posted by these tasks wait for the next iteration, so one iteration is bounded.
  for (auto& t : tasks)
    t();
  return tasks.size();
}

size_t EventLoop::run_due_timers() {
  Instant now = clock_.now();
  // Timers added while these run (even ones already due) wait for the next iteration, so a
  // timer that re-arms itself for "now" cannot starve fd events.
  TimerId limit = next_timer_id_;
  size_t ran = 0;
  for (;;) {
    if (stop_requested_.load(std::memory_order_acquire)) break;
    auto it = timers_.begin();
    if (it == timers_.end() || it->first.at > now) break;
    if (it->first.id >= limit) {
      // Skip past new timers to older ones due at a later instant that is still <= now.
      auto old = std::find_if(timers_.begin(), timers_.end(), [&](const auto& entry) {
        return entry.first.at > now || entry.first.id < limit;
      });
      if (old == timers_.end() || old->first.at > now) break;
      it = old;
    }
    // Take the task out before running it, so it may cancel or add timers freely.
    auto node = timers_.extract(it);
    timer_deadlines_.erase(node.key().id);
    node.mapped()();
    ++ran;
  }
  return ran;
}

size_t EventLoop::run_once(Instant deadline) {
  if (stop_requested_.load(std::memory_order_acquire)) return 0;
  Instant now = clock_.now();
  Instant wake_at = deadline;
  if (auto t = next_timer(); t && *t < wake_at) wake_at = *t;

  epoll_event events[kMaxEventsPerWait];
  int n = ::epoll_wait(epoll_fd_, events, kMaxEventsPerWait, wait_timeout_ms(wake_at - now));
  if (n < 0) n = 0;  // EINTR: a signal arrived; just go round again

  size_t ran = 0;
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    if (stop_requested_.load(std::memory_order_acquire)) return ran;
    if (events[i].data.u64 == kWakeToken) {
      woken = true;
      continue;
    }
    auto it = watches_by_token_.find(events[i].data.u64);
    if (it == watches_by_token_.end()) continue;  // unwatched earlier in this batch
    // Hold the watch alive while its callback runs, even if the callback unwatches it.
    std::shared_ptr<Watch> w = it->second;
    Readiness r;
    r.readable = (events[i].events & EPOLLIN) != 0;
    r.writable = (events[i].events & EPOLLOUT) != 0;
    r.error = (events[i].events & (EPOLLERR | EPOLLHUP)) != 0;
    w->callback(r);
    ++ran;
  }
  if (woken) drain_wake_fd();
  // Posted tasks run every iteration, not only on a wake event, so a task posted by a callback
  // on the loop thread does not wait for an unrelated event.
  ran += run_posted();
  ran += run_due_timers();
  return ran;
}

bool EventLoop::run_until(Instant deadline) {
  while (clock_.now() < deadline) {
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) return false;
    run_once(deadline);
  }
  return !stop_requested_.exchange(false, std::memory_order_acq_rel);
}

bool EventLoop::run_until(const std::function<bool()>& done, Instant deadline) {
  for (;;) {
    if (done()) return true;
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) return false;
    if (clock_.now() >= deadline) return false;
    run_once(deadline);
  }
}

}  // namespace cellrtc::runtime
