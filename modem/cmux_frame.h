// 3GPP TS 27.010 basic option framing (the mode AT+CMUX=0 selects), its own unit: encoder,
// streaming decoder and the multiplexer control messages carried on DLCI 0.
//
// Frame (TS 27.010 section 5.2.1):  F9 | address | control | length (1 or 2 octets) | info |
// FCS | F9.  Address: EA (bit 1), C/R (bit 2), DLCI (bits 3-8). Length: EA in bit 1; with EA = 0
// a second octet carries bits 8-15 of the length (A76xx modems default to N1 = 1500, A76XX
// Series AT Command Manual V1.09 section 10.2.8, so they send it for frames over 127 octets). FCS
// (section 5.2.1.6, annex B): CRC-8 with generator x^8 + x^2 + x + 1, reflected, initial value
// 0xFF, sent as its ones' complement, over address, control and length only for UIH frames and over
// the information field too for the other types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::modem::cmux {

constexpr uint8_t kFlag = 0xF9;
constexpr uint8_t kPollFinal = 0x10;  // P/F bit of the control field

// Control field values with P/F cleared (TS 27.010 section 5.2.1.3, table 2).
enum class FrameType : uint8_t {
  sabm = 0x2F,
  ua = 0x63,
  dm = 0x0F,
  disc = 0x43,
  uih = 0xEF,
  ui = 0x03,
};
const char* to_string(FrameType t);

struct Frame {
  uint8_t dlci = 0;  // 0..63
  bool cr = true;    // C/R bit of the address field
  FrameType type = FrameType::uih;
  bool pf = false;  // poll/final
  Bytes info;
};

// CRC-8 of TS 27.010 annex B over `data` (init 0xFF, not complemented).
uint8_t crc8(ByteView data, uint8_t crc = 0xFF);
// The FCS octet for a header (and the info field when `type` covers it).
uint8_t fcs(ByteView covered);

// Encodes one frame. Information fields above 32767 octets cannot be expressed.
Result<Bytes> encode(const Frame& frame);
void encode_into(const Frame& frame, Bytes& out);

struct DecoderStats {
  uint64_t frames = 0;
  uint64_t bad_fcs = 0;
  uint64_t oversize = 0;       // length above max_info
  uint64_t missing_flag = 0;   // no closing flag where the length said it would be
  uint64_t skipped_bytes = 0;  // bytes outside frames while hunting for a flag
};

// Streaming decoder: bytes in any chunking; frames out. Frames with a bad FCS, a length over
// `max_info` or no closing flag are dropped and the decoder hunts for the next flag. A closing
// flag may also open the next frame (TS 27.010 section 5.2.6 allows a single flag between
// frames).
class Decoder {
 public:
  explicit Decoder(size_t max_info = 1540) : max_info_(max_info) {}
  void push(ByteView bytes);
  std::optional<Frame> poll();
  const DecoderStats& stats() const { return stats_; }
  void reset();

 private:
  enum class State : uint8_t { hunt, address, control, length1, length2, info, fcs, close };
  void drop(uint64_t DecoderStats::*counter);
  void byte(uint8_t b);

  size_t max_info_;
  State state_ = State::hunt;
  Bytes header_;  // address, control, length octets
  Frame frame_;
  size_t length_ = 0;
  uint8_t fcs_ = 0;
  std::vector<Frame> ready_;
  size_t ready_pos_ = 0;
  DecoderStats stats_;
};

// Multiplexer control messages (TS 27.010 section 5.4.6), carried in UIH frames on DLCI 0.
// The type octet holds EA (bit 1), C/R (bit 2: 1 command, 0 response) and the type.
namespace msg {
constexpr uint8_t kPn = 0x80;   // parameter negotiation
constexpr uint8_t kPsc = 0x40;  // power saving control
constexpr uint8_t kCld = 0xC0;  // multiplexer close down
constexpr uint8_t kTest = 0x20;
constexpr uint8_t kFcon = 0xA0;
constexpr uint8_t kFcoff = 0x60;
constexpr uint8_t kMsc = 0xE0;  // modem status command
constexpr uint8_t kNsc = 0x10;  // non supported command response
constexpr uint8_t kRpn = 0x90;
constexpr uint8_t kRls = 0x50;
constexpr uint8_t kSnc = 0xD0;
}  // namespace msg

struct ControlMessage {
  uint8_t type = 0;     // one of msg::k*, EA and C/R bits cleared
  bool command = true;  // C/R bit
  Bytes value;
};

Bytes encode_control(const ControlMessage& m);
// Decodes the messages in one DLCI 0 information field (several may be concatenated).
Result<std::vector<ControlMessage>> decode_control(ByteView info);

// V.24 signal octet of MSC (TS 27.010 section 5.4.6.3.7): EA, FC, RTC, RTR, IC, DV.
constexpr uint8_t kV24Ea = 0x01;
constexpr uint8_t kV24Fc = 0x02;
constexpr uint8_t kV24Rtc = 0x04;
constexpr uint8_t kV24Rtr = 0x08;
constexpr uint8_t kV24Ic = 0x40;
constexpr uint8_t kV24Dv = 0x80;

}  // namespace cellrtc::modem::cmux
