// A single-threaded epoll event loop: fd readiness callbacks, one-shot timers on the loop's
// monotonic clock, and post() for handing work in from other threads. Every run call is
// bounded by a deadline, so a test or a shutdown path can never hang in it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/common/time.h"
#include "runtime/clock.h"
#include "runtime/os_error.h"

namespace cellrtc::runtime {

struct Interest {
  bool readable = true;
  bool writable = false;
};

struct Readiness {
  bool readable = false;
  bool writable = false;
  bool error = false;  // EPOLLERR or EPOLLHUP; the owner finds out which by reading or writing
};

using TimerId = uint64_t;

class EventLoop {
 public:
  using FdCallback = std::function<void(Readiness)>;
  using Task = std::function<void()>;

  // Fails when the process is out of file descriptors (epoll and eventfd each take one).
  static OsResult<std::unique_ptr<EventLoop>> create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop's clock; every timer deadline and every Instant the loop hands out is on it.
  Instant now() const { return clock_.now(); }
  const MonotonicClock& clock() const { return clock_; }

  // Level-triggered: the callback runs on every iteration while the fd stays ready, so a
  // reader may stop after a bounded batch and pick up the rest next time. The fd stays owned by
  // the caller, who must unwatch() it before closing it.
  OsStatus watch(int fd, Interest interest, FdCallback callback);
  OsStatus modify(int fd, Interest interest);
  void unwatch(int fd);

  // Runs `task` once, on the loop thread, at the first iteration at or after `at`. Timers due
  // at the same instant run in the order they were added.
  TimerId add_timer(Instant at, Task task);
  // Cancelling a timer that has already run (or an unknown id) does nothing.
  void cancel_timer(TimerId id);
  std::optional<Instant> next_timer() const;

  // Thread-safe: queues `task` to run on the loop thread and wakes the loop.
  void post(Task task);
  // Thread-safe: makes the current run call return after the callback in progress; if no run
  // call is in progress, the next one returns at once.
  void stop();

  // Runs until `deadline` or stop(). Returns false when stopped early.
  bool run_until(Instant deadline);
  // Runs until `done()` holds (checked before waiting and after every iteration), `deadline`,
  // or stop(). Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, Instant deadline);
  bool run_for(Duration duration) { return run_until(now() + duration); }
  // One iteration: waits at most until `deadline` for the first event or timer, then
  // dispatches everything that is ready. Returns the number of callbacks run.
  size_t run_once(Instant deadline);

 private:
  struct Watch {
    uint64_t token;
    FdCallback callback;
  };
  struct TimerKey {
    Instant at;
    TimerId id;
    auto operator<=>(const TimerKey&) const = default;
  };

  EventLoop(int epoll_fd, int wake_fd);
  size_t run_due_timers();
  size_t run_posted();
  void drain_wake_fd();

  MonotonicClock clock_;
  int epoll_fd_;
  int wake_fd_;  // eventfd written by post() and stop() from any thread

  // Watches are looked up by a token stored in the epoll event, not by fd, so events already
  // fetched for an fd that was unwatched (and whose number was reused) in the same batch are
  // dropped instead of reaching the new owner.
  std::unordered_map<int, std::shared_ptr<Watch>> watches_by_fd_;
  std::unordered_map<uint64_t, std::shared_ptr<Watch>> watches_by_token_;
  uint64_t next_token_ = 1;  // 0 marks the wake fd

  std::map<TimerKey, Task> timers_;
  std::unordered_map<TimerId, Instant> timer_deadlines_;
  TimerId next_timer_id_ = 1;

  std::mutex posted_mutex_;
  std::vector<Task> posted_;  // guarded by posted_mutex_
  std::atomic<bool> stop_requested_{false};
};

}  // namespace cellrtc::runtime
