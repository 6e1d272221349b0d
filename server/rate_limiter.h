#pragma once

// A token bucket per client address for WHIP/WHEP requests: `rate` tokens a second, at most
// `burst` saved up; a request takes one. The table of clients is bounded: when it is full,
// buckets that have refilled completely (indistinguishable from a new client) are forgotten,
// and if none has, the request is refused rather than the table grown.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/common/time.h"

namespace cellrtc::server {

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst, size_t max_clients = 10000);

  // nullopt: allowed (one token taken). Otherwise how long until a token is there (for
  // Retry-After).
  std::optional<Duration> take(Instant now, std::string_view client);
  size_t clients() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    Instant updated;
  };
  void refill(Bucket& bucket, Instant now) const;
  void forget_full_buckets(Instant now);

  double rate_;
  double burst_;
  size_t max_clients_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace cellrtc::server
