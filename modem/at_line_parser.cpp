#include "modem/at_line_parser.h"

namespace cellrtc::modem {

std::optional<std::string_view> AtLineParser::push(uint8_t byte) {
  ended_with_cr_ = false;
  if (byte == '\r' || byte == '\n') {
    const bool had_overflow = overflow_;
    overflow_ = false;
    if (had_overflow) {
      ++stats_.overlong_lines;
      line_.clear();
      return std::nullopt;
    }
    if (line_.empty()) return std::nullopt;
    done_.swap(line_);
    line_.clear();
    ended_with_cr_ = byte == '\r';
    ++stats_.lines;
    return std::string_view(done_);
  }
  const bool printable = (byte >= 0x20 && byte <= 0x7E) || byte == '\t';
  if (!printable) {
    ++stats_.dropped_bytes;
    return std::nullopt;
  }
  if (overflow_) return std::nullopt;
  if (line_.size() >= max_line_) {
    overflow_ = true;
    line_.clear();
    return std::nullopt;
  }
  line_.push_back(static_cast<char>(byte));
  // The SMS text prompt is "<CR><LF>> " with no line end after it (3GPP TS 27.005 3.5.1).
  if (line_ == "> ") {
    done_.swap(line_);
    line_.clear();
    ++stats_.lines;
    return std::string_view(done_);
  }
  return std::nullopt;
}

void AtLineParser::reset() {
  line_.clear();
  overflow_ = false;
  ended_with_cr_ = false;
}

}  // namespace cellrtc::modem
