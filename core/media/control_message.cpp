#include "core/media/control_message.h"

#include <cctype>
#include <cmath>

#include "core/common/json_text.h"

namespace cellrtc::media {

namespace {

ControlError error_at(Errc code, const char* reason, size_t offset) {
  return ControlError{code, reason, offset};
}

// A recursive-descent reader of the JSON subset above (RFC 8259 grammar).
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  ControlResult<ControlObject> read_document() {
    skip_space();
    if (at_end()) return fail(Errc::truncated, "empty message");
    if (peek() != '{') return fail(Errc::malformed, "a control message must be a JSON object");
    ControlObject object;
    if (auto s = read_object(object.fields, 0); !s) return s.error();
    skip_space();
    if (!at_end()) return fail(Errc::malformed, "text after the object");
    return object;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  ControlError fail(Errc code, const char* reason) const { return error_at(code, reason, pos_); }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  // At '{'. depth 0 is the message, 1 a nested object (the deepest allowed).
  Result<void, ControlError> read_object(std::vector<ControlField>& fields, int depth) {
    ++pos_;  // '{'
    skip_space();
    if (at_end()) return fail(Errc::truncated, "object not closed");
    if (peek() == '}') {
      ++pos_;
      return {};
    }
    for (;;) {
      skip_space();
      if (at_end()) return fail(Errc::truncated, "object not closed");
      if (peek() != '"') return fail(Errc::malformed, "expected a member name in quotes");
      if (fields.size() >= kMaxControlFields)
        return fail(Errc::limit_exceeded, "too many members in an object");
      ControlField field;
      if (auto s = read_string(field.key); !s) return s.error();
      skip_space();
      if (at_end()) return fail(Errc::truncated, "object not closed");
      if (peek() != ':') return fail(Errc::malformed, "expected ':' after a member name");
      ++pos_;
      skip_space();
      // Direct mode's SDP travels in parts larger than other strings (docs/protocol.md).
      string_limit_ =
          depth == 0 && field.key == "sdp" ? kMaxDirectSdpPartBytes : kMaxControlStringBytes;
      if (auto s = read_value(field.value, depth); !s) return s.error();
      fields.push_back(std::move(field));
      skip_space();
      if (at_end()) return fail(Errc::truncated, "object not closed");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return {};
      }
      return fail(Errc::malformed, "expected ',' or '}' after a member");
    }
  }

  Result<void, ControlError> read_value(ControlValue& value, int depth) {
    if (at_end()) return fail(Errc::truncated, "member without a value");
    char c = peek();
    if (c == '"') {
      value.kind = ControlValue::Kind::string;
      return read_string(value.text);
    }
    if (c == '{') {
      if (depth >= 1) return fail(Errc::unsupported, "objects nest at most one level");
      value.kind = ControlValue::Kind::object;
      return read_object(value.fields, depth + 1);
    }
    if (c == '[') return fail(Errc::unsupported, "arrays are not used in control messages");
    if (c == '-' || (c >= '0' && c <= '9')) return read_number(value);
    if (literal("true")) {
      value.kind = ControlValue::Kind::boolean;
      value.boolean = true;
      return {};
    }
    if (literal("false")) {
      value.kind = ControlValue::Kind::boolean;
      value.boolean = false;
      return {};
    }
    if (literal("null")) {
      value.kind = ControlValue::Kind::null;
      return {};
    }
    return fail(Errc::malformed, "expected a value");
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  // RFC 8259 section 6: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
  Result<void, ControlError> read_number(ControlValue& value) {
    size_t start = pos_;
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    if (at_end() || !digit(peek())) return fail(Errc::malformed, "a number needs digits");
    uint64_t mantissa = 0;
    int exponent10 = 0;
    int significant = 0;
    auto take_digit = [&](char d, bool fraction) {
      if (significant < 19) {
        mantissa = mantissa * 10 + static_cast<uint64_t>(d - '0');
        if (mantissa != 0) ++significant;
        if (fraction) --exponent10;
      } else if (!fraction) {
        ++exponent10;  // digits beyond what a uint64 holds only scale the value
      }
    };
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && digit(peek())) return fail(Errc::malformed, "a number has a leading zero");
    } else {
      while (!at_end() && digit(peek()))
        take_digit(text_[pos_++], false);
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (at_end() || !digit(peek())) return fail(Errc::malformed, "a fraction needs digits");
      while (!at_end() && digit(peek()))
        take_digit(text_[pos_++], true);
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      bool negative_exponent = false;
      if (!at_end() && (peek() == '+' || peek() == '-')) negative_exponent = text_[pos_++] == '-';
      if (at_end() || !digit(peek())) return fail(Errc::malformed, "an exponent needs digits");
      int e = 0;
      while (!at_end() && digit(peek())) {
        if (e < 10000) e = e * 10 + (text_[pos_] - '0');
        ++pos_;
      }
      exponent10 += negative_exponent ? -e : e;
    }
    if (pos_ - start > 64) return error_at(Errc::limit_exceeded, "number too long", start);
    double v = static_cast<double>(mantissa);
    if (mantissa != 0) {
      if (exponent10 > 308) return error_at(Errc::limit_exceeded, "number out of range", start);
      if (exponent10 < -330) {
        v = 0;
      } else {
        // Exact for the integers and short decimals control messages carry.
        double scale = 1;
        for (int i = 0; i < (exponent10 < 0 ? -exponent10 : exponent10); ++i)
          scale *= 10;
        v = exponent10 < 0 ? v / scale : v * scale;
        if (std::isinf(v)) return error_at(Errc::limit_exceeded, "number out of range", start);
      }
    }
    value.kind = ControlValue::Kind::number;
    value.number = negative ? -v : v;
    value.text.assign(text_.substr(start, pos_ - start));
    return {};
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  Result<uint32_t, ControlError> read_hex4() {
    if (text_.size() - pos_ < 4) return fail(Errc::truncated, "\\u escape needs four hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(text_[pos_ + static_cast<size_t>(i)]);
      if (h < 0) return fail(Errc::malformed, "\\u escape needs four hex digits");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    pos_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At '"'. RFC 8259 section 7: escapes, no raw control characters.
  Result<void, ControlError> read_string(std::string& out) {
    ++pos_;
    for (;;) {
      if (at_end()) return fail(Errc::truncated, "string not closed");
      if (out.size() > string_limit_)
        return fail(Errc::limit_exceeded, string_limit_ == kMaxControlStringBytes
                                              ? "string longer than 256 bytes"
                                              : "sdp longer than 1536 bytes");
      char c = text_[pos_++];
      if (c == '"') return {};
      if (static_cast<unsigned char>(c) < 0x20)
        return error_at(Errc::malformed, "control character in a string", pos_ - 1);
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at_end()) return fail(Errc::truncated, "string not closed");
      char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto cp = read_hex4();
          if (!cp) return cp.error();
          uint32_t code = *cp;
          if (code >= 0xDC00 && code <= 0xDFFF)
            return fail(Errc::malformed, "lone low surrogate in \\u escape");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (!literal("\\u")) return fail(Errc::malformed, "high surrogate without its pair");
            auto low = read_hex4();
            if (!low) return low.error();
            if (*low < 0xDC00 || *low > 0xDFFF)
              return fail(Errc::malformed, "high surrogate without its pair");
            code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default:
          return error_at(Errc::malformed, "unknown escape in a string", pos_ - 1);
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t string_limit_ = kMaxControlStringBytes;
};

ControlError field_error(const char* reason) {
  return ControlError{Errc::malformed, reason, 0};
}

// A direct-mode viewer id: 1..64 of [0-9A-Za-z_-] (the server's resource ids).
Result<void, ControlError> read_direct_id(const ControlObject& o, std::string& out) {
  const ControlValue* v = o.find("id");
  if (!v || !v->is_string() || v->text.empty() || v->text.size() > kMaxDirectIdBytes)
    return field_error("direct: id must be a string of 1 to 64 characters");
  for (char c : v->text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return field_error("direct: id must be of A-Z a-z 0-9 _ -");
  out = v->text;
  return {};
}

// A whole number in [min, max] or absent; anything else is an error with `reason`.
template <class T>
Result<void, ControlError> read_whole(const ControlObject& o, std::string_view key, double max,
                                      T& out, const char* reason) {
  const ControlValue* v = o.find(key);
  if (!v || v->kind == ControlValue::Kind::null) return {};
  if (!v->is_number() || v->number < 0 || v->number > max || v->number != std::floor(v->number))
    return field_error(reason);
  out = static_cast<T>(v->number);
  return {};
}

Result<void, ControlError> read_fraction(const ControlObject& o, std::string_view key, double max,
                                         double& out, const char* reason) {
  const ControlValue* v = o.find(key);
  if (!v || v->kind == ControlValue::Kind::null) return {};
  if (!v->is_number() || v->number < 0 || v->number > max) return field_error(reason);
  out = v->number;
  return {};
}

// --- writing

class Writer {
 public:
  Writer() {
    out_.reserve(128);
    out_.push_back('{');
  }
  Writer& string(std::string_view key, std::string_view value,
                 size_t limit = kMaxControlStringBytes) {
    this->key(key);
    quoted(value, limit);
    return *this;
  }
  Writer& number(std::string_view key, double value) {
    this->key(key);
    out_ += format_control_number(value);
    return *this;
  }
  Writer& raw(std::string_view key, std::string_view json) {
    this->key(key);
    out_ += json;
    return *this;
  }
  std::string finish() && {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void key(std::string_view k) {
    if (out_.size() > 1) out_.push_back(',');
    quoted(k);
    out_.push_back(':');
  }
  void quoted(std::string_view s, size_t limit = kMaxControlStringBytes) {
    json::append_string(out_, s.substr(0, limit));
  }
  std::string out_;
};

void append_unsigned(std::string& out, uint64_t v) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0)
    out.push_back(digits[--n]);
}

}  // namespace

const ControlValue* ControlObject::find(std::string_view key) const {
  for (const auto& f : fields)
    if (f.key == key) return &f.value;
  return nullptr;
}

ControlResult<ControlObject> parse_control_object(std::string_view text) {
  if (text.size() > kMaxControlMessageBytes)
    return error_at(Errc::limit_exceeded, "control message longer than 4096 bytes",
                    kMaxControlMessageBytes);
  return Reader(text).read_document();
}

ControlResult<DeviceMessage> decode_device_message(std::string_view text) {
  auto object = parse_control_object(text);
  if (!object) return object.error();
  return decode_device_message(*object);
}

ControlResult<DeviceMessage> decode_device_message(const ControlObject& o) {
  const ControlValue* type = o.find("type");
  if (!type) return field_error("message without a \"type\"");
  if (!type->is_string()) return field_error("\"type\" must be a string");
  const std::string& t = type->text;
  if (t == "ping") {
    const ControlValue* v = o.find("t");
    PingMessage ping;
    if (v) {
      if (v->kind == ControlValue::Kind::object) return field_error("ping.t must not be an object");
      ping.t = *v;
    }
    return DeviceMessage{std::move(ping)};
  }
  if (t == "set") {
    SetMessage set;
    if (auto s = read_fraction(o, "fps", 1000, set.fps, "set.fps must be a number from 0 to 1000");
        !s)
      return s.error();
    if (auto s =
            read_whole(o, "quality", 100, set.quality, "set.quality must be a whole number 0..100");
        !s)
      return s.error();
    if (auto s =
            read_whole(o, "width", 65535, set.width, "set.width must be a whole number 0..65535");
        !s)
      return s.error();
    if (auto s = read_whole(o, "height", 65535, set.height,
                            "set.height must be a whole number 0..65535");
        !s)
      return s.error();
    return DeviceMessage{set};
  }
  if (t == "snapshot") return DeviceMessage{SnapshotMessage{}};
  if (t == "report") {
    ReportMessage r;
    constexpr double k32 = 4294967295.0;
    if (auto s = read_whole(o, "seq", k32, r.seq, "report.seq must be a whole number"); !s)
      return s.error();
    if (auto s = read_whole(o, "frames", k32, r.frames, "report.frames must be a whole number"); !s)
      return s.error();
    if (auto s = read_whole(o, "bytes", 9007199254740992.0, r.bytes,
                            "report.bytes must be a whole number");
        !s)
      return s.error();
    if (auto s = read_whole(o, "interval_ms", k32, r.interval_ms,
                            "report.interval_ms must be a whole number");
        !s)
      return s.error();
    if (auto s = read_whole(o, "lost", k32, r.lost, "report.lost must be a whole number"); !s)
      return s.error();
    if (const ControlValue* v = o.find("latency_ms"); v && v->kind != ControlValue::Kind::null) {
      // Latency comes from two clocks and an offset: a slightly negative value is rounding.
      if (!v->is_number() || v->number > k32 || v->number < -k32)
        return field_error("report.latency_ms must be a number");
      r.latency_ms = v->number < 0 ? 0u : static_cast<uint32_t>(v->number);
    }
    return DeviceMessage{r};
  }
  if (t == "direct-offer") {
    DirectOfferPart p;
    if (auto s = read_direct_id(o, p.id); !s) return s.error();
    const ControlValue* part = o.find("part");
    const ControlValue* parts = o.find("parts");
    const ControlValue* sdp = o.find("sdp");
    if (!parts || !parts->is_number() || parts->number < 1 || parts->number > kMaxDirectSdpParts ||
        parts->number != std::floor(parts->number))
      return field_error("direct-offer.parts must be a whole number 1..8");
    if (!part || !part->is_number() || part->number < 0 || part->number >= parts->number ||
        part->number != std::floor(part->number))
      return field_error("direct-offer.part must be a whole number below parts");
    if (!sdp || !sdp->is_string()) return field_error("direct-offer.sdp must be a string");
    const ControlValue* user = o.find("turn_username");
    const ControlValue* credential = o.find("turn_credential");
    if ((user && !user->is_string()) || (credential && !credential->is_string()) ||
        (user == nullptr) != (credential == nullptr))
      return field_error("direct-offer.turn_username and turn_credential must be strings, both");
    if (user) {
      p.turn_username = user->text;
      p.turn_credential = credential->text;
    }
    p.part = static_cast<uint8_t>(part->number);
    p.parts = static_cast<uint8_t>(parts->number);
    p.sdp = sdp->text;
    return DeviceMessage{std::move(p)};
  }
  if (t == "direct-candidate") {
    DirectCandidateMessage c;
    if (auto s = read_direct_id(o, c.id); !s) return s.error();
    const ControlValue* end = o.find("end");
    const ControlValue* candidate = o.find("candidate");
    if (end && end->kind == ControlValue::Kind::boolean && end->boolean) {
      c.end_of_candidates = true;
    } else if (candidate && candidate->is_string() && !candidate->text.empty()) {
      c.candidate = candidate->text;
    } else {
      return field_error("direct-candidate needs a candidate string or \"end\":true");
    }
    return DeviceMessage{std::move(c)};
  }
  if (t == "direct-close") {
    DirectCloseMessage c;
    if (auto s = read_direct_id(o, c.id); !s) return s.error();
    return DeviceMessage{std::move(c)};
  }
  if (t == "turn-credentials") {
    TurnCredentialsMessage c;
    const ControlValue* username = o.find("username");
    const ControlValue* credential = o.find("credential");
    const ControlValue* expires = o.find("expires");
    if (!username || !username->is_string() || username->text.empty())
      return field_error("turn-credentials.username must be a non-empty string");
    if (!credential || !credential->is_string() || credential->text.empty())
      return field_error("turn-credentials.credential must be a non-empty string");
    if (!expires || expires->kind != ControlValue::Kind::number || expires->number < 0 ||
        expires->number > 1e12 ||
        expires->number != static_cast<double>(static_cast<int64_t>(expires->number)))
      return field_error("turn-credentials.expires must be a whole number of unix seconds");
    c.username = username->text;
    c.credential = credential->text;
    c.expires = static_cast<int64_t>(expires->number);
    return DeviceMessage{std::move(c)};
  }
  if (t == "demand") {
    // Absent or null is an error, not 0: a device must not go idle on a message it misread.
    DemandMessage d;
    const ControlValue* viewers = o.find("viewers");
    if (!viewers || !viewers->is_number())
      return field_error("demand.viewers must be a whole number");
    if (auto s = read_whole(o, "viewers", 4294967295.0, d.viewers,
                            "demand.viewers must be a whole number");
        !s)
      return s.error();
    return DeviceMessage{d};
  }
  return DeviceMessage{UnknownMessage{t}};
}

std::vector<std::string> encode_direct_answer(std::string_view id, std::string_view sdp) {
  if (id.empty() || id.size() > kMaxDirectIdBytes || sdp.empty() || sdp.size() > kMaxDirectSdpBytes)
    return {};
  // Escaped as Writer escapes (json_text.h): quote and backslash 2 bytes, control characters 6.
  const std::vector<std::string_view> pieces = split_direct_sdp(sdp, [](char c) -> size_t {
    if (c == '"' || c == '\\') return 2;
    return static_cast<unsigned char>(c) < 0x20 ? 6 : 1;
  });
  if (pieces.empty()) return {};
  std::vector<std::string> out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    Writer w;
    w.string("type", "direct-answer")
        .string("id", id)
        .number("part", static_cast<double>(i))
        .number("parts", static_cast<double>(pieces.size()))
        .string("sdp", pieces[i], kMaxDirectSdpPartBytes);
    out.push_back(std::move(w).finish());
  }
  return out;
}

std::vector<std::string_view> split_direct_sdp(std::string_view sdp, size_t (*escaped_size)(char)) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (start < sdp.size()) {
    size_t end = start;
    size_t size = 0;
    while (end < sdp.size() && size + escaped_size(sdp[end]) <= kMaxDirectSdpPartBytes) {
      size += escaped_size(sdp[end]);
      ++end;
    }
    // Not inside a UTF-8 character: back off its continuation bytes.
    while (end < sdp.size() && end > start + 1 &&
           (static_cast<unsigned char>(sdp[end]) & 0xC0) == 0x80)
      --end;
    pieces.push_back(sdp.substr(start, end - start));
    if (pieces.size() > kMaxDirectSdpParts) return {};
    start = end;
  }
  return pieces;
}

std::string encode_direct_state(std::string_view id, std::string_view state) {
  Writer w;
  w.string("type", "direct-state").string("id", id).string("state", state);
  return std::move(w).finish();
}

std::string encode_direct_error(std::string_view id, std::string_view reason) {
  Writer w;
  w.string("type", "direct-error").string("id", id).string("reason", reason);
  return std::move(w).finish();
}

Result<std::optional<std::string>, ControlError> DirectSdpJoiner::add(const DirectOfferPart& part) {
  if (part.part == 0) *this = DirectSdpJoiner{};  // a new offer; an unfinished one is dropped
  bool continues = next_ == 0 || (part.parts == parts_ && part.id == id_);
  if (part.part != next_ || !continues || sdp_.size() + part.sdp.size() > kMaxDirectSdpBytes) {
    *this = DirectSdpJoiner{};
    return field_error("direct-offer part out of order or too large");
  }
  id_ = part.id;
  parts_ = part.parts;
  sdp_ += part.sdp;
  ++next_;
  if (next_ < parts_) return std::optional<std::string>{};
  std::string whole = std::move(sdp_);
  *this = DirectSdpJoiner{};
  return std::optional<std::string>{std::move(whole)};
}

ControlResult<TelemetryMessage> decode_telemetry(const ControlObject& o) {
  const ControlValue* type = o.find("type");
  if (!type || !type->is_string() || type->text != "telemetry")
    return field_error("not a telemetry message");
  TelemetryMessage m;
  if (auto s = read_fraction(o, "fps", 1000, m.fps, "telemetry.fps must be a number"); !s)
    return s.error();
  if (auto s = read_fraction(o, "kbps", 1e7, m.kbps, "telemetry.kbps must be a number"); !s)
    return s.error();
  uint32_t rtt = 0;
  if (o.find("rtt_ms")) {
    if (auto s = read_whole(o, "rtt_ms", 4294967295.0, rtt, "telemetry.rtt_ms must be whole"); !s)
      return s.error();
    m.rtt_ms = rtt;
  }
  if (auto s = read_whole(o, "quality", 100, m.quality, "telemetry.quality must be 0..100"); !s)
    return s.error();
  if (auto s = read_whole(o, "width", 65535, m.width, "telemetry.width must be whole"); !s)
    return s.error();
  if (auto s = read_whole(o, "height", 65535, m.height, "telemetry.height must be whole"); !s)
    return s.error();
  if (auto s = read_whole(o, "sent", 9007199254740992.0, m.sent, "telemetry.sent must be whole");
      !s)
    return s.error();
  if (auto s = read_whole(o, "dropped", 9007199254740992.0, m.dropped,
                          "telemetry.dropped must be whole");
      !s)
    return s.error();
  if (const ControlValue* modem = o.find("modem")) {
    if (modem->kind != ControlValue::Kind::object)
      return field_error("telemetry.modem must be an object");
    ControlObject inner{modem->fields};
    ModemTelemetry mt;
    for (const char* key : {"rssi_dbm", "bars"}) {
      const ControlValue* v = inner.find(key);
      if (!v) continue;
      if (!v->is_number() || v->number < -1000 || v->number > 1000)
        return field_error("telemetry.modem numbers must be -1000..1000");
      (key[0] == 'r' ? mt.rssi_dbm : mt.bars) = static_cast<int>(v->number);
    }
    if (const ControlValue* v = inner.find("operator"); v && v->is_string())
      mt.operator_name = v->text;
    if (const ControlValue* v = inner.find("tech"); v && v->is_string()) mt.tech = v->text;
    m.modem = std::move(mt);
  }
  if (const ControlValue* device = o.find("device")) {
    if (device->kind != ControlValue::Kind::object)
      return field_error("telemetry.device must be an object");
    ControlObject inner{device->fields};
    DeviceHealth h;
    constexpr double kMax = 4294967295.0;
    const char* reason = "telemetry.device numbers must be whole, 0..2^32-1";
    if (auto s = read_whole(inner, "heap_free", kMax, h.heap_free, reason); !s) return s.error();
    if (auto s = read_whole(inner, "heap_min_free", kMax, h.heap_min_free, reason); !s)
      return s.error();
    if (inner.find("psram_free")) {
      uint32_t psram = 0;
      if (auto s = read_whole(inner, "psram_free", kMax, psram, reason); !s) return s.error();
      h.psram_free = psram;
    }
    m.device = h;
  }
  return m;
}

std::string format_control_number(double value) {
  std::string out;
  if (!std::isfinite(value)) return "0";
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  if (value >= 9e15) value = 9e15;
  // From 2^43 on, value * 1000 no longer holds every thousandth exactly: such values are written
  // whole, so a whole number (a byte count) comes back as the same whole number.
  if (value >= 8796093022208.0) {
    append_unsigned(out, static_cast<uint64_t>(std::llround(value)));
    return out;
  }
  // Three decimals, rounded, trailing zeros dropped.
  auto scaled = static_cast<uint64_t>(std::llround(value * 1000));
  append_unsigned(out, scaled / 1000);
  uint64_t fraction = scaled % 1000;
  if (fraction != 0) {
    out.push_back('.');
    char d[3] = {static_cast<char>('0' + fraction / 100),
                 static_cast<char>('0' + fraction / 10 % 10),
                 static_cast<char>('0' + fraction % 10)};
    size_t n = 3;
    while (n > 0 && d[n - 1] == '0')
      --n;
    out.append(d, n);
  }
  if (out == "-0") return "0";
  return out;
}

std::string encode_pong(const ControlValue& t, Instant now) {
  Writer w;
  w.string("type", "pong");
  switch (t.kind) {
    case ControlValue::Kind::number:
      w.raw("t", t.text);  // as it came
      break;
    case ControlValue::Kind::string:
      w.string("t", t.text);
      break;
    case ControlValue::Kind::boolean:
      w.raw("t", t.boolean ? "true" : "false");
      break;
    default:
      w.raw("t", "null");
      break;
  }
  std::string now_us;
  if (now.us() < 0) {
    now_us.push_back('-');
    append_unsigned(now_us, static_cast<uint64_t>(-now.us()));
  } else {
    append_unsigned(now_us, static_cast<uint64_t>(now.us()));
  }
  w.raw("now_us", now_us);
  return std::move(w).finish();
}

std::string encode_telemetry(const TelemetryMessage& m) {
  Writer w;
  w.string("type", "telemetry")
      .number("fps", std::round(m.fps * 10) / 10)
      .number("kbps", std::round(m.kbps));
  if (m.rtt_ms) w.number("rtt_ms", *m.rtt_ms);
  w.number("quality", m.quality)
      .number("width", m.width)
      .number("height", m.height)
      .number("sent", static_cast<double>(m.sent))
      .number("dropped", static_cast<double>(m.dropped));
  if (m.modem) {
    Writer inner;
    if (m.modem->rssi_dbm) inner.number("rssi_dbm", *m.modem->rssi_dbm);
    if (m.modem->bars) inner.number("bars", *m.modem->bars);
    if (!m.modem->operator_name.empty()) inner.string("operator", m.modem->operator_name);
    if (!m.modem->tech.empty()) inner.string("tech", m.modem->tech);
    w.raw("modem", std::move(inner).finish());
  }
  if (m.device) {
    Writer inner;
    inner.number("heap_free", m.device->heap_free).number("heap_min_free", m.device->heap_min_free);
    if (m.device->psram_free) inner.number("psram_free", *m.device->psram_free);
    w.raw("device", std::move(inner).finish());
  }
  return std::move(w).finish();
}

std::string encode_ping(uint64_t t) {
  return std::move(Writer().string("type", "ping").number("t", static_cast<double>(t))).finish();
}

std::string encode_set(const SetMessage& set) {
  Writer w;
  w.string("type", "set");
  if (set.fps > 0) w.number("fps", set.fps);
  if (set.quality > 0) w.number("quality", set.quality);
  if (set.width > 0) w.number("width", set.width);
  if (set.height > 0) w.number("height", set.height);
  return std::move(w).finish();
}

std::string encode_turn_credentials(const TurnCredentialsMessage& c) {
  Writer w;
  w.string("type", "turn-credentials")
      .string("username", c.username)
      .string("credential", c.credential)
      .number("expires", static_cast<double>(c.expires));
  return std::move(w).finish();
}

std::string encode_demand(const DemandMessage& d) {
  return std::move(Writer().string("type", "demand").number("viewers", d.viewers)).finish();
}

std::string encode_snapshot() {
  return std::move(Writer().string("type", "snapshot")).finish();
}

std::string encode_report(const ReportMessage& r) {
  Writer w;
  w.string("type", "report")
      .number("seq", r.seq)
      .number("frames", r.frames)
      .number("bytes", static_cast<double>(r.bytes))
      .number("interval_ms", r.interval_ms);
  if (r.latency_ms) w.number("latency_ms", *r.latency_ms);
  w.number("lost", r.lost);
  return std::move(w).finish();
}

}  // namespace cellrtc::media
