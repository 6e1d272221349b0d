#include "firmware/app/turn_host_cache.h"

#include <algorithm>
#include <utility>

#include "core/turn/ice_server_uri.h"

namespace cellrtc::firmware {

std::vector<std::string> turn_host_names(const whip::HttpResponse& response,
                                         const std::vector<std::string>& turn_urls) {
  std::vector<std::string> urls;
  for (const auto& server : whip::parse_ice_server_links(response.all("Link")))
    urls.push_back(server.url);
  urls.insert(urls.end(), turn_urls.begin(), turn_urls.end());
  std::vector<std::string> names;
  for (const auto& url : urls) {
    auto uri = turn::parse_ice_server_uri(url);
    if (!uri || !uri->is_turn() || uri->ip) continue;  // plan_relays notes the bad ones
    if (std::find(names.begin(), names.end(), uri->host) == names.end()) names.push_back(uri->host);
  }
  return names;
}

std::vector<TurnHostLookup> lookup_turn_hosts(const whip::WhipRequest& request,
                                              const whip::HttpResponse& response,
                                              const std::vector<std::string>& turn_urls,
                                              const streamer::HostResolver& lookup) {
  std::vector<TurnHostLookup> out;
  if (request.kind != whip::WhipRequestKind::publish || response.status != 201 || !lookup)
    return out;
  for (auto& name : turn_host_names(response, turn_urls)) {
    auto found = lookup(name);
    TurnHostLookup l;
    l.host = std::move(name);
    if (found) {
      l.address = *found;
    } else {
      l.error = found.error();
    }
    out.push_back(std::move(l));
  }
  return out;
}

TurnHostCache::TurnHostCache(TurnHostCacheConfig config) : config_(config) {}

void TurnHostCache::store(Instant now, const std::vector<TurnHostLookup>& found) {
  for (const auto& l : found) {
    l.address ? ++stats_.stored : ++stats_.failed;
    if (Entry* e = find(l.host)) {
      if (!l.address && e->lookup.address && now - e->at < config_.ttl) continue;
      *e = Entry{l, now};
      continue;
    }
    if (config_.max_entries == 0) continue;
    if (entries_.size() >= config_.max_entries)
      entries_.erase(std::min_element(entries_.begin(), entries_.end(),
                                      [](const Entry& a, const Entry& b) { return a.at < b.at; }));
    entries_.push_back(Entry{l, now});
  }
}

Result<IpAddress, std::string> TurnHostCache::lookup(Instant now, const std::string& host) {
  const Entry* e = find(host);
  if (e && e->lookup.address && now - e->at < config_.ttl) {
    ++stats_.hits;
    return *e->lookup.address;
  }
  ++stats_.misses;
  if (e && !e->lookup.address) return e->lookup.error + " (looked up with the answer)";
  return (e ? "the address of " + host + " expired" : host + " was not looked up with the answer") +
         ": skipped, names are not looked up on the loop";
}

streamer::HostResolver TurnHostCache::resolver(std::function<Instant()> clock) {
  return
      [this, clock = std::move(clock)](const std::string& host) { return lookup(clock(), host); };
}

TurnHostCache::Entry* TurnHostCache::find(const std::string& host) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.lookup.host == host; });
  return it == entries_.end() ? nullptr : &*it;
}

}  // namespace cellrtc::firmware
