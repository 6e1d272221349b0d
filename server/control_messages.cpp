#include "server/control_messages.h"

namespace cellrtc::server {
namespace {

using nlohmann::json;

// A "set" field: absent, or an integer 0..100000 (0 = automatic).
Result<std::optional<int64_t>> set_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<int64_t>{};
  if (!it->is_number()) return Error{Errc::invalid_argument, "set: fields must be numbers"};
  double v = it->get<double>();
  if (!(v >= 0 && v <= 100000)) return Error{Errc::invalid_argument, "set: value out of range"};
  return std::optional<int64_t>{static_cast<int64_t>(v)};
}

}  // namespace

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ControlMessage> parse_control_message(std::string_view text) {
  if (text.size() > kMaxControlMessageBytes)
    return Error{Errc::malformed, "control message over 4096 bytes"};
  // No exceptions: a parse error gives a discarded value.
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) return Error{Errc::malformed, "control message is not JSON"};
  if (!body.is_object()) return Error{Errc::malformed, "control message is not an object"};
  auto type = body.find("type");
  if (type == body.end() || !type->is_string())
    return Error{Errc::malformed, "control message has no string \"type\""};
  ControlMessage m;
  m.type = type->get<std::string>();
  m.body = std::move(body);
  return m;
}

std::optional<Pong> read_pong(const ControlMessage& message) {
  if (message.type != "pong") return std::nullopt;
  auto t = message.body.find("t");
  auto now = message.body.find("now_us");
  if (t == message.body.end() || now == message.body.end()) return std::nullopt;
  if (!t->is_number_unsigned() || !now->is_number_integer()) return std::nullopt;
  return Pong{t->get<uint64_t>(), now->get<int64_t>()};
}

std::optional<json> read_ping_t(const ControlMessage& message) {
  if (message.type != "ping") return std::nullopt;
  auto t = message.body.find("t");
  if (t == message.body.end()) return json(nullptr);
  if (!t->is_number() && !t->is_string()) return std::nullopt;
  if (t->is_string() && t->get_ref<const std::string&>().size() > 64) return std::nullopt;
  return *t;
}

Result<std::string> viewer_command(const ControlMessage& message) {
  if (message.type == "snapshot") return std::string(R"({"type":"snapshot"})");
  if (message.type != "set") return Error{Errc::unsupported, "unknown command"};
  json out = {{"type", "set"}};
  for (const char* name : {"fps", "quality", "width", "height"}) {
    auto v = set_field(message.body, name);
    if (!v) return v.error();
    if (*v) out[name] = **v;
  }
  return dump_json(out);
}

std::string telemetry_event_json(const ControlMessage& telemetry, std::string_view device_id) {
  json out = telemetry.body;
  out["type"] = "telemetry";
  out["id"] = std::string(device_id);
  return dump_json(out);
}

std::string ping_json(uint64_t t) {
  return dump_json({{"type", "ping"}, {"t", t}});
}

std::string pong_json(const json& t, int64_t now_us) {
  return dump_json({{"type", "pong"}, {"t", t}, {"now_us", now_us}});
}

std::string state_json(std::string_view state) {
  return dump_json({{"type", "state"}, {"state", std::string(state)}});
}

std::string clock_json(int64_t offset_us) {
  return dump_json({{"type", "clock"}, {"offset_us", offset_us}});
}

std::string error_json(std::string_view reason) {
  return dump_json({{"type", "error"}, {"reason", std::string(reason)}});
}

std::string report_json(const ReceiverReport& r) {
  json out = {{"type", "report"},
              {"seq", r.seq},
              {"frames", r.frames},
              {"bytes", r.bytes},
              {"interval_ms", r.interval_ms},
              {"lost", r.lost}};
  if (r.latency_ms) out["latency_ms"] = *r.latency_ms;
  return dump_json(out);
}

}  // namespace cellrtc::server
