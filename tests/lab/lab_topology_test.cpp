// scripts/lab/lab.sh's network (docs/lab.md, "Topology") seen from inside: the addresses the
// server sees behind each NAT, the carrier NAT's mapping (port-preserving, or a port per
// destination with --symmetric), its 30 s UDP timeouts, --block-udp, and up/down being
// idempotent and leaving nothing behind. The test's own sockets are made inside the lab's
// namespaces (browser::ipv4_socket_in); every wait is bounded.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "browser/cellrtc_processes.h"
#include "lab/lab_network.h"

namespace cellrtc::lab {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "cltest";
constexpr const char* kServerAddress = "203.0.113.10";

// A socket closed on every path.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

std::string to_string(const sockaddr_in& a) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
}

// A socket of `type` in namespace `netns`, bound to ip:port.
int bound_socket(const std::string& netns, int type, const std::string& ip, uint16_t port) {
  int fd = browser::ipv4_socket_in(netns, type | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = address(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_udp(const Socket& from, const std::string& ip, uint16_t port) {
  sockaddr_in to = address(ip, port);
  const char payload[] = "lab";
  return ::sendto(from.get(), payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to),
                  sizeof to) == static_cast<ssize_t>(sizeof payload);
}

// The sender of the next datagram within `timeout`; nullopt if none comes.
std::optional<sockaddr_in> receive_udp(const Socket& socket, std::chrono::milliseconds timeout) {
  pollfd p{socket.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buffer[64];
  sockaddr_in from{};
  socklen_t length = sizeof from;
  if (::recvfrom(socket.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from),
                 &length) < 0) {
    return std::nullopt;
  }
  return from;
}

// Where a datagram from `node` (bound to local_ip:local_port) to the server's port `port`
// appears to come from, as the server sees it.
std::optional<sockaddr_in> seen_by_server(LabNetwork& lab, const std::string& node,
                                          const std::string& local_ip, uint16_t local_port,
                                          uint16_t port) {
  Socket server(bound_socket(lab.netns("srv"), SOCK_DGRAM, kServerAddress, port));
  Socket client(bound_socket(lab.netns(node), SOCK_DGRAM, local_ip, local_port));
  if (server.get() < 0 || client.get() < 0) return std::nullopt;
  // A few tries: the first packets may meet a link emulator still warming up.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!send_udp(client, kServerAddress, port)) continue;
    if (auto from = receive_udp(server, 2000ms)) return from;
  }
  return std::nullopt;
}

bool lab_tools_present() {
  return ::geteuid() == 0 && linkem_binary() && profile_exists("lte-cat1");
}

class LabTopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lab_tools_present()) GTEST_SKIP() << "needs root and cellrtc-linkem with its profiles";
  }
  void bring_up(const std::vector<std::string>& args) {
    std::string error;
    lab_ = LabNetwork::up(kPrefix, args, &error);
    ASSERT_TRUE(lab_) << error;
  }
  std::unique_ptr<LabNetwork> lab_;  // its destructor tears the lab down
};

TEST_F(LabTopologyTest, TheServerSeesEachSideOnlyThroughItsNat) {
  ASSERT_NO_FATAL_FAILURE(bring_up({"--profile", "lte-cat1"}));
  // The carrier NAT keeps the device's port when it is free.
  auto device = seen_by_server(*lab_, "dev", "100.64.0.2", 40000, 5000);
  ASSERT_TRUE(device);
  EXPECT_EQ(to_string(*device), "203.0.113.2:40000");
  auto viewer = seen_by_server(*lab_, "viewer", "192.168.50.2", 40001, 5001);
  ASSERT_TRUE(viewer);
  EXPECT_EQ(to_string(*viewer), "203.0.113.3:40001");

  // Nothing routes to the carrier's private addresses from the internet side: only the NAT's
  // mappings let packets in.
  Socket listener(bound_socket(lab_->netns("dev"), SOCK_DGRAM, "100.64.0.2", 40002));
  Socket server(bound_socket(lab_->netns("srv"), SOCK_DGRAM, kServerAddress, 5002));
  ASSERT_GE(listener.get(), 0);
  ASSERT_GE(server.get(), 0);
  send_udp(server, "100.64.0.2", 40002);  // may fail at once (ICMP unreachable): fine too
  send_udp(server, "100.64.0.2", 40002);
  EXPECT_FALSE(receive_udp(listener, 1000ms));

  // Idle UDP mappings expire after 30 s, whether or not they saw replies.
  for (const char* key : {"net.netfilter.nf_conntrack_udp_timeout",
                          "net.netfilter.nf_conntrack_udp_timeout_stream"}) {
    auto value = lab_->exec("cgnat", {"sysctl", "-n", key});
    ASSERT_TRUE(value) << key;
    EXPECT_EQ(*value, "30\n") << key;
  }
  auto mappings = lab_->exec("cgnat", {"conntrack", "-L", "-p", "udp"});
  ASSERT_TRUE(mappings);
  EXPECT_NE(mappings->find("src=100.64.0.2 dst=203.0.113.10 sport=40000 dport=5000"),
            std::string::npos)
      << *mappings;
}

TEST_F(LabTopologyTest, SymmetricNatGivesEveryDestinationItsOwnPort) {
  ASSERT_NO_FATAL_FAILURE(bring_up({"--profile", "lte-cat1", "--symmetric"}));
  // One device socket, three destinations: address-and-port-dependent mapping gives each its
  // own random port (three equal random ports: about 1 in 4e9).
  Socket client(bound_socket(lab_->netns("dev"), SOCK_DGRAM, "100.64.0.2", 40000));
  ASSERT_GE(client.get(), 0);
  std::set<uint16_t> ports;
  for (uint16_t port : {5000, 5001, 5002}) {
    Socket server(bound_socket(lab_->netns("srv"), SOCK_DGRAM, kServerAddress, port));
    ASSERT_GE(server.get(), 0);
    std::optional<sockaddr_in> from;
    for (int attempt = 0; attempt < 5 && !from; ++attempt) {
      ASSERT_TRUE(send_udp(client, kServerAddress, port));
      from = receive_udp(server, 2000ms);
    }
    ASSERT_TRUE(from) << "nothing arrived on port " << port;
    EXPECT_EQ(to_string(*from).rfind("203.0.113.2:", 0), 0u) << to_string(*from);
    ports.insert(ntohs(from->sin_port));
  }
  EXPECT_GT(ports.size(), 1u);
}

TEST_F(LabTopologyTest, BlockUdpDropsTheDevicesUdpButNotItsTcp) {
  ASSERT_NO_FATAL_FAILURE(bring_up({"--profile", "lte-cat1", "--block-udp"}));
  Socket server(bound_socket(lab_->netns("srv"), SOCK_DGRAM, kServerAddress, 5000));
  Socket client(bound_socket(lab_->netns("dev"), SOCK_DGRAM, "100.64.0.2", 40000));
  ASSERT_GE(server.get(), 0);
  ASSERT_GE(client.get(), 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(send_udp(client, kServerAddress, 5000));
  EXPECT_FALSE(receive_udp(server, 2000ms));

  Socket listener(bound_socket(lab_->netns("srv"), SOCK_STREAM, kServerAddress, 5000));
  ASSERT_GE(listener.get(), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  Socket tcp(browser::ipv4_socket_in(lab_->netns("dev"), SOCK_STREAM | SOCK_CLOEXEC));
  ASSERT_GE(tcp.get(), 0);
  timeval limit{10, 0};
  ::setsockopt(tcp.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in to = address(kServerAddress, 5000);
  ASSERT_EQ(::connect(tcp.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0)
      << std::strerror(errno);
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  sockaddr_in from{};
  socklen_t length = sizeof from;
  Socket accepted(::accept(listener.get(), reinterpret_cast<sockaddr*>(&from), &length));
  ASSERT_GE(accepted.get(), 0);
  EXPECT_EQ(to_string(from).rfind("203.0.113.2:", 0), 0u) << to_string(from);
}

TEST_F(LabTopologyTest, UpTwiceIsOneLabAndDownLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(bring_up({"--profile", "lte-cat1"}));
  const std::string pidfile = "/run/cellrtc-lab/" + std::string(kPrefix) + "/linkem.pid";
  const std::string linkem = read_file(pidfile);
  ASSERT_FALSE(linkem.empty());
  std::string error;
  auto again = LabNetwork::up(kPrefix, {"--profile", "lte-cat1"}, &error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(read_file(pidfile), linkem) << "the second up rebuilt the lab";
  auto status = lab_->exec("srv", {"ip", "-br", "-4", "addr", "show", "eth0"});
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("203.0.113.10/24"), std::string::npos) << *status;
  ASSERT_TRUE(again->down(&error)) << error;
  EXPECT_EQ(lab_->leftovers(), std::vector<std::string>{});
  ASSERT_TRUE(lab_->down(&error)) << error;  // down when nothing is up
  EXPECT_EQ(lab_->leftovers(), std::vector<std::string>{});
}

}  // namespace
}  // namespace cellrtc::lab
