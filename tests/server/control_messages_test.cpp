#include "server/control_messages.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

TEST(ControlMessages, ParsesObjectsWithAType) {
  auto m = parse_control_message(R"({"type":"pong","t":12,"now_us":-5})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->type, "pong");
  auto pong = read_pong(*m);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->t, 12u);
  EXPECT_EQ(pong->now_us, -5);
  EXPECT_FALSE(parse_control_message("not json").ok());
  EXPECT_FALSE(parse_control_message("[1,2]").ok());
  EXPECT_FALSE(parse_control_message(R"({"type":3})").ok());
  EXPECT_FALSE(parse_control_message(R"({"x":"y"})").ok());
  std::string big = R"({"type":"telemetry","pad":")" + std::string(4100, 'x') + "\"}";
  EXPECT_FALSE(parse_control_message(big).ok());
  EXPECT_FALSE(read_pong(parse_control_message(R"({"type":"pong","t":"x","now_us":1})").value()));
}

TEST(ControlMessages, ViewerCommandsAreRebuilt) {
  auto set = viewer_command(
      parse_control_message(R"({"type":"set","fps":10,"quality":60.7,"extra":{"a":1}})").value());
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(*set, R"({"fps":10,"quality":60,"type":"set"})");
  EXPECT_EQ(*viewer_command(parse_control_message(R"({"type":"snapshot","x":1})").value()),
            R"({"type":"snapshot"})");
  EXPECT_FALSE(viewer_command(parse_control_message(R"({"type":"set","fps":-1})").value()).ok());
  EXPECT_FALSE(viewer_command(parse_control_message(R"({"type":"set","fps":"9"})").value()).ok());
  EXPECT_FALSE(viewer_command(parse_control_message(R"({"type":"reboot"})").value()).ok());
}

TEST(ControlMessages, WritesProtocolMessages) {
  EXPECT_EQ(ping_json(5), R"({"t":5,"type":"ping"})");
  EXPECT_EQ(state_json("live"), R"({"state":"live","type":"state"})");
  EXPECT_EQ(clock_json(-3), R"({"offset_us":-3,"type":"clock"})");
  ReceiverReport r;
  r.seq = 9;
  r.frames = 3;
  r.bytes = 100;
  r.interval_ms = 1000;
  EXPECT_EQ(report_json(r),
            R"({"bytes":100,"frames":3,"interval_ms":1000,"lost":0,"seq":9,"type":"report"})");
  r.latency_ms = 240;
  EXPECT_NE(report_json(r).find(R"("latency_ms":240)"), std::string::npos);
  // Invalid UTF-8 is replaced, not thrown.
  EXPECT_FALSE(error_json("bad \xff byte").empty());
}

}  // namespace
}  // namespace cellrtc::server
