// The TURN REST credentials cellrtc-server hands out (server/turn_credentials.h) work with a
// real coturn (--use-auth-secret): coturn's own client, turnutils_uclient, allocates with them
// and relays a few messages between two of its clients, all on 127.0.0.1; a credential made
// with another secret is refused.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <chrono>

#include "interop/child_process.h"
#include "interop/coturn.h"
#include "server/turn_credentials.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;

// Runs turnutils_uclient (-y: client to client through two allocations, 3 messages) and
// returns its exit status, or -1 when it did not end in time.
int run_uclient(const CoturnServer& coturn, const server::IceServer& credentials) {
  std::string error;
  auto child = ChildProcess::spawn(
      {.program = "/usr/bin/turnutils_uclient",
       .args = {"-y", "-n", "3", "-m", "1", "-u", credentials.username, "-w",
                credentials.credential, "-p", std::to_string(coturn.port()), "127.0.0.1"},
       .log_path = interop_log_path("relay_turn_uclient.log"),
       .capture_stdout = false},
      &error);
  if (!child) {
    ADD_FAILURE() << error;
    return -1;
  }
  auto status = child->wait(30s);
  if (!status) return -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(RelayTurn, CoturnAcceptsTheServersCredentials) {
  std::string error;
  auto coturn = CoturnServer::start({.allow_loopback_peers = true}, &error);
  ASSERT_TRUE(coturn) << error;
  server::TurnSettings turn;
  turn.secret = coturn->static_auth_secret();
  turn.urls = {"turn:127.0.0.1:" + std::to_string(coturn->port()) + "?transport=udp"};
  auto servers = server::ice_servers_for(turn, unix_now_s(), std::chrono::minutes(10), "cam1");
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(run_uclient(*coturn, servers[0]), 0) << coturn->log_tail();

  turn.secret = "not-the-secret";
  auto wrong = server::ice_servers_for(turn, unix_now_s(), std::chrono::minutes(10), "cam1");
  EXPECT_NE(run_uclient(*coturn, wrong[0]), 0);
}

TEST(RelayTurn, CoturnRefusesExpiredCredentials) {
  std::string error;
  auto coturn = CoturnServer::start({.allow_loopback_peers = true}, &error);
  ASSERT_TRUE(coturn) << error;
  server::TurnSettings turn;
  turn.secret = coturn->static_auth_secret();
  turn.urls = {"turn:127.0.0.1:" + std::to_string(coturn->port())};
  // Expired an hour ago.
  auto servers = server::ice_servers_for(turn, unix_now_s() - 7200, std::chrono::hours(1), "cam1");
  EXPECT_NE(run_uclient(*coturn, servers[0]), 0);
}

}  // namespace
}  // namespace cellrtc::interop
