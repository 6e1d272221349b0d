// Proves the interop harness itself before any protocol test relies on it: child processes
// are driven and cleaned up within bounded time, coturn answers STUN on loopback with our
// address, and the aioice peer gathers a loopback candidate and carries data.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "core/common/random.h"
#include "core/ice/candidate.h"
#include "core/stun/stun_message.h"
#include "interop/aioice_peer.h"
#include "interop/child_process.h"
#include "interop/coturn.h"
#include "interop/json_line.h"

namespace cellrtc::interop {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// --- ChildProcess ---------------------------------------------------------------------

TEST(ChildProcess, ExchangesLinesWithTheChild) {
  std::string error;
  auto cat =
      ChildProcess::spawn({.program = "/bin/cat", .log_path = interop_log_path("cat.log")}, &error);
  ASSERT_TRUE(cat) << error;
  ASSERT_TRUE(cat->write_line("first"));
  ASSERT_TRUE(cat->write_line("second"));
  EXPECT_EQ(cat->read_line(2s), "first");
  EXPECT_EQ(cat->read_line(2s), "second");
  cat->close_stdin();
  EXPECT_EQ(cat->read_line(2s), std::nullopt);
  EXPECT_TRUE(cat->stdout_closed());
  auto status = cat->wait(2s);
  ASSERT_TRUE(status);
  EXPECT_EQ(describe_wait_status(*status), "exited with 0");
}

TEST(ChildProcess, ReadLineTimesOut) {
  std::string error;
  auto sleeper = ChildProcess::spawn(
      {.program = "/bin/sleep", .args = {"30"}, .log_path = interop_log_path("sleep.log")}, &error);
  ASSERT_TRUE(sleeper) << error;
  auto start = Clock::now();
  EXPECT_EQ(sleeper->read_line(200ms), std::nullopt);
  EXPECT_FALSE(sleeper->stdout_closed());
  EXPECT_GE(Clock::now() - start, 190ms);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(ChildProcess, StopsAndReapsOnDestruction) {
  std::string error;
  pid_t pid = -1;
  {
    auto sleeper = ChildProcess::spawn(
        {.program = "/bin/sleep", .args = {"30"}, .log_path = interop_log_path("sleep.log")},
        &error);
    ASSERT_TRUE(sleeper) << error;
    pid = sleeper->pid();
    EXPECT_TRUE(sleeper->running());
  }
  // Reaped, not a zombie: the pid is gone and no longer our child.
  EXPECT_TRUE(process_gone(pid));
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(ChildProcess, KillsAChildThatIgnoresSigterm) {
  std::string error;
  auto stubborn = ChildProcess::spawn({.program = "/bin/sh",
                                       .args = {"-c", "trap '' TERM; exec sleep 30"},
                                       .log_path = interop_log_path("stubborn.log"),
                                       .stop_grace = 200ms},
                                      &error);
  ASSERT_TRUE(stubborn) << error;
  std::this_thread::sleep_for(100ms);  // let the shell install the trap
  auto start = Clock::now();
  int status = stubborn->stop();
  EXPECT_EQ(describe_wait_status(status), "killed by signal 9");
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_TRUE(process_gone(stubborn->pid()));
}

TEST(ChildProcess, StderrGoesToTheLog) {
  std::string error;
  auto path = interop_log_path(unique_name("stderr") + ".log");
  auto sh = ChildProcess::spawn({.program = "/bin/sh",
                                 .args = {"-c", "echo to-the-log >&2; echo to-stdout"},
                                 .log_path = path},
                                &error);
  ASSERT_TRUE(sh) << error;
  EXPECT_EQ(sh->read_line(2s), "to-stdout");
  ASSERT_TRUE(sh->wait(2s));
  EXPECT_NE(sh->log_tail().find("to-the-log"), std::string::npos) << sh->log_tail();
}

TEST(ChildProcess, ReportsAMissingProgram) {
  std::string error;
  auto none = ChildProcess::spawn(
      {.program = "/nonexistent/program", .log_path = interop_log_path("none.log")}, &error);
  EXPECT_FALSE(none);
  EXPECT_NE(error.find("/nonexistent/program"), std::string::npos) << error;
}

TEST(ChildProcess, WritingToAnExitedChildFailsWithoutSigpipe) {
  std::string error;
  auto t = ChildProcess::spawn({.program = "/bin/true", .log_path = interop_log_path("true.log")},
                               &error);
  ASSERT_TRUE(t) << error;
  ASSERT_TRUE(t->wait(2s));
  // The first write may still land in the socket buffer; a later one must fail, not kill us.
  bool failed = false;
  for (int i = 0; i < 10 && !failed; ++i)
    failed = !t->write_line("anyone?");
  EXPECT_TRUE(failed);
}

// --- JSON lines -----------------------------------------------------------------------

TEST(JsonLine, ParsesTheScriptsMessages) {
  auto m = parse_json(
      R"({"type":"local","ufrag":"ab\"c","pwd":"x\u00e9","candidates":["candidate:1 1 udp 1 127.0.0.1 5 typ host"],"n":-1.5e3,"ok":true,"nil":null,"o":{"k":[]}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->string_at("type"), "local");
  EXPECT_EQ(m->string_at("ufrag"), "ab\"c");
  EXPECT_EQ(m->string_at("pwd"), "x\xc3\xa9");
  ASSERT_TRUE(m->strings_at("candidates"));
  EXPECT_EQ(m->strings_at("candidates")->size(), 1u);
  EXPECT_EQ(m->get("n")->text, "-1.5e3");
  EXPECT_TRUE(m->get("ok")->boolean);
  EXPECT_EQ(m->get("nil")->kind, JsonValue::Kind::null);
  EXPECT_EQ(m->get("o")->get("k")->kind, JsonValue::Kind::array);
  for (const char* bad :
       {"", "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "\"\\x\"", "{} x", "\"\\ud800\\u0041\""}) {
    EXPECT_FALSE(parse_json(bad)) << bad;
  }
  EXPECT_EQ(parse_json(json_quote("a\"b\\c\n\x01"))->text, "a\"b\\c\n\x01");
}

// --- coturn ---------------------------------------------------------------------------

TEST(Coturn, AnswersBindingWithOurLoopbackAddress) {
  std::string error;
  auto coturn = CoturnServer::start({}, &error);
  ASSERT_TRUE(coturn) << error;
  EXPECT_TRUE(coturn->address().ip().is_loopback());

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
  socklen_t len = sizeof local;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len), 0);
  SocketAddress ours(IpAddress::loopback_v4(), ntohs(local.sin_port));
  sockaddr_in server = local;
  server.sin_port = htons(coturn->port());

  SeededRandom rng(42);
  auto tid = stun::random_transaction_id(rng);
  Bytes request =
      stun::MessageBuilder(stun::Method::binding, stun::Class::request, tid).finish(true);
  std::optional<stun::Message> response;
  // Up to 10 sends, 200 ms apart (UDP on loopback does not lose, but the bound costs nothing).
  for (int attempt = 0; attempt < 10 && !response; ++attempt) {
    ASSERT_EQ(::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&server),
                       sizeof server),
              static_cast<ssize_t>(request.size()));
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    uint8_t buffer[1500];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0);
    auto parsed = stun::Message::parse(ByteView(buffer, static_cast<size_t>(n)));
    ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
    response = std::move(*parsed);
  }
  ::close(fd);
  ASSERT_TRUE(response) << coturn->log_tail();
  EXPECT_EQ(response->method(), stun::Method::binding);
  EXPECT_EQ(response->cls(), stun::Class::success_response);
  EXPECT_EQ(response->transaction_id(), tid);
  ASSERT_TRUE(response->xor_mapped_address());
  EXPECT_EQ(*response->xor_mapped_address(), ours);
  EXPECT_TRUE(response->has_fingerprint());  // the fixture turns coturn's fingerprints on
  EXPECT_TRUE(coturn->running());
}

TEST(Coturn, StopsAtTeardown) {
  std::string error;
  SocketAddress address;
  {
    auto coturn = CoturnServer::start({.allow_loopback_peers = true}, &error);
    ASSERT_TRUE(coturn) << error;
    address = coturn->address();
  }
  EXPECT_FALSE(answers_stun_binding(address, 300ms));
}

TEST(Coturn, FailsClearlyWithoutTheBinary) {
  std::string error;
  auto coturn = CoturnServer::start({.binary = "/nonexistent/turnserver"}, &error);
  EXPECT_FALSE(coturn);
  EXPECT_NE(error.find("/nonexistent/turnserver"), std::string::npos) << error;
}

TEST(Coturn, RestCredentials) {
  std::string error;
  auto coturn = CoturnServer::start({.static_auth_secret = "north"}, &error);
  ASSERT_TRUE(coturn) << error;
  auto [username, password] = coturn->rest_credentials("device-1", 600s);
  auto colon = username.find(':');
  ASSERT_NE(colon, std::string::npos);
  EXPECT_EQ(username.substr(colon + 1), "device-1");
  EXPECT_GT(std::stoll(username.substr(0, colon)), 1700000000);
  EXPECT_EQ(password.size(), 28u);  // base64 of a 20-byte HMAC-SHA1
}

// --- aioice ---------------------------------------------------------------------------

TEST(Aioice, GathersALoopbackHostCandidate) {
  std::string error;
  auto peer = AioicePeer::start({.controlling = true, .timeout = 10s}, &error);
  ASSERT_TRUE(peer) << error;
  auto local = peer->local_description(10s);
  ASSERT_TRUE(local) << peer->log_tail();
  EXPECT_FALSE(local->ufrag.empty());
  EXPECT_GE(local->pwd.size(), 22u);  // RFC 8839 section 5.4: at least 128 bits
  ASSERT_FALSE(local->candidates.empty());
  for (const auto& line : local->candidates) {
    auto c = ice::parse_candidate(line);
    ASSERT_TRUE(c.ok()) << line << ": " << c.error().reason;
    EXPECT_EQ(c->type, ice::CandidateType::host) << line;
    EXPECT_EQ(c->transport, TransportProtocol::udp) << line;
    EXPECT_EQ(c->address.ip(), IpAddress::loopback_v4()) << line;
  }
  EXPECT_TRUE(peer->close(5s)) << peer->log_tail();
  EXPECT_TRUE(peer->errors().empty());
}

// Two aioice peers through the harness: proves the remote/connected/send/recv protocol end to
// end, so a failing ICE interop test points at our agent, not at the harness.
TEST(Aioice, TwoPeersConnectAndCarryData) {
  std::string error;
  auto a = AioicePeer::start({.controlling = true, .timeout = 15s}, &error);
  ASSERT_TRUE(a) << error;
  auto b = AioicePeer::start({.controlling = false, .timeout = 15s, .echo = true}, &error);
  ASSERT_TRUE(b) << error;
  auto la = a->local_description(10s);
  auto lb = b->local_description(10s);
  ASSERT_TRUE(la && lb);
  ASSERT_TRUE(a->set_remote(*lb));
  ASSERT_TRUE(b->set_remote(*la));
  auto ra = a->wait_for_result(10s);
  auto rb = b->wait_for_result(10s);
  ASSERT_TRUE(ra && ra->connected) << (ra ? ra->error : a->log_tail());
  ASSERT_TRUE(rb && rb->connected) << (rb ? rb->error : b->log_tail());
  EXPECT_EQ(ice::parse_candidate(ra->selected_remote)->address,
            ice::parse_candidate(rb->selected_local)->address);

  const Bytes ping = {0x00, 0x01, 0xfe, 0xff};
  ASSERT_TRUE(a->send(ping));
  EXPECT_EQ(b->receive(5s), ping);
  EXPECT_EQ(a->receive(5s), ping);  // echoed by b
  EXPECT_TRUE(a->close(5s));
  EXPECT_TRUE(b->close(5s));
}

TEST(Aioice, RefusesANonLoopbackRemoteCandidate) {
  std::string error;
  auto peer = AioicePeer::start({.controlling = false, .timeout = 10s}, &error);
  ASSERT_TRUE(peer) << error;
  ASSERT_TRUE(peer->local_description(10s));
  ASSERT_TRUE(peer->set_remote({"abcd",
                                "0123456789012345678901",
                                {"candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host"}}));
  auto result = peer->wait_for_result(5s);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->connected);
  EXPECT_NE(result->error.find("non-loopback"), std::string::npos) << result->error;
}

}  // namespace
}  // namespace cellrtc::interop
