// TURN names looked up by the HTTP task with the WHIP answer (lookup_turn_hosts), handed to the
// loop's TurnHostCache by pump_requests, answered on the loop from the cache only (expiring),
// and what the session's relay plan makes of it.
#include "firmware/app/turn_host_cache.h"

#include <gtest/gtest.h>

#include <map>

namespace cellrtc::firmware {
namespace {

const IpAddress kTurnA = IpAddress::v4(198, 51, 100, 30);
const IpAddress kTurnB = IpAddress::v4(198, 51, 100, 31);

whip::HttpResponse answer(std::vector<std::string> urls, int status = 201) {
  whip::HttpResponse r;
  r.status = status;
  for (const auto& url : urls)
    r.headers.push_back(
        {"Link", "<" + url + ">; rel=\"ice-server\"; username=\"u\"; credential=\"p\""});
  return r;
}

whip::WhipRequest post() {
  return whip::publish_request("https://cellrtc.example.net/whip", "", "v=0\r\n");
}

// A blocking lookup standing in for getaddrinfo: answers from a table and counts its calls.
struct FakeDns {
  std::map<std::string, IpAddress> table;
  std::vector<std::string> asked;
  streamer::HostResolver resolver() {
    return [this](const std::string& host) -> Result<IpAddress, std::string> {
      asked.push_back(host);
      auto it = table.find(host);
      if (it == table.end()) return "cannot resolve " + host;
      return it->second;
    };
  }
  std::vector<TurnHostLookup> answer_lookups(const std::vector<std::string>& urls) {
    return lookup_turn_hosts(post(), answer(urls), {}, resolver());
  }
};

TEST(TurnHostCacheTest, NamesComeFromTheAnswersLinksAndTheConfiguredUrlsOnce) {
  EXPECT_EQ(turn_host_names(answer({"stun:s.example.net", "turn:a.example.net?transport=tcp",
                                    "turn:198.51.100.7", "turn:bad_host"}),
                            {"turns:b.example.net:443?transport=tcp", "turn:a.example.net"}),
            (std::vector<std::string>{"a.example.net", "b.example.net"}));
}

TEST(TurnHostCacheTest, OnlyThePostsAnswerIsLookedUp) {
  FakeDns dns;
  dns.table = {{"a.example.net", kTurnA}};
  // A PATCH's or an error's Link headers start no relays: nothing is looked up for them.
  whip::WhipRequest patch;
  patch.kind = whip::WhipRequestKind::ice_restart;
  patch.method = "PATCH";
  patch.url = "https://cellrtc.example.net/whip/1";
  EXPECT_TRUE(
      lookup_turn_hosts(patch, answer({"turn:a.example.net"}, 200), {}, dns.resolver()).empty());
  EXPECT_TRUE(
      lookup_turn_hosts(post(), answer({"turn:a.example.net"}, 503), {}, dns.resolver()).empty());
  EXPECT_TRUE(dns.asked.empty());
  auto found = lookup_turn_hosts(post(), answer({"turn:a.example.net"}),
                                 {"turn:b.example.net:3478?transport=tcp"}, dns.resolver());
  EXPECT_EQ(dns.asked, (std::vector<std::string>{"a.example.net", "b.example.net"}));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].address, kTurnA);
  EXPECT_FALSE(found[1].address);
  EXPECT_EQ(found[1].error, "cannot resolve b.example.net");
}

TEST(TurnHostCacheTest, TheLoopAnswersFromTheCacheUntilEntriesExpire) {
  FakeDns dns;
  dns.table = {{"a.example.net", kTurnA}};
  TurnHostCacheConfig config;
  config.ttl = seconds(600);
  TurnHostCache cache(config);
  const Instant t0 = Instant::from_us(1'000'000);
  // Before any answer the cache has nothing, and asks no one.
  auto early = cache.lookup(t0, "a.example.net");
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(),
            "a.example.net was not looked up with the answer: skipped, names are not looked up "
            "on the loop");
  cache.store(t0, dns.answer_lookups({"turn:a.example.net"}));
  EXPECT_EQ(*cache.lookup(t0 + seconds(1), "a.example.net"), kTurnA);
  // A later answer's address replaces the old one.
  dns.table["a.example.net"] = kTurnB;
  cache.store(t0 + seconds(100), dns.answer_lookups({"turn:a.example.net"}));
  EXPECT_EQ(*cache.lookup(t0 + seconds(101), "a.example.net"), kTurnB);
  // A failed lookup keeps an address still within its ttl ...
  dns.table.clear();
  cache.store(t0 + seconds(200), dns.answer_lookups({"turn:a.example.net"}));
  EXPECT_EQ(*cache.lookup(t0 + seconds(201), "a.example.net"), kTurnB);
  // ... until the ttl from its lookup has passed.
  EXPECT_TRUE(cache.lookup(t0 + seconds(699), "a.example.net"));
  auto expired = cache.lookup(t0 + seconds(700), "a.example.net");
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().rfind("the address of a.example.net expired: skipped", 0), 0u);
  // Then a failure is what the loop reports.
  cache.store(t0 + seconds(701), dns.answer_lookups({"turn:a.example.net"}));
  EXPECT_EQ(cache.lookup(t0 + seconds(702), "a.example.net").error(),
            "cannot resolve a.example.net (looked up with the answer)");
  EXPECT_EQ(cache.stats().stored, 2u);
  EXPECT_EQ(cache.stats().failed, 2u);
  EXPECT_EQ(cache.stats().hits, 4u);
  EXPECT_EQ(cache.stats().misses, 3u);
}

TEST(TurnHostCacheTest, TheOldestEntryMakesRoom) {
  FakeDns dns;
  dns.table = {{"a.example.net", kTurnA}, {"b.example.net", kTurnB}};
  TurnHostCacheConfig config;
  config.max_entries = 1;
  TurnHostCache cache(config);
  const Instant t0 = Instant::from_us(1'000'000);
  cache.store(t0, dns.answer_lookups({"turn:a.example.net"}));
  cache.store(t0 + seconds(1), dns.answer_lookups({"turn:b.example.net"}));
  EXPECT_FALSE(cache.lookup(t0 + seconds(2), "a.example.net"));
  EXPECT_EQ(*cache.lookup(t0 + seconds(2), "b.example.net"), kTurnB);
}

// The session's relay plan with the cache as its resolver: the answer's name is used, a name
// the HTTP task did not see is skipped with a note, and planning looks nothing up.
TEST(TurnHostCacheTest, TheRelayPlanUsesCachedNamesAndNotesTheOthers) {
  FakeDns dns;
  dns.table = {{"a.example.net", kTurnA}};
  TurnHostCache cache;
  Instant now = Instant::from_us(5'000'000);
  const auto a = answer({"turn:a.example.net:3478?transport=tcp"});
  cache.store(now, lookup_turn_hosts(post(), a, {}, dns.resolver()));
  const size_t asked = dns.asked.size();
  std::vector<whip::IceServer> offered = whip::parse_ice_server_links(a.all("Link"));
  offered.push_back({"turn:unseen.example.net:3478?transport=tcp", "u", "p"});
  auto plan = streamer::plan_relays(offered, {}, std::nullopt, cache.resolver([&] { return now; }));
  EXPECT_EQ(dns.asked.size(), asked);
  ASSERT_EQ(plan.gatherer.servers.size(), 1u);
  EXPECT_EQ(plan.gatherer.servers[0].address, SocketAddress(kTurnA, 3478));
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_EQ(plan.notes[0],
            "turn:unseen.example.net:3478?transport=tcp: unseen.example.net was not looked up "
            "with the answer: skipped, names are not looked up on the loop");
}

}  // namespace
}  // namespace cellrtc::firmware
