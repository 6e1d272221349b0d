#include "runtime/udp_socket.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <cerrno>

namespace cellrtc::runtime {
namespace {

// Waits (bounded) until the socket has something to read, so tests do not depend on how fast
// loopback delivers.
bool wait_readable(const UdpSocket& s, int timeout_ms = 2000) {
  pollfd p{s.fd(), POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

void exchange_on(const IpAddress& loopback) {
  auto a = UdpSocket::bind(SocketAddress(loopback, 0));
  auto b = UdpSocket::bind(SocketAddress(loopback, 0));
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(a->local_address().ip(), loopback);
  EXPECT_NE(a->local_address().port(), 0);
  EXPECT_NE(a->local_address().port(), b->local_address().port());

  std::array<uint8_t, 64> buf{};
  auto nothing = b->receive(buf);
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->has_value());

  ASSERT_TRUE(a->send_to(b->local_address(), as_bytes("hello")));
  ASSERT_TRUE(wait_readable(*b));
  auto got = b->receive(buf);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->from, a->local_address());
  EXPECT_EQ((*got)->size, 5u);
  EXPECT_FALSE((*got)->truncated);
  EXPECT_EQ(as_chars(ByteView(buf.data(), (*got)->size)), "hello");

  // And back, to the address the datagram said it came from.
  ASSERT_TRUE(b->send_to((*got)->from, as_bytes("world!")));
  ASSERT_TRUE(wait_readable(*a));
  auto back = a->receive(buf);
  ASSERT_TRUE(back && back->has_value());
  EXPECT_EQ((*back)->from, b->local_address());
  EXPECT_EQ(as_chars(ByteView(buf.data(), (*back)->size)), "world!");
}

bool can_bind_v6_loopback() {
  return UdpSocket::bind(SocketAddress(IpAddress::loopback_v6(), 0)).ok();
}

TEST(UdpSocket, SendsAndReceivesOnV4Loopback) {
  exchange_on(IpAddress::loopback_v4());
}

TEST(UdpSocket, SendsAndReceivesOnV6Loopback) {
  if (!can_bind_v6_loopback()) GTEST_SKIP() << "::1 cannot be bound on this machine";
  exchange_on(IpAddress::loopback_v6());
}

TEST(UdpSocket, ReportsTruncation) {
  auto a = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  auto b = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->send_to(b->local_address(), as_bytes("0123456789")));
  ASSERT_TRUE(wait_readable(*b));
  std::array<uint8_t, 4> small{};
  auto got = b->receive(small);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_TRUE((*got)->truncated);
  EXPECT_EQ((*got)->size, 4u);
}

TEST(UdpSocket, RefusesAFamilyMismatch) {
  auto a = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(a);
  auto sent = a->send_to(SocketAddress(IpAddress::loopback_v6(), 9), as_bytes("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, EAFNOSUPPORT);
}

TEST(UdpSocket, ReportsABindConflictWithErrnoText) {
  auto a = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(a);
  auto b = UdpSocket::bind(a->local_address());
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, EADDRINUSE);
  EXPECT_EQ(b.error().message().rfind("bind: ", 0), 0u) << b.error().message();
  EXPECT_GT(b.error().message().size(), 6u);
}

TEST(UdpSocket, V6SocketIsV6Only) {
  if (!can_bind_v6_loopback()) GTEST_SKIP() << "::1 cannot be bound on this machine";
  // With IPV6_V6ONLY the v6 wildcard does not claim the v4 port, so both binds succeed.
  auto v6 = UdpSocket::bind(SocketAddress(*IpAddress::parse("::"), 0));
  ASSERT_TRUE(v6) << v6.error().message();
  auto v4 = UdpSocket::bind(SocketAddress(IpAddress(), v6->local_address().port()));
  EXPECT_TRUE(v4) << v4.error().message();
}

TEST(UdpSocket, SetsKernelBufferSizes) {
  UdpSocketOptions options;
  options.receive_buffer_bytes = 64 * 1024;
  options.send_buffer_bytes = 32 * 1024;
  auto s = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0), options);
  ASSERT_TRUE(s) << s.error().message();
  auto rcv = s->receive_buffer();
  auto snd = s->send_buffer();
  ASSERT_TRUE(rcv && snd);
  // Linux doubles the request for bookkeeping and caps it at rmem_max/wmem_max, so only check
  // that the setting took effect in some form.
  EXPECT_GT(*rcv, 0);
  EXPECT_GT(*snd, 0);
  ASSERT_TRUE(s->set_receive_buffer(4096));
  auto smaller = s->receive_buffer();
  ASSERT_TRUE(smaller);
  EXPECT_LE(*smaller, *rcv);
}

TEST(UdpSocket, MovesOwnershipOfTheDescriptor) {
  auto s = UdpSocket::bind(SocketAddress(IpAddress::loopback_v4(), 0));
  ASSERT_TRUE(s);
  int fd = s->fd();
  UdpSocket moved = std::move(*s);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_EQ(s->fd(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
}

}  // namespace
}  // namespace cellrtc::runtime
