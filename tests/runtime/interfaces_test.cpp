#include "runtime/interfaces.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cellrtc::runtime {
namespace {

bool contains(const std::vector<NetworkInterface>& list, const IpAddress& ip) {
  return std::any_of(list.begin(), list.end(),
                     [&](const NetworkInterface& i) { return i.address == ip; });
}

TEST(Interfaces, ListsLoopbackWhenAsked) {
  InterfaceListOptions options;
  options.include_loopback = true;
  auto list = list_interfaces(options);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_TRUE(contains(*list, IpAddress::loopback_v4()));
  for (const auto& i : *list) {
    EXPECT_FALSE(i.name.empty());
    EXPECT_TRUE(i.is_up);
    if (i.address == IpAddress::loopback_v4()) {
      EXPECT_TRUE(i.is_loopback);
      EXPECT_NE(i.index, 0u);
    }
  }
}

TEST(Interfaces, LeavesLoopbackOutByDefault) {
  auto list = list_interfaces();
  ASSERT_TRUE(list) << list.error().message();
  for (const auto& i : *list) {
    EXPECT_FALSE(i.is_loopback) << i.name;
    EXPECT_FALSE(i.address.is_loopback()) << i.address.to_string();
    EXPECT_FALSE(i.address.is_v6() && i.address.is_link_local()) << i.address.to_string();
  }
}

TEST(Interfaces, AllowListKeepsOnlyNamedInterfaces) {
  InterfaceListOptions options;
  options.include_loopback = true;
  auto all = list_interfaces(options);
  ASSERT_TRUE(all);
  auto lo = std::find_if(all->begin(), all->end(),
                         [](const NetworkInterface& i) { return i.is_loopback; });
  ASSERT_NE(lo, all->end());
  options.allowed_names = {lo->name};
  auto only = list_interfaces(options);
  ASSERT_TRUE(only);
  ASSERT_FALSE(only->empty());
  for (const auto& i : *only)
    EXPECT_EQ(i.name, lo->name);
}

// The filter against a fixed list, so every option is checked whatever this machine has.
TEST(Interfaces, FilterAppliesEveryOption) {
  auto iface = [](const char* name, const char* ip, bool loopback, bool up) {
    NetworkInterface i;
    i.name = name;
    i.address = *IpAddress::parse(ip);
    i.is_loopback = loopback;
    i.is_up = up;
    return i;
  };
  std::vector<NetworkInterface> all = {
      iface("lo", "127.0.0.1", true, true),         iface("lo", "::1", true, true),
      iface("eth0", "192.0.2.2", false, true),      iface("eth0", "2001:db8::2", false, true),
      iface("eth0", "fe80::1", false, true),        iface("wwan0", "100.64.0.7", false, true),
      iface("down0", "198.51.100.1", false, false),
  };
  auto names = [](const std::vector<NetworkInterface>& l) {
    std::vector<std::string> out;
    for (const auto& i : l)
      out.push_back(i.address.to_string());
    return out;
  };

  using V = std::vector<std::string>;
  EXPECT_EQ(names(filter_interfaces(all, {})), (V{"192.0.2.2", "2001:db8::2", "100.64.0.7"}));

  InterfaceListOptions o;
  o.include_loopback = true;
  o.allowed_names = {"lo"};
  EXPECT_EQ(names(filter_interfaces(all, o)), (V{"127.0.0.1", "::1"}));

  o = {};
  o.include_ipv6 = false;
  EXPECT_EQ(names(filter_interfaces(all, o)), (V{"192.0.2.2", "100.64.0.7"}));

  o = {};
  o.include_ipv4 = false;
  o.include_ipv6_link_local = true;
  EXPECT_EQ(names(filter_interfaces(all, o)), (V{"2001:db8::2", "fe80::1"}));

  o = {};
  o.include_down = true;
  o.allowed_names = {"down0", "wwan0"};
  EXPECT_EQ(names(filter_interfaces(all, o)), (V{"100.64.0.7", "198.51.100.1"}));
}

}  // namespace
}  // namespace cellrtc::runtime
