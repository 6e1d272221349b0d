// The control channel's JSON codec (core/media/control_message.h) on the messages of
// docs/protocol.md, malformed input and limits.
#include "core/media/control_message.h"

#include <gtest/gtest.h>

#include <string>

namespace cellrtc::media {
namespace {

TEST(ControlMessage, DecodesTheProtocolsServerMessages) {
  auto ping = decode_device_message(R"({"type":"ping","t":123})");
  ASSERT_TRUE(ping.ok());
  ASSERT_TRUE(std::holds_alternative<PingMessage>(*ping));
  EXPECT_EQ(std::get<PingMessage>(*ping).t.text, "123");

  auto set =
      decode_device_message(R"({"type":"set","fps":7.5,"quality":60,"width":640,"height":480})");
  ASSERT_TRUE(set.ok());
  const auto& s = std::get<SetMessage>(*set);
  EXPECT_DOUBLE_EQ(s.fps, 7.5);
  EXPECT_EQ(s.quality, 60);
  EXPECT_EQ(s.width, 640);
  EXPECT_EQ(s.height, 480);

  auto partial = decode_device_message(R"({"type":"set","quality":40})");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(std::get<SetMessage>(*partial).fps, 0);
  EXPECT_EQ(std::get<SetMessage>(*partial).quality, 40);

  auto snapshot = decode_device_message(R"({ "type" : "snapshot" })");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(std::holds_alternative<SnapshotMessage>(*snapshot));

  auto report = decode_device_message(
      R"({"type":"report","seq":812,"frames":9,"bytes":187000,"interval_ms":1000,"latency_ms":240,"lost":1})");
  ASSERT_TRUE(report.ok());
  const auto& r = std::get<ReportMessage>(*report);
  EXPECT_EQ(r.seq, 812u);
  EXPECT_EQ(r.frames, 9u);
  EXPECT_EQ(r.bytes, 187000u);
  EXPECT_EQ(r.interval_ms, 1000u);
  ASSERT_TRUE(r.latency_ms.has_value());
  EXPECT_EQ(*r.latency_ms, 240u);
  EXPECT_EQ(r.lost, 1u);

  auto no_latency = decode_device_message(R"({"type":"report","seq":1,"frames":1})");
  ASSERT_TRUE(no_latency.ok());
  EXPECT_FALSE(std::get<ReportMessage>(*no_latency).latency_ms.has_value());
}

TEST(ControlMessage, TurnCredentialsRoundTripAndAreChecked) {
  TurnCredentialsMessage c{"1795536000:cam1", "qU1Xr5q5c3fIvQ8f9VnV3cE2o1A=", 1795536000};
  auto decoded = decode_device_message(encode_turn_credentials(c));
  ASSERT_TRUE(decoded.ok());
  const auto& d = std::get<TurnCredentialsMessage>(*decoded);
  EXPECT_EQ(d.username, c.username);
  EXPECT_EQ(d.credential, c.credential);
  EXPECT_EQ(d.expires, c.expires);
  for (const char* bad : {
           R"({"type":"turn-credentials","credential":"x","expires":1})",
           R"({"type":"turn-credentials","username":"","credential":"x","expires":1})",
           R"({"type":"turn-credentials","username":"u","credential":7,"expires":1})",
           R"({"type":"turn-credentials","username":"u","credential":"x","expires":1.5})",
           R"({"type":"turn-credentials","username":"u","credential":"x","expires":-1})",
           R"({"type":"turn-credentials","username":"u","credential":"x"})",
       })
    EXPECT_FALSE(decode_device_message(bad).ok()) << bad;
}

TEST(ControlMessage, DemandRoundTripsAndIsChecked) {
  for (uint32_t n : {0u, 1u, 4294967295u}) {
    auto decoded = decode_device_message(encode_demand({n}));
    ASSERT_TRUE(decoded.ok()) << n;
    EXPECT_EQ(std::get<DemandMessage>(*decoded).viewers, n);
  }
  EXPECT_EQ(encode_demand({3}), R"({"type":"demand","viewers":3})");
  for (const char* bad : {
           R"({"type":"demand"})",
           R"({"type":"demand","viewers":null})",
           R"({"type":"demand","viewers":"1"})",
           R"({"type":"demand","viewers":-1})",
           R"({"type":"demand","viewers":1.5})",
           R"({"type":"demand","viewers":4294967296})",
       })
    EXPECT_FALSE(decode_device_message(bad).ok()) << bad;
}

TEST(ControlMessage, IgnoresUnknownTypesAndFields) {
  auto unknown = decode_device_message(R"({"type":"state","state":"live","extra":[]})");
  // Arrays are refused by the syntax (control messages have none).
  EXPECT_FALSE(unknown.ok());
  auto m = decode_device_message(R"({"type":"future","x":{"y":1},"z":null})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::get<UnknownMessage>(*m).type, "future");
  auto set = decode_device_message(R"({"type":"set","fps":5,"new_field":"x"})");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(std::get<SetMessage>(*set).fps, 5);
}

TEST(ControlMessage, PongEchoesTheTimestampExactly) {
  auto ping = decode_device_message(R"({"type":"ping","t":1700000000123456789})");
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(encode_pong(std::get<PingMessage>(*ping).t, Instant::from_us(456789)),
            R"({"type":"pong","t":1700000000123456789,"now_us":456789})");
  auto text_t = decode_device_message(R"({"type":"ping","t":"a\"b"})");
  ASSERT_TRUE(text_t.ok());
  EXPECT_EQ(encode_pong(std::get<PingMessage>(*text_t).t, Instant::from_us(1)),
            R"({"type":"pong","t":"a\"b","now_us":1})");
}

TEST(ControlMessage, TelemetryRoundTrips) {
  TelemetryMessage t;
  t.fps = 9.8;
  t.kbps = 410;
  t.rtt_ms = 180;
  t.quality = 55;
  t.width = 640;
  t.height = 480;
  t.sent = 1200;
  t.dropped = 37;
  t.modem = ModemTelemetry{-71, 4, "Voda\"fone", "LTE"};
  std::string text = encode_telemetry(t);
  EXPECT_EQ(text,
            R"({"type":"telemetry","fps":9.8,"kbps":410,"rtt_ms":180,"quality":55,"width":640,)"
            R"("height":480,"sent":1200,"dropped":37,"modem":{"rssi_dbm":-71,"bars":4,)"
            R"("operator":"Voda\"fone","tech":"LTE"}})");
  auto object = parse_control_object(text);
  ASSERT_TRUE(object.ok());
  auto back = decode_telemetry(*object);
  ASSERT_TRUE(back.ok());
  EXPECT_DOUBLE_EQ(back->fps, 9.8);
  EXPECT_EQ(back->rtt_ms, 180u);
  ASSERT_TRUE(back->modem.has_value());
  EXPECT_EQ(back->modem->operator_name, "Voda\"fone");
  EXPECT_EQ(back->modem->rssi_dbm, -71);

  // A microcontroller's heap (the ESP32 firmware), psram_free optional.
  t.modem.reset();
  t.device = DeviceHealth{181000, 150000, 7900000};
  text = encode_telemetry(t);
  EXPECT_NE(text.find(R"("device":{"heap_free":181000,"heap_min_free":150000,)"
                      R"("psram_free":7900000})"),
            std::string::npos)
      << text;
  object = parse_control_object(text);
  ASSERT_TRUE(object.ok());
  back = decode_telemetry(*object);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->device.has_value());
  EXPECT_EQ(back->device->heap_min_free, 150000u);
  EXPECT_EQ(back->device->psram_free, 7900000u);
  object = parse_control_object(R"({"type":"telemetry","device":{"heap_free":-1}})");
  ASSERT_TRUE(object.ok());
  EXPECT_FALSE(decode_telemetry(*object).ok());

  TelemetryMessage bare;
  EXPECT_EQ(encode_telemetry(bare),
            R"({"type":"telemetry","fps":0,"kbps":0,"quality":0,"width":0,"height":0,"sent":0,)"
            R"("dropped":0})");
}

TEST(ControlMessage, WritersRoundTripThroughTheReader) {
  auto set = decode_device_message(encode_set({12.5, 70, 320, 240}));
  ASSERT_TRUE(set.ok());
  EXPECT_DOUBLE_EQ(std::get<SetMessage>(*set).fps, 12.5);
  EXPECT_EQ(std::get<SetMessage>(*set).height, 240);
  auto ping = decode_device_message(encode_ping(42));
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(std::get<PingMessage>(*ping).t.number, 42);
  ReportMessage r{5, 6, 7000, 1000, std::nullopt, 2};
  auto report = decode_device_message(encode_report(r));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(std::get<ReportMessage>(*report).bytes, 7000u);
  EXPECT_TRUE(std::holds_alternative<SnapshotMessage>(*decode_device_message(encode_snapshot())));
}

TEST(ControlMessage, StringsAndNumbersFollowRfc8259) {
  auto o = parse_control_object(
      R"({"a":"\u00e9\ud83d\ude00\n\/","b":-0.5,"c":1e3,"d":2.5E-1,"e":true,"f":false,"g":null})");
  ASSERT_TRUE(o.ok()) << o.error().reason;
  EXPECT_EQ(o->find("a")->text, "\xc3\xa9\xf0\x9f\x98\x80\n/");
  EXPECT_DOUBLE_EQ(o->find("b")->number, -0.5);
  EXPECT_DOUBLE_EQ(o->find("c")->number, 1000);
  EXPECT_DOUBLE_EQ(o->find("d")->number, 0.25);
  EXPECT_TRUE(o->find("e")->boolean);
  EXPECT_EQ(o->find("g")->kind, ControlValue::Kind::null);
  EXPECT_EQ(format_control_number(9.8), "9.8");
  EXPECT_EQ(format_control_number(-71), "-71");
  EXPECT_EQ(format_control_number(0.0004), "0");
  EXPECT_EQ(format_control_number(1.25), "1.25");
  // Large whole numbers (byte counts) stay whole: value * 1000 would round them off.
  EXPECT_EQ(format_control_number(187002422222222.0), "187002422222222");
  EXPECT_EQ(format_control_number(9007199254740991.0), "9000000000000000");
  EXPECT_EQ(format_control_number(8796093022207.5), "8796093022207.5");
}

struct BadCase {
  const char* text;
  Errc code;
  const char* reason;
};

TEST(ControlMessage, RejectsMalformedInputWithAClearReason) {
  const BadCase cases[] = {
      {"", Errc::truncated, "empty message"},
      {"[1]", Errc::malformed, "a control message must be a JSON object"},
      {R"({"type":"ping")", Errc::truncated, "object not closed"},
      {R"({"type" "ping"})", Errc::malformed, "expected ':' after a member name"},
      {R"({type:"ping"})", Errc::malformed, "expected a member name in quotes"},
      {R"({"t":01})", Errc::malformed, "a number has a leading zero"},
      {R"({"t":1.})", Errc::malformed, "a fraction needs digits"},
      {R"({"t":-})", Errc::malformed, "a number needs digits"},
      {R"({"t":1e})", Errc::malformed, "an exponent needs digits"},
      {R"({"t":1e999})", Errc::limit_exceeded, "number out of range"},
      {R"({"t":"\x"})", Errc::malformed, "unknown escape in a string"},
      {R"({"t":"\ud83d"})", Errc::malformed, "high surrogate without its pair"},
      {R"({"t":"\udc00"})", Errc::malformed, "lone low surrogate in \\u escape"},
      {"{\"t\":\"a\nb\"}", Errc::malformed, "control character in a string"},
      {R"({"m":{"n":{}}})", Errc::unsupported, "objects nest at most one level"},
      {R"({"a":[]})", Errc::unsupported, "arrays are not used in control messages"},
      {R"({"a":tru})", Errc::malformed, "expected a value"},
      {R"({"a":1} x)", Errc::malformed, "text after the object"},
      {R"({"a":1,})", Errc::malformed, "expected a member name in quotes"},
  };
  for (const auto& c : cases) {
    auto r = parse_control_object(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, c.code) << c.text;
    EXPECT_STREQ(r.error().reason, c.reason) << c.text;
  }
  auto at = parse_control_object(R"({"type":"ping","t":01})");
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.error().offset, 20u);  // the second digit
}

TEST(ControlMessage, RejectsFieldsOfTheWrongTypeOrRange) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"t":1})", "message without a \"type\""},
      {R"({"type":5})", "\"type\" must be a string"},
      {R"({"type":"set","fps":"10"})", "set.fps must be a number from 0 to 1000"},
      {R"({"type":"set","fps":-1})", "set.fps must be a number from 0 to 1000"},
      {R"({"type":"set","quality":101})", "set.quality must be a whole number 0..100"},
      {R"({"type":"set","quality":50.5})", "set.quality must be a whole number 0..100"},
      {R"({"type":"set","width":70000})", "set.width must be a whole number 0..65535"},
      {R"({"type":"report","frames":"x"})", "report.frames must be a whole number"},
      {R"({"type":"report","latency_ms":"x"})", "report.latency_ms must be a number"},
      {R"({"type":"ping","t":{"a":1}})", "ping.t must not be an object"},
  };
  for (const auto& [text, reason] : cases) {
    auto r = decode_device_message(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_STREQ(r.error().reason, reason) << text;
  }
}

TEST(ControlMessage, EnforcesItsLimits) {
  std::string big = R"({"type":"x","pad":")" + std::string(4096, 'a') + R"("})";
  auto r = parse_control_object(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_STREQ(r.error().reason, "control message longer than 4096 bytes");

  std::string long_string = R"({"type":")" + std::string(300, 'a') + R"("})";
  r = parse_control_object(long_string);
  ASSERT_FALSE(r.ok());
  EXPECT_STREQ(r.error().reason, "string longer than 256 bytes");

  std::string many = "{";
  for (int i = 0; i < 33; ++i)
    many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  many += "}";
  r = parse_control_object(many);
  ASSERT_FALSE(r.ok());
  EXPECT_STREQ(r.error().reason, "too many members in an object");

  // Exactly 4096 bytes is allowed.
  std::string edge = R"({"type":"x","p":")";
  edge += std::string(4096 - edge.size() - 2, ' ');
  edge += R"("})";
  ASSERT_EQ(edge.size(), 4096u);
  EXPECT_FALSE(parse_control_object(edge).ok());  // the string is over 256 bytes
  std::string edge2 = "{\"type\":\"x\"" + std::string(4096 - 12, ' ') + "}";
  ASSERT_EQ(edge2.size(), 4096u);
  EXPECT_TRUE(parse_control_object(edge2).ok());
}

// Direct mode (docs/protocol.md): an offer in parts joins; the answer goes back in parts that
// each fit a control message; ids and sizes are bounded.
TEST(ControlMessage, DirectOfferPartsJoinAndAnswerSplits) {
  auto first = decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":0,"parts":2,"sdp":"v=0\r\n"})");
  auto second = decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":1,"parts":2,"sdp":"s=-\r\n"})");
  ASSERT_TRUE(first && second);
  DirectSdpJoiner joiner;
  auto a = joiner.add(std::get<DirectOfferPart>(*first));
  ASSERT_TRUE(a && !a->has_value());
  auto b = joiner.add(std::get<DirectOfferPart>(*second));
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ(**b, "v=0\r\ns=-\r\n");
  // Out of order: refused.
  DirectSdpJoiner other;
  EXPECT_FALSE(other.add(std::get<DirectOfferPart>(*second)));

  EXPECT_FALSE(
      decode_device_message(R"({"type":"direct-offer","id":"v 1","part":0,"parts":1,"sdp":""})"));
  EXPECT_FALSE(
      decode_device_message(R"({"type":"direct-offer","id":"v1","part":1,"parts":1,"sdp":""})"));
  // The first part may carry fresh TURN credentials, both or neither.
  auto with_turn = decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":0,"parts":1,"sdp":"v=0\r\n",)"
      R"("turn_username":"1700000000:cam1","turn_credential":"c2VjcmV0"})");
  ASSERT_TRUE(with_turn);
  EXPECT_EQ(std::get<DirectOfferPart>(*with_turn).turn_username, "1700000000:cam1");
  EXPECT_EQ(std::get<DirectOfferPart>(*with_turn).turn_credential, "c2VjcmV0");
  EXPECT_EQ(std::get<DirectOfferPart>(*first).turn_username, "");
  EXPECT_FALSE(decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":0,"parts":1,"sdp":"","turn_username":"u"})"));
  EXPECT_FALSE(decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":0,"parts":1,"sdp":"","turn_username":1,)"
      R"("turn_credential":"c"})"));
  std::string long_sdp(kMaxDirectSdpPartBytes + 1, 'x');
  EXPECT_FALSE(decode_device_message(
      R"({"type":"direct-offer","id":"v1","part":0,"parts":1,"sdp":")" + long_sdp + "\"}"));
  auto candidate = decode_device_message(
      R"({"type":"direct-candidate","id":"v1","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"})");
  ASSERT_TRUE(candidate);
  EXPECT_FALSE(std::get<DirectCandidateMessage>(*candidate).end_of_candidates);
  auto end = decode_device_message(R"({"type":"direct-candidate","id":"v1","end":true})");
  ASSERT_TRUE(end);
  EXPECT_TRUE(std::get<DirectCandidateMessage>(*end).end_of_candidates);
  EXPECT_TRUE(std::holds_alternative<DirectCloseMessage>(
      *decode_device_message(R"({"type":"direct-close","id":"v1"})")));

  std::string answer;
  for (int i = 0; i < 100; ++i)
    answer += "a=candidate:" + std::to_string(i) + " 1 udp 2130706431 10.0.0.1 5000 typ host\r\n";
  auto parts = encode_direct_answer("v1", answer);
  ASSERT_GT(parts.size(), 1u);
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(p.size(), kMaxControlMessageBytes);
    auto o = parse_control_object(p);
    ASSERT_TRUE(o);
    joined += o->find("sdp")->text;
  }
  EXPECT_EQ(joined, answer);
  EXPECT_TRUE(encode_direct_answer("v1", std::string(kMaxDirectSdpBytes + 1, 'x')).empty());
}

}  // namespace
}  // namespace cellrtc::media
