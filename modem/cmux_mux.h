// TS 27.010 multiplexer, host side (the initiator), sans-IO: bytes and time in; bytes for the
// modem, per-channel data, events and the next deadline out.
//
//   cmux::Mux mux({.channels = {1, 2}});     // e.g. DLCI 1 carries PPP, DLCI 2 AT commands
//   mux.open(now);                           // after AT+CMUX=0 answered OK
//   mux.handle_bytes(now, from_modem);
//   mux.send(now, 2, as_bytes("AT+CSQ\r"));
//   while (auto out = mux.poll_transmit()) port.write(*out);
//   while (auto e = mux.poll_event()) ...    // Opened, ChannelData, ChannelClosed, Closed
//
// Start-up (TS 27.010 section 5.7.1): SABM on DLCI 0 answered by UA, then SABM/UA for each
// channel in turn; after each channel opens an MSC command announces our V.24 signals
// (RTC, RTR, DV), which some modems want before they pass data. Each SABM is retried after
// T1 up to N2 times (section 5.7); DM refuses a channel. Close-down (section 5.8.2): CLD on
// DLCI 0, answered by a CLD response. A7670 firmware does not exit CMUX cleanly (esp_modem's
// documentation, quoted in esphome/esphome pull request 6721), so after T1 the multiplexer
// tries DISC on DLCI 0 and, failing that too, declares itself closed anyway (Closed{clean =
// false}); the caller then resynchronises the AT port, which may still need the blind close
// sequence (close_sequence()) or a reset.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "modem/cmux_frame.h"

namespace cellrtc::modem::cmux {

struct MuxConfig {
  std::vector<uint8_t> channels = {1, 2};
  size_t max_info = 127;  // N1: largest information field we send (and accept: max_rx_info)
  size_t max_rx_info = 1540;
  Duration t1 = milliseconds(1000);  // acknowledgement timer (section 5.7.1, default 100 ms)
  int n2 = 3;                        // retransmissions (section 5.7.3)
  bool send_msc = true;
};

enum class MuxState : uint8_t { closed, opening, open, closing };
const char* to_string(MuxState s);

namespace mux_event {
struct Opened {};  // DLCI 0 and every configured channel are open
struct ChannelData {
  uint8_t dlci;
  Bytes data;
};
struct ChannelClosed {
  uint8_t dlci;
  const char* reason;
};
struct Closed {
  bool clean;
  const char* reason;
};
}  // namespace mux_event

using MuxEvent = std::variant<mux_event::Opened, mux_event::ChannelData, mux_event::ChannelClosed,
                              mux_event::Closed>;

struct MuxStats {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t retransmissions = 0;
  uint64_t ignored_frames = 0;  // for unknown or closed channels
};

class Mux {
 public:
  explicit Mux(MuxConfig config = {});

  void open(Instant now);
  void close(Instant now);
  void handle_bytes(Instant now, ByteView bytes);
  void handle_timeout(Instant now);
  // UIH frames of at most max_info octets each. Fails unless the channel is open.
  Status send(Instant now, uint8_t dlci, ByteView data);

  std::optional<Bytes> poll_transmit();
  std::optional<MuxEvent> poll_event();
  std::optional<Instant> next_timeout() const;

  MuxState state() const { return state_; }
  bool channel_open(uint8_t dlci) const;
  const MuxStats& stats() const { return stats_; }
  const DecoderStats& decoder_stats() const { return decoder_.stats(); }

  // What to send, without expecting answers, to a modem that may still be in CMUX mode from
  // a previous host: CLD on DLCI 0, then DISC on DLCI 0. A modem in command mode takes these
  // bytes for a line of noise; the next AT command line starts clean after its CR.
  static Bytes close_sequence();

 private:
  enum class Dlc : uint8_t { closed, opening, open };
  struct Channel {
    uint8_t dlci;
    Dlc state = Dlc::closed;
  };
  struct Await {
    uint8_t dlci;
    FrameType sent;  // SABM, DISC, or UIH for CLD
    int tries = 0;
    Instant deadline;
  };

  void send_frame(Frame f);
  void start_next_channel(Instant now);
  void send_sabm(Instant now, uint8_t dlci);
  void on_frame(Instant now, Frame f);
  void on_control(Instant now, ByteView info);
  void finish_close(bool clean, const char* reason);
  Channel* find(uint8_t dlci);

  MuxConfig config_;
  Decoder decoder_;
  MuxState state_ = MuxState::closed;
  bool dlc0_open_ = false;
  std::vector<Channel> channels_;
  std::optional<Await> await_;
  std::deque<Bytes> transmits_;
  std::deque<MuxEvent> events_;
  MuxStats stats_;
};

}  // namespace cellrtc::modem::cmux
