// Just enough JSON for the line protocols of interop helper scripts (one object per line):
// a parser into a small tree and a string quoter for writing. Not a general-purpose library:
// numbers are kept as their text, nesting is limited to 32 levels.
//
//   auto message = parse_json(R"({"type":"local","candidates":["candidate:1 ..."]})");
//   if (message && message->string_at("type") == "local") {
//     for (const auto& c : message->get("candidates")->items) use(c.text);
//   }
//   std::string line = "{\"type\":" + json_quote("send") + "}";
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellrtc::interop {

struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;              // a string's decoded value, or a number's text
  std::vector<JsonValue> items;  // array
  std::vector<std::pair<std::string, JsonValue>> members;  // object, in order

  // The member named `key` of an object; nullptr if absent or not an object.
  const JsonValue* get(std::string_view key) const;
  // The member `key` if it is a string.
  std::optional<std::string> string_at(std::string_view key) const;
  // The member `key` if it is an array of strings.
  std::optional<std::vector<std::string>> strings_at(std::string_view key) const;
};

// nullopt for anything that is not exactly one JSON value (surrounding whitespace allowed).
std::optional<JsonValue> parse_json(std::string_view text);

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

}  // namespace cellrtc::interop
