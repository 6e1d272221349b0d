#include "modem/cmux_frame.h"

namespace cellrtc::modem::cmux {

const char* to_string(FrameType t) {
  switch (t) {
    case FrameType::sabm:
      return "SABM";
    case FrameType::ua:
      return "UA";
    case FrameType::dm:
      return "DM";
    case FrameType::disc:
      return "DISC";
    case FrameType::uih:
      return "UIH";
    case FrameType::ui:
      return "UI";
  }
  return "?";
}

uint8_t crc8(ByteView data, uint8_t crc) {
  // Annex B: the reflected form of x^8 + x^2 + x + 1 is 0xE0, bits taken LSB first.
  for (uint8_t b : data) {
    crc ^= b;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 1) ? static_cast<uint8_t>((crc >> 1) ^ 0xE0) : crc >> 1;
  }
  return crc;
}

uint8_t fcs(ByteView covered) {
  return static_cast<uint8_t>(0xFF - crc8(covered));
}

namespace {

bool fcs_covers_info(uint8_t control) {
  const auto type = static_cast<FrameType>(control & ~kPollFinal);
  return type != FrameType::uih;
}

bool known_type(uint8_t control) {
  switch (static_cast<FrameType>(control & ~kPollFinal)) {
    case FrameType::sabm:
    case FrameType::ua:
    case FrameType::dm:
    case FrameType::disc:
    case FrameType::uih:
    case FrameType::ui:
      return true;
  }
  return false;
}

}  // namespace

void encode_into(const Frame& frame, Bytes& out) {
  const size_t start = out.size();
  out.push_back(kFlag);
  out.push_back(static_cast<uint8_t>(((frame.dlci & 0x3F) << 2) | (frame.cr ? 0x02 : 0) | 0x01));
  out.push_back(
      static_cast<uint8_t>(static_cast<uint8_t>(frame.type) | (frame.pf ? kPollFinal : 0)));
  const size_t len = frame.info.size();
  if (len <= 127) {
    out.push_back(static_cast<uint8_t>((len << 1) | 1));
  } else {
    out.push_back(static_cast<uint8_t>((len & 0x7F) << 1));
    out.push_back(static_cast<uint8_t>(len >> 7));
  }
  const size_t header_end = out.size();
  out.insert(out.end(), frame.info.begin(), frame.info.end());
  const size_t covered_end = frame.type == FrameType::uih ? header_end : out.size();
  out.push_back(fcs(ByteView(out).subspan(start + 1, covered_end - start - 1)));
  out.push_back(kFlag);
}

Result<Bytes> encode(const Frame& frame) {
  if (frame.info.size() > 0x7FFF) return Error{Errc::limit_exceeded, "CMUX info over 32767"};
  if (frame.dlci > 63) return Error{Errc::invalid_argument, "CMUX DLCI over 63"};
  Bytes out;
  out.reserve(frame.info.size() + 7);
  encode_into(frame, out);
  return out;
}

void Decoder::reset() {
  state_ = State::hunt;
  header_.clear();
  frame_ = Frame{};
}

void Decoder::drop(uint64_t DecoderStats::*counter) {
  ++(stats_.*counter);
  header_.clear();
  state_ = State::hunt;
}

void Decoder::byte(uint8_t b) {
  switch (state_) {
    case State::hunt:
      if (b == kFlag) {
        state_ = State::address;
      } else {
        ++stats_.skipped_bytes;
      }
      return;
    case State::address:
      if (b == kFlag) return;  // repeated flags between frames
      if (!(b & 0x01)) {       // a basic-mode address is one octet with EA set
        ++stats_.skipped_bytes;
        state_ = State::hunt;
        return;
      }
      header_.assign(1, b);
      frame_ = Frame{};
      frame_.dlci = static_cast<uint8_t>(b >> 2);
      frame_.cr = (b & 0x02) != 0;
      state_ = State::control;
      return;
    case State::control:
      if (!known_type(b)) {
        drop(&DecoderStats::skipped_bytes);
        if (b == kFlag) state_ = State::address;
        return;
      }
      header_.push_back(b);
      frame_.type = static_cast<FrameType>(b & ~kPollFinal);
      frame_.pf = (b & kPollFinal) != 0;
      state_ = State::length1;
      return;
    case State::length1:
      header_.push_back(b);
      length_ = b >> 1;
      if (b & 0x01) {
        state_ = length_ ? State::info : State::fcs;
      } else {
        state_ = State::length2;
      }
      break;
    case State::length2:
      header_.push_back(b);
      length_ |= static_cast<size_t>(b) << 7;
      state_ = length_ ? State::info : State::fcs;
      break;
    case State::info:
      frame_.info.push_back(b);
      if (frame_.info.size() == length_) state_ = State::fcs;
      return;
    case State::fcs:
      fcs_ = b;
      state_ = State::close;
      return;
    case State::close: {
      if (b != kFlag) {
        drop(&DecoderStats::missing_flag);
        return;
      }
      uint8_t crc = crc8(header_);
      if (fcs_covers_info(header_[1])) crc = crc8(frame_.info, crc);
      crc = crc8(ByteView(&fcs_, 1), crc);
      // Annex B: over the covered octets and the FCS the receiver gets 0xCF.
      if (crc != 0xCF) {
        drop(&DecoderStats::bad_fcs);
        state_ = State::address;  // this flag may open the next frame
        return;
      }
      ++stats_.frames;
      ready_.push_back(std::move(frame_));
      frame_ = Frame{};
      header_.clear();
      state_ = State::address;
      return;
    }
  }
  // After a length octet: check the bound before collecting the information field.
  if ((state_ == State::info || state_ == State::fcs) && length_ > max_info_) {
    drop(&DecoderStats::oversize);
  }
}

void Decoder::push(ByteView bytes) {
  for (uint8_t b : bytes)
    byte(b);
}

std::optional<Frame> Decoder::poll() {
  if (ready_pos_ >= ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_pos_++]);
}

Bytes encode_control(const ControlMessage& m) {
  Bytes out;
  out.push_back(static_cast<uint8_t>(m.type | (m.command ? 0x02 : 0) | 0x01));
  const size_t len = m.value.size();
  if (len <= 127) {
    out.push_back(static_cast<uint8_t>((len << 1) | 1));
  } else {
    out.push_back(static_cast<uint8_t>((len & 0x7F) << 1));
    out.push_back(static_cast<uint8_t>(((len >> 7) << 1) | 1));
  }
  out.insert(out.end(), m.value.begin(), m.value.end());
  return out;
}

Result<std::vector<ControlMessage>> decode_control(ByteView info) {
  std::vector<ControlMessage> out;
  ByteReader r(info);
  while (!r.empty()) {
    if (out.size() >= 16) return Error{Errc::limit_exceeded, "too many CMUX control messages"};
    const uint8_t type = r.u8();
    if (!(type & 0x01)) return Error{Errc::unsupported, "multi-octet CMUX control type"};
    // Length octets: EA-terminated, 7 bits each (TS 27.010 section 5.4.6.1).
    size_t len = 0;
    int shift = 0;
    for (;;) {
      const uint8_t l = r.u8();
      if (!r.ok()) return Error{Errc::truncated, "CMUX control length runs past the end"};
      len |= static_cast<size_t>(l >> 1) << shift;
      if (l & 0x01) break;
      shift += 7;
      if (shift > 14) return Error{Errc::malformed, "CMUX control length too long"};
    }
    ByteView value = r.take(len);
    if (!r.ok()) return Error{Errc::truncated, "CMUX control value runs past the end"};
    out.push_back(ControlMessage{static_cast<uint8_t>(type & 0xFC), (type & 0x02) != 0,
                                 Bytes(value.begin(), value.end())});
  }
  return out;
}

}  // namespace cellrtc::modem::cmux
