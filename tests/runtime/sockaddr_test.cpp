#include "runtime/sockaddr.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace cellrtc::runtime {
namespace {

TEST(Sockaddr, RoundTripsV4) {
  auto a = *SocketAddress::parse("192.0.2.33:3478");
  SockaddrStorage s = to_sockaddr(a);
  EXPECT_EQ(s.length, sizeof(sockaddr_in));
  sockaddr_in sin;
  std::memcpy(&sin, s.get(), sizeof sin);
  EXPECT_EQ(sin.sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin.sin_port), 3478);
  EXPECT_EQ(ntohl(sin.sin_addr.s_addr), 0xC0000221u);
  EXPECT_EQ(from_sockaddr(s.get(), s.length), a);
}

TEST(Sockaddr, RoundTripsV6) {
  for (const char* text : {"[2001:db8::1]:5000", "[::1]:1", "[::]:0", "[fe80::1:2:3:4]:65535"}) {
    auto a = *SocketAddress::parse(text);
    SockaddrStorage s = to_sockaddr(a);
    EXPECT_EQ(s.length, sizeof(sockaddr_in6));
    EXPECT_EQ(s.get()->sa_family, AF_INET6);
    auto back = from_sockaddr(s.get(), s.length);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, a) << text;
    EXPECT_EQ(back->to_string(), text);
  }
}

TEST(Sockaddr, RejectsOtherFamiliesAndShortLengths) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof un));
  EXPECT_FALSE(from_sockaddr(nullptr, 0));

  SockaddrStorage v4 = to_sockaddr(*SocketAddress::parse("127.0.0.1:9"));
  EXPECT_FALSE(from_sockaddr(v4.get(), v4.length - 1));
  SockaddrStorage v6 = to_sockaddr(*SocketAddress::parse("[::1]:9"));
  EXPECT_FALSE(from_sockaddr(v6.get(), sizeof(sockaddr_in)));
}

}  // namespace
}  // namespace cellrtc::runtime
