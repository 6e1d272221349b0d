#include "server/direct_messages.h"

namespace cellrtc::server {
namespace {

using nlohmann::json;

// Bytes a character takes in a JSON string as dump_json writes it (RFC 8259 section 7).
size_t escaped_size(char c) {
  auto u = static_cast<unsigned char>(c);
  if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
    return 2;
  return u < 0x20 ? 6 : 1;
}

std::optional<std::string> string_field(const json& body, const char* name, size_t max) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return std::nullopt;
  return s;
}

std::optional<size_t> count_field(const json& body, const char* name, size_t max) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_number_unsigned()) return std::nullopt;
  auto v = it->get<uint64_t>();
  if (v > max) return std::nullopt;
  return static_cast<size_t>(v);
}

std::optional<std::string> id_field(const json& body) {
  auto id = string_field(body, "id", kMaxDirectIdBytes);
  if (!id || id->empty()) return std::nullopt;
  return id;
}

}  // namespace

std::vector<std::string> direct_sdp_messages(std::string_view type, std::string_view id,
                                             std::string_view sdp,
                                             const DirectTurnCredentials* turn) {
  if (sdp.size() > kMaxDirectSdpBytes || id.size() > kMaxDirectIdBytes || sdp.empty()) return {};
  // A control message's strings other than sdp are at most 256 bytes (docs/protocol.md).
  if (turn && (turn->username.size() > 256 || turn->credential.size() > 256)) return {};
  // Cut where the escaped part would pass the part limit (the part is decoded to at most that).
  const std::vector<std::string_view> pieces = media::split_direct_sdp(sdp, escaped_size);
  if (pieces.empty()) return {};
  std::vector<std::string> out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    nlohmann::json m = {
        {"type", type}, {"id", id}, {"part", i}, {"parts", pieces.size()}, {"sdp", pieces[i]}};
    if (i == 0 && turn) {
      m["turn_username"] = turn->username;
      m["turn_credential"] = turn->credential;
    }
    out.push_back(dump_json(m));
  }
  return out;
}

std::string direct_candidate_json(std::string_view id, std::string_view candidate) {
  if (candidate.empty())
    return dump_json({{"type", "direct-candidate"}, {"id", id}, {"end", true}});
  return dump_json({{"type", "direct-candidate"}, {"id", id}, {"candidate", candidate}});
}

std::string direct_close_json(std::string_view id) {
  return dump_json({{"type", "direct-close"}, {"id", id}});
}

Result<DirectSdpPart> read_direct_sdp_part(const ControlMessage& message) {
  DirectSdpPart p;
  auto id = id_field(message.body);
  if (!id) return Error{Errc::invalid_argument, "direct: \"id\" must be 1 to 64 characters"};
  p.id = std::move(*id);
  auto parts = count_field(message.body, "parts", kMaxDirectSdpParts);
  if (!parts || *parts == 0)
    return Error{Errc::invalid_argument, "direct: \"parts\" must be 1 to 8"};
  auto part = count_field(message.body, "part", *parts - 1);
  if (!part) return Error{Errc::invalid_argument, "direct: \"part\" must be below \"parts\""};
  auto sdp = string_field(message.body, "sdp", kMaxDirectSdpPartBytes);
  if (!sdp) return Error{Errc::invalid_argument, "direct: \"sdp\" must be a string of 1536 bytes"};
  p.parts = *parts;
  p.part = *part;
  p.sdp = std::move(*sdp);
  return p;
}

Result<std::optional<std::string>> DirectSdpAssembler::add(const DirectSdpPart& part) {
  if (part.part != next_ || (next_ > 0 && part.parts != parts_)) {
    next_ = kMaxDirectSdpParts + 1;  // over: nothing more is taken
    return Error{Errc::malformed, "direct: SDP part out of order"};
  }
  if (sdp_.size() + part.sdp.size() > kMaxDirectSdpBytes)
    return Error{Errc::limit_exceeded, "direct: SDP too large"};
  parts_ = part.parts;
  sdp_ += part.sdp;
  ++next_;
  if (next_ < parts_) return std::optional<std::string>{};
  return std::optional<std::string>{sdp_};
}

std::optional<DirectState> read_direct_state(const ControlMessage& message) {
  if (message.type != "direct-state") return std::nullopt;
  auto id = id_field(message.body);
  auto state = string_field(message.body, "state", 32);
  if (!id || !state) return std::nullopt;
  return DirectState{std::move(*id), std::move(*state)};
}

std::optional<DirectError> read_direct_error(const ControlMessage& message) {
  if (message.type != "direct-error") return std::nullopt;
  auto id = id_field(message.body);
  if (!id) return std::nullopt;
  auto reason = string_field(message.body, "reason", 256);
  return DirectError{std::move(*id), reason.value_or("")};
}

}  // namespace cellrtc::server
