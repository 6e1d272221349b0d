#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace cellrtc::server {

RateLimiter::RateLimiter(double rate_per_second, double burst, size_t max_clients)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), max_clients_(max_clients) {}

void RateLimiter::refill(Bucket& bucket, Instant now) const {
  if (now > bucket.updated) {
    double elapsed = static_cast<double>((now - bucket.updated).count()) / 1e6;
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_);
    bucket.updated = now;
  }
}

void RateLimiter::forget_full_buckets(Instant now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

std::optional<Duration> RateLimiter::take(Instant now, std::string_view client) {
  auto it = buckets_.find(std::string(client));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) forget_full_buckets(now);
    if (buckets_.size() >= max_clients_) return seconds(1);
    it = buckets_.emplace(std::string(client), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  refill(bucket, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return std::nullopt;
  }
  double wait = (1 - bucket.tokens) / rate_;
  return Duration(static_cast<int64_t>(std::ceil(wait * 1e6)));
}

}  // namespace cellrtc::server
