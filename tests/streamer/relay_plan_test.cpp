// streamer::plan_relays: which TURN servers a session gathers from, the agent's and the
// firmware's alike.
#include "core/streamer/relay_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cellrtc::streamer {
namespace {

IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

HostResolver resolver_counting(int& calls) {
  return [&calls](const std::string& host) -> Result<IpAddress, std::string> {
    ++calls;
    if (host == "turn.example.net") return ip("198.51.100.20");
    return "cannot resolve " + host;
  };
}

const SocketAddress kUdp(ip("10.0.0.2"), 40000);

TEST(RelayPlanTest, ServerEntriesInOrderThenConfiguredUrlsWithTheServersCredentials) {
  std::vector<whip::IceServer> offered = {
      {"stun:turn.example.net:3478", "", ""},
      {"turn:198.51.100.20:3478?transport=udp", "user1", "pass1"},
      {"turn:turn.example.net:3478?transport=tcp", "user1", "pass1"},
  };
  RelayPlanConfig config;
  config.turn_urls = {"turn:203.0.113.5:3478?transport=tcp",
                      "turn:198.51.100.20:3478?transport=udp"};  // a duplicate, skipped
  int calls = 0;
  RelayPlan plan = plan_relays(offered, config, kUdp, resolver_counting(calls));
  ASSERT_EQ(plan.gatherer.servers.size(), 3u);
  EXPECT_EQ(plan.gatherer.servers[0].address.to_string(), "198.51.100.20:3478");
  EXPECT_EQ(plan.gatherer.servers[1].uri.transport, turn::TurnTransport::tcp);
  EXPECT_EQ(plan.gatherer.servers[1].address.to_string(), "198.51.100.20:3478");
  EXPECT_EQ(plan.gatherer.servers[2].address.to_string(), "203.0.113.5:3478");
  EXPECT_EQ(plan.gatherer.servers[2].credentials.username, "user1");
  EXPECT_EQ(plan.gatherer.servers[2].credentials.password, "pass1");
  EXPECT_EQ(plan.gatherer.udp_local, kUdp);
  EXPECT_EQ(calls, 1);  // literals are not resolved
  EXPECT_TRUE(plan.notes.empty());
}

TEST(RelayPlanTest, TurnsWithoutCaIsSkippedWithANoteAndWithOneIsKept) {
  std::vector<whip::IceServer> offered = {
      {"turns:turn.example.net:5349?transport=tcp", "u", "p"},
  };
  RelayPlanConfig config;
  config.ca_setting = "--ca-file";
  int calls = 0;
  RelayPlan plan = plan_relays(offered, config, kUdp, resolver_counting(calls));
  EXPECT_TRUE(plan.gatherer.servers.empty());
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_EQ(plan.notes[0],
            "turns:turn.example.net:5349?transport=tcp: cannot be verified "
            "without --ca-file");
  EXPECT_EQ(calls, 0);

  config.ca_pem = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
  plan = plan_relays(offered, config, kUdp, resolver_counting(calls));
  ASSERT_EQ(plan.gatherer.servers.size(), 1u);
  EXPECT_EQ(plan.gatherer.ca_pem, config.ca_pem);
  EXPECT_EQ(plan.gatherer.servers[0].address.to_string(), "198.51.100.20:5349");
}

TEST(RelayPlanTest, UdpWithoutASocketNoCredentialsAndUnknownHostsBecomeNotes) {
  std::vector<whip::IceServer> offered = {
      {"turn:198.51.100.20:3478?transport=udp", "u", "p"},
      {"turn:nowhere.example:3478?transport=tcp", "u", "p"},
      {"turn:198.51.100.21:3478?transport=tcp", "", ""},
      {"bogus:thing", "u", "p"},
  };
  int calls = 0;
  RelayPlan plan = plan_relays(offered, RelayPlanConfig{}, std::nullopt, resolver_counting(calls));
  EXPECT_TRUE(plan.gatherer.servers.empty());
  ASSERT_EQ(plan.notes.size(), 4u);
  EXPECT_NE(plan.notes[0].find("this device sends no UDP"), std::string::npos);
  EXPECT_NE(plan.notes[1].find("cannot resolve nowhere.example"), std::string::npos);
  EXPECT_NE(plan.notes[2].find("no credentials"), std::string::npos);
  EXPECT_EQ(plan.notes[3].rfind("bogus:thing: ", 0), 0u);
}

TEST(RelayPlanTest, StaticHostsComeBeforeTheResolver) {
  std::vector<whip::IceServer> offered = {{"turn:turn.lab:3478?transport=tcp", "u", "p"}};
  RelayPlanConfig config;
  config.hosts = {{"turn.lab", ip("203.0.113.20")}};
  int calls = 0;
  RelayPlan plan = plan_relays(offered, config, std::nullopt, resolver_counting(calls));
  ASSERT_EQ(plan.gatherer.servers.size(), 1u);
  EXPECT_EQ(plan.gatherer.servers[0].address.to_string(), "203.0.113.20:3478");
  EXPECT_EQ(calls, 0);
  // Without a resolver a name not in the list is a note.
  plan = plan_relays({{"turn:other.lab:3478?transport=tcp", "u", "p"}}, config, std::nullopt, {});
  EXPECT_TRUE(plan.gatherer.servers.empty());
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_NE(plan.notes[0].find("no resolver"), std::string::npos);
}

}  // namespace
}  // namespace cellrtc::streamer
