#include "modem/at_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace cellrtc::modem {
namespace {

Instant at_ms(int64_t ms) {
  return Instant::from_us(ms * 1000);
}

class AtEngineTest : public ::testing::Test {
 protected:
  void feed(std::string_view s, int64_t ms = 0) { at.handle_bytes(at_ms(ms), as_bytes(s)); }
  std::string sent() {
    std::string out;
    while (auto b = at.poll_transmit())
      out.append(as_chars(*b));
    return out;
  }
  std::vector<AtResponse> responses() {
    drain();
    auto r = std::move(responses_);
    responses_.clear();
    return r;
  }
  std::vector<std::string> urcs() {
    drain();
    auto u = std::move(urcs_);
    urcs_.clear();
    return u;
  }
  void drain() {
    while (auto e = at.poll_event()) {
      if (auto* r = std::get_if<AtResponse>(&*e)) responses_.push_back(*r);
      if (auto* u = std::get_if<AtUrc>(&*e)) urcs_.push_back(u->line);
      if (auto* d = std::get_if<DataModeEnded>(&*e)) ended_.push_back(*d);
    }
  }
  uint32_t submit(AtCommand c, int64_t ms = 0) {
    auto id = at.submit(at_ms(ms), std::move(c));
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : 0;
  }

  AtEngine at;
  std::vector<AtResponse> responses_;
  std::vector<std::string> urcs_;
  std::vector<DataModeEnded> ended_;
};

TEST(AtFinalResult, ClassifiesEveryFinalResultCode) {
  EXPECT_EQ(final_result_of("OK"), AtResult::ok);
  EXPECT_EQ(final_result_of("ERROR"), AtResult::error);
  EXPECT_EQ(final_result_of("+CME ERROR: 10"), AtResult::cme_error);
  EXPECT_EQ(final_result_of("+CME ERROR: SIM not inserted"), AtResult::cme_error);
  EXPECT_EQ(final_result_of("+CMS ERROR: 500"), AtResult::cms_error);
  EXPECT_EQ(final_result_of("CONNECT"), AtResult::connect);
  EXPECT_EQ(final_result_of("CONNECT 150000000"), AtResult::connect);
  EXPECT_EQ(final_result_of("NO CARRIER"), AtResult::no_carrier);
  EXPECT_EQ(final_result_of("BUSY"), AtResult::busy);
  EXPECT_EQ(final_result_of("NO ANSWER"), AtResult::no_answer);
  EXPECT_EQ(final_result_of("NO DIALTONE"), AtResult::no_dialtone);
  EXPECT_FALSE(final_result_of("OKAY"));
  EXPECT_FALSE(final_result_of("CONNECTED"));
  EXPECT_FALSE(final_result_of("+CSQ: 20,99"));
}

TEST(AtLineParserTest, SplitsOnCrLfAndSkipsEmptyLines) {
  AtLineParser p;
  std::vector<std::string> lines;
  for (char c : std::string("\r\nOK\r\n\r\n+CSQ: 1,2\n\rECHO\r"))
    if (auto l = p.push(static_cast<uint8_t>(c))) lines.emplace_back(*l);
  EXPECT_EQ(lines, (std::vector<std::string>{"OK", "+CSQ: 1,2", "ECHO"}));
}

TEST(AtLineParserTest, DropsGarbageBytesAndOverlongLines) {
  AtLineParser p(8);
  std::vector<std::string> lines;
  const char raw[] = "\xff\x00O\x7fK\x80\r\n0123456789ABC\r\nSHORT\r\n";
  std::string in(raw, sizeof(raw) - 1);
  for (char c : in)
    if (auto l = p.push(static_cast<uint8_t>(c))) lines.emplace_back(*l);
  EXPECT_EQ(lines, (std::vector<std::string>{"OK", "SHORT"}));
  EXPECT_EQ(p.stats().dropped_bytes, 4u);
  EXPECT_EQ(p.stats().overlong_lines, 1u);
}

TEST(AtLineParserTest, PromptIsALine) {
  AtLineParser p;
  std::vector<std::string> lines;
  for (char c : std::string("\r\n> "))
    if (auto l = p.push(static_cast<uint8_t>(c))) lines.emplace_back(*l);
  EXPECT_EQ(lines, (std::vector<std::string>{"> "}));
}

TEST_F(AtEngineTest, SendsCommandAndCollectsIntermediateLines) {
  const uint32_t id = submit({"AT+CSQ", seconds(1), "+CSQ:"});
  EXPECT_EQ(sent(), "AT+CSQ\r");
  feed("\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 50);
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, id);
  EXPECT_EQ(r[0].result, AtResult::ok);
  EXPECT_EQ(r[0].lines, (std::vector<std::string>{"+CSQ: 20,99"}));
  EXPECT_TRUE(at.idle());
}

TEST_F(AtEngineTest, QueuesCommandsOneAtATime) {
  submit({"AT"});
  submit({"ATE0"});
  EXPECT_EQ(sent(), "AT\r");
  feed("\r\nOK\r\n");
  EXPECT_EQ(sent(), "ATE0\r");
  feed("\r\nOK\r\n");
  EXPECT_EQ(responses().size(), 2u);
}

TEST_F(AtEngineTest, ResponseSplitAcrossReadsByteByByte) {
  submit({"AT+COPS?", seconds(3), "+COPS:"});
  (void)sent();
  for (char c : std::string("\r\n+COPS: 0,2,\"20205\",7\r\n\r\nOK\r\n"))
    feed(std::string(1, c));
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lines, (std::vector<std::string>{"+COPS: 0,2,\"20205\",7"}));
}

TEST_F(AtEngineTest, UrcInTheMiddleOfAResponseStaysAUrc) {
  submit({"AT+CSQ", seconds(1), "+CSQ:"});
  (void)sent();
  feed("\r\n+CSQ: 17,99\r\n\r\n+CEREG: 1\r\n\r\n+CGEV: ME DETACH\r\n\r\nOK\r\n");
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lines, (std::vector<std::string>{"+CSQ: 17,99"}));
  EXPECT_EQ(urcs(), (std::vector<std::string>{"+CEREG: 1", "+CGEV: ME DETACH"}));
}

TEST_F(AtEngineTest, OwnPrefixWinsOverUrcList) {
  submit({"AT+CREG?", seconds(1), "+CREG:"});
  (void)sent();
  feed("\r\n+CREG: 0,5\r\n\r\nOK\r\n");
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lines, (std::vector<std::string>{"+CREG: 0,5"}));
  EXPECT_TRUE(urcs().empty());
}

TEST_F(AtEngineTest, UrcsWithNothingInFlight) {
  feed("\r\nRDY\r\n\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n");
  EXPECT_EQ(urcs(), (std::vector<std::string>{"RDY", "*ATREADY: 1", "+CPIN: READY", "SMS DONE",
                                              "PB DONE"}));
}

TEST_F(AtEngineTest, EchoIsDropped) {
  submit({"AT+CSQ", seconds(1), "+CSQ:"});
  (void)sent();
  feed("AT+CSQ\r\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lines, (std::vector<std::string>{"+CSQ: 99,99"}));
  EXPECT_EQ(at.stats().echoes, 1u);
}

TEST_F(AtEngineTest, GarbageBytesAroundAResponse) {
  submit({"AT"});
  (void)sent();
  feed(std::string("\x00\xfe\xff\r\nO\x01K\r\n", 10));
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, AtResult::ok);
}

TEST_F(AtEngineTest, CmeErrorNumericAndVerbose) {
  submit({"AT+CPIN?", seconds(5), "+CPIN:"});
  submit({"AT+CPIN?", seconds(5), "+CPIN:"});
  (void)sent();
  feed("\r\n+CME ERROR: 10\r\n");
  feed("\r\n+CME ERROR: SIM not inserted\r\n");
  auto r = responses();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].result, AtResult::cme_error);
  EXPECT_EQ(r[0].error_code, 10);
  EXPECT_EQ(r[1].result, AtResult::cme_error);
  EXPECT_FALSE(r[1].error_code);
  EXPECT_EQ(r[1].error_text, "SIM not inserted");
}

TEST_F(AtEngineTest, TimeoutPerCommandThenQueueMovesOn) {
  submit({"AT+COPS=0", seconds(120)}, 0);
  submit({"AT", milliseconds(500)}, 0);
  EXPECT_EQ(sent(), "AT+COPS=0\r");
  EXPECT_EQ(at.next_timeout(), at_ms(120000));
  at.handle_timeout(at_ms(119999));
  EXPECT_TRUE(responses().empty());
  at.handle_timeout(at_ms(120000));
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, AtResult::timeout);
  EXPECT_EQ(sent(), "AT\r");
  EXPECT_EQ(at.next_timeout(), at_ms(120500));
  // A late OK of the timed-out command lands on the next one: callers resync after timeouts.
}

TEST_F(AtEngineTest, QueueIsBounded) {
  AtEngine small(AtEngineConfig{.max_queue = 2});
  EXPECT_TRUE(small.submit(at_ms(0), {"AT"}).ok());
  EXPECT_TRUE(small.submit(at_ms(0), {"AT"}).ok());
  auto r = small.submit(at_ms(0), {"AT"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_FALSE(small.submit(at_ms(0), {"AT\r+CFUN=0"}).ok());
}

TEST_F(AtEngineTest, ConnectEntersDataModeWithTheRestOfTheRead) {
  submit({"ATD*99#", seconds(30), "", true});
  EXPECT_EQ(sent(), "ATD*99#\r");
  feed("\r\nCONNECT 150000000\r\n\x7e\xff\x03\xc0\x21");
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, AtResult::connect);
  EXPECT_EQ(r[0].final_line, "CONNECT 150000000");
  EXPECT_TRUE(at.in_data_mode());
  auto d = at.poll_data();
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (Bytes{0x7e, 0xff, 0x03, 0xc0, 0x21}));
  at.send_data(at_ms(1), Bytes{0x7e, 0x01});
  EXPECT_EQ(sent(), std::string("\x7e\x01", 2));
}

TEST_F(AtEngineTest, CommandsWaitWhileInDataMode) {
  submit({"ATD*99#", seconds(30), "", true});
  (void)sent();
  feed("\r\nCONNECT\r\n");
  submit({"AT+CSQ"});
  EXPECT_EQ(sent(), "");
  EXPECT_TRUE(at.in_data_mode());
}

TEST_F(AtEngineTest, NoCarrierInDataModeEndsIt) {
  submit({"ATD*99#", seconds(30), "", true});
  (void)sent();
  feed("\r\nCONNECT\r\n\x7e\x21\x7e");
  feed("\x7e\r\nNO CAR");
  feed("RIER\r\n\r\n+CEREG: 0\r\n");
  drain();
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_TRUE(ended_[0].no_carrier);
  EXPECT_FALSE(at.in_data_mode());
  EXPECT_EQ(urcs(), (std::vector<std::string>{"+CEREG: 0"}));
}

TEST_F(AtEngineTest, EscapeWaitsForGuardTimesThenReturnsToCommandMode) {
  submit({"ATD*99#", seconds(30), "", true}, 0);
  (void)sent();
  feed("\r\nCONNECT\r\n", 100);
  ASSERT_EQ(responses().size(), 1u);
  at.send_data(at_ms(200), Bytes{0x7e});
  (void)sent();
  AtCommand escape{"+++", seconds(2)};
  escape.raw = true;
  escape.guard = seconds(1);
  submit(escape, 500);
  at.send_data(at_ms(600), Bytes{0x7e});  // the line must stay quiet before +++
  EXPECT_EQ(sent(), "");
  EXPECT_EQ(at.next_timeout(), at_ms(1200));
  at.handle_timeout(at_ms(1200));
  EXPECT_EQ(sent(), "+++");
  EXPECT_FALSE(at.in_data_mode());
  EXPECT_EQ(at.next_timeout(), at_ms(1200 + 1000 + 2000));
  feed("\r\nOK\r\n", 2300);
  auto r = responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, AtResult::ok);
}

TEST_F(AtEngineTest, AbortAllCompletesEverything) {
  submit({"AT"});
  submit({"AT+CSQ"});
  at.abort_all();
  auto r = responses();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].result, AtResult::aborted);
  EXPECT_EQ(r[1].result, AtResult::aborted);
  EXPECT_TRUE(at.idle());
}

TEST_F(AtEngineTest, StrayFinalResultWithNothingInFlightIsIgnored) {
  feed("\r\nOK\r\nAT+CSQ\r");
  EXPECT_TRUE(responses().empty());
  EXPECT_TRUE(urcs().empty());
  EXPECT_EQ(at.stats().stray_lines, 1u);
}

}  // namespace
}  // namespace cellrtc::modem
