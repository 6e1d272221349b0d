#pragma once

// The relay's timer queue: one deadline per session, soonest first, so a timer wakes only the
// sessions that are due instead of visiting every session. A binary heap with lazy removal:
// re-arming a key leaves its old entry in the heap, marked stale by a generation number, and
// stale entries are dropped when they reach the top or when they outnumber the live ones.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/time.h"

namespace cellrtc::server {

class DeadlineQueue {
 public:
  // Sets `key`'s deadline, replacing the one it had; nullopt leaves it without one.
  void arm(const std::string& key, std::optional<Instant> at) {
    if (!at) {
      erase(key);
      return;
    }
    auto it = armed_.find(key);
    if (it != armed_.end() && it->second.at == *at) return;  // unchanged: no new entry
    uint64_t generation = ++next_generation_;
    armed_[key] = Armed{*at, generation};
    heap_.push_back(Entry{*at, generation, key});
    std::push_heap(heap_.begin(), heap_.end(), later);
    if (heap_.size() > 2 * armed_.size() + 64) rebuild();
    drop_stale_top();
  }

  void erase(const std::string& key) {
    if (armed_.erase(key) == 0) return;
    drop_stale_top();
  }

  // The keys whose deadline is at or before `now`, soonest first; they are disarmed.
  std::vector<std::string> take_due(Instant now) {
    std::vector<std::string> due;
    while (!heap_.empty() && heap_.front().at <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      Entry e = std::move(heap_.back());
      heap_.pop_back();
      if (live(e)) {
        armed_.erase(e.key);
        due.push_back(std::move(e.key));
      }
    }
    drop_stale_top();
    return due;
  }

  // The earliest deadline armed (the top is never stale).
  std::optional<Instant> next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().at;
  }

  size_t size() const { return armed_.size(); }
  size_t entries() const { return heap_.size(); }  // live and stale, for tests

 private:
  struct Armed {
    Instant at;
    uint64_t generation = 0;
  };
  struct Entry {
    Instant at;
    uint64_t generation = 0;
    std::string key;
  };
  // std::push_heap keeps the largest on top: "larger" here is sooner.
  static bool later(const Entry& a, const Entry& b) { return a.at > b.at; }

  bool live(const Entry& e) const {
    auto it = armed_.find(e.key);
    return it != armed_.end() && it->second.generation == e.generation;
  }

  void drop_stale_top() {
    while (!heap_.empty() && !live(heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
    }
  }

  void rebuild() {
    std::erase_if(heap_, [this](const Entry& e) { return !live(e); });
    std::make_heap(heap_.begin(), heap_.end(), later);
  }

  std::vector<Entry> heap_;
  std::unordered_map<std::string, Armed> armed_;
  uint64_t next_generation_ = 0;
};

}  // namespace cellrtc::server
