#include "device/source_spec.h"

#include <unistd.h>

#include <charconv>

#include "device/directory_source.h"
#include "device/stream_source.h"
#include "device/test_pattern.h"
#include "device/v4l2_source.h"

namespace cellrtc::device {
namespace {

constexpr const char* kExpected =
    "expected testpattern[:WxH], v4l2:/dev/videoN[@WxH], dir:PATH or stdin";

bool parse_dimension(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool parse_size(std::string_view s, SourceSpec& spec) {
  auto x = s.find('x');
  if (x == std::string_view::npos) return false;
  return parse_dimension(s.substr(0, x), spec.width) &&
         parse_dimension(s.substr(x + 1), spec.height);
}

SourceError bad(std::string_view spec, const std::string& why) {
  return SourceError{Errc::invalid_argument, "source \"" + std::string(spec) + "\": " + why};
}

}  // namespace

SourceResult<SourceSpec> parse_source_spec(std::string_view text) {
  SourceSpec spec;
  auto colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  std::string_view arg =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  bool has_arg = colon != std::string_view::npos;
  if (kind == "testpattern") {
    spec.kind = SourceSpec::Kind::test_pattern;
    if (has_arg && !parse_size(arg, spec))
      return bad(text, "the size must be WxH, e.g. testpattern:640x480");
    return spec;
  }
  if (kind == "v4l2") {
    spec.kind = SourceSpec::Kind::v4l2;
    auto at = arg.rfind('@');
    spec.path = std::string(arg.substr(0, at));
    if (at != std::string_view::npos && !parse_size(arg.substr(at + 1), spec))
      return bad(text, "the size must be WxH, e.g. v4l2:/dev/video0@640x480");
    if (spec.path.empty()) return bad(text, "name the device, e.g. v4l2:/dev/video0");
    return spec;
  }
  if (kind == "dir") {
    spec.kind = SourceSpec::Kind::directory;
    spec.path = std::string(arg);
    if (spec.path.empty()) return bad(text, "name the directory, e.g. dir:/srv/frames");
    return spec;
  }
  if (kind == "stdin" && !has_arg) {
    spec.kind = SourceSpec::Kind::stdin_stream;
    return spec;
  }
  if (text.empty())
    return SourceError{Errc::invalid_argument, std::string("no source given; ") + kExpected};
  return bad(text, std::string("unknown; ") + kExpected);
}

SourceResult<std::unique_ptr<FrameSource>> open_source(const SourceSpec& spec) {
  auto up = [](auto result) -> SourceResult<std::unique_ptr<FrameSource>> {
    if (!result) return result.error();
    return std::unique_ptr<FrameSource>(std::move(result).value());
  };
  switch (spec.kind) {
    case SourceSpec::Kind::test_pattern:
      return up(TestPattern::create({.width = spec.width, .height = spec.height}));
    case SourceSpec::Kind::v4l2:
      return up(
          V4l2Source::open({.device = spec.path, .width = spec.width, .height = spec.height}));
    case SourceSpec::Kind::directory:
      return up(DirectorySource::open(spec.path));
    case SourceSpec::Kind::stdin_stream:
      return up(StreamSource::open(STDIN_FILENO, "stdin", false));
  }
  return SourceError{Errc::invalid_argument, "unknown source kind"};
}

SourceResult<std::unique_ptr<FrameSource>> open_source(std::string_view text) {
  auto spec = parse_source_spec(text);
  if (!spec) return spec.error();
  return open_source(*spec);
}

}  // namespace cellrtc::device
