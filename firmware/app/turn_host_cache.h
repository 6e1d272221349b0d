// TURN server names resolved away from the app loop. On the device a name lookup
// (getaddrinfo through lwIP's DNS) blocks its caller up to the DNS timeout; on the loop task
// that would hold up the sockets, the camera and consent checks. The HTTP task, which receives
// the WHIP answer whose Link headers (RFC 9725 section 4.6) name the TURN servers, looks those
// names up (and those of the configured turn_urls) before it hands the answer over, and the
// answer carries what it found (CompletedRequest::turn_hosts). On the loop, pump_requests puts
// that into a TurnHostCache before the publisher sees the answer; the session host's resolver
// (SessionSocketsConfig::resolve) answers from the cache only and never blocks: a name not in
// it, or whose entry expired, is skipped with a note in the relay log.
//
//   HTTP task:  done.turn_hosts = lookup_turn_hosts(request, response, turn_urls, &getaddrinfo_v4);
//   loop:       pump_requests(now, publisher, runner, limits, &cache);
//               net.resolve = cache.resolver(&clock);
//
// The cache belongs to the loop alone; the tasks share only the finished request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/common/result.h"
#include "core/common/socket_address.h"
#include "core/common/time.h"
#include "core/streamer/relay_plan.h"
#include "core/whip/whip_messages.h"

namespace cellrtc::firmware {

// One name looked up on the HTTP task: its address, or why there is none.
struct TurnHostLookup {
  std::string host;
  std::optional<IpAddress> address;
  std::string error;
};

// The host names (IP literals left out) of the turn:/turns: entries of a response's
// rel="ice-server" Link headers, then of the configured URLs, in order, without duplicates.
std::vector<std::string> turn_host_names(const whip::HttpResponse& response,
                                         const std::vector<std::string>& turn_urls);

// HTTP task, after a request finished: for the answer to a WHIP POST (201 Created, the one
// whose ICE servers the session's relays start from, RFC 9725 section 4.2), every name of
// turn_host_names looked up with `lookup` (blocking). Other requests and statuses: none.
std::vector<TurnHostLookup> lookup_turn_hosts(const whip::WhipRequest& request,
                                              const whip::HttpResponse& response,
                                              const std::vector<std::string>& turn_urls,
                                              const streamer::HostResolver& lookup);

struct TurnHostCacheConfig {
  // An address is used this long after its lookup (getaddrinfo gives no DNS TTL); every new
  // session's answer looks its names up again.
  Duration ttl = seconds(600);
  // Names kept at most; the oldest entry goes first.
  size_t max_entries = 16;
};

struct TurnHostCacheStats {
  uint64_t stored = 0;  // addresses taken from answers
  uint64_t failed = 0;  // lookups that found none
  uint64_t hits = 0;    // resolver answers from a fresh entry
  uint64_t misses = 0;  // names not in the cache, expired, or whose lookup failed
};

class TurnHostCache {
 public:
  explicit TurnHostCache(TurnHostCacheConfig config = {});

  // What the HTTP task found, at `now`. A failed lookup does not replace an address still
  // within its ttl.
  void store(Instant now, const std::vector<TurnHostLookup>& found);
  // The cached address of `host`, or why there is none (never blocks).
  Result<IpAddress, std::string> lookup(Instant now, const std::string& host);
  // A resolver for SessionSocketsConfig::resolve answering from this cache at clock()'s time.
  // The cache outlives it.
  streamer::HostResolver resolver(std::function<Instant()> clock);

  const TurnHostCacheStats& stats() const { return stats_; }

 private:
  struct Entry {
    TurnHostLookup lookup;
    Instant at;
  };
  Entry* find(const std::string& host);

  TurnHostCacheConfig config_;
  std::vector<Entry> entries_;
  TurnHostCacheStats stats_;
};

}  // namespace cellrtc::firmware
