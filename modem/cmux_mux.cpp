#include "modem/cmux_mux.h"

#include <algorithm>

namespace cellrtc::modem::cmux {

const char* to_string(MuxState s) {
  switch (s) {
    case MuxState::closed:
      return "closed";
    case MuxState::opening:
      return "opening";
    case MuxState::open:
      return "open";
    case MuxState::closing:
      return "closing";
  }
  return "?";
}

Mux::Mux(MuxConfig config) : config_(std::move(config)), decoder_(config_.max_rx_info) {
  for (uint8_t d : config_.channels)
    if (d != 0 && d < 64) channels_.push_back(Channel{d});
}

Mux::Channel* Mux::find(uint8_t dlci) {
  for (auto& c : channels_)
    if (c.dlci == dlci) return &c;
  return nullptr;
}

bool Mux::channel_open(uint8_t dlci) const {
  for (const auto& c : channels_)
    if (c.dlci == dlci) return c.state == Dlc::open;
  return false;
}

void Mux::send_frame(Frame f) {
  Bytes out;
  encode_into(f, out);
  ++stats_.frames_out;
  transmits_.push_back(std::move(out));
}

void Mux::send_sabm(Instant now, uint8_t dlci) {
  // Commands from the initiator carry C/R = 1 (TS 27.010 section 5.2.1.2, table 1); SABM
  // always has P = 1.
  send_frame(Frame{dlci, true, FrameType::sabm, true, {}});
  if (!await_ || await_->dlci != dlci || await_->sent != FrameType::sabm) {
    await_ = Await{dlci, FrameType::sabm, 0, now + config_.t1};
  } else {
    await_->deadline = now + config_.t1;
  }
}

void Mux::open(Instant now) {
  if (state_ != MuxState::closed) return;
  decoder_.reset();
  dlc0_open_ = false;
  for (auto& c : channels_)
    c.state = Dlc::closed;
  state_ = MuxState::opening;
  await_.reset();
  send_sabm(now, 0);
}

void Mux::start_next_channel(Instant now) {
  for (auto& c : channels_) {
    if (c.state == Dlc::closed) {
      c.state = Dlc::opening;
      await_.reset();
      send_sabm(now, c.dlci);
      return;
    }
    if (c.state == Dlc::opening) return;
  }
  await_.reset();
  state_ = MuxState::open;
  events_.push_back(mux_event::Opened{});
}

void Mux::close(Instant now) {
  if (state_ == MuxState::closed || state_ == MuxState::closing) return;
  state_ = MuxState::closing;
  // Section 5.8.2: the close-down command on DLCI 0.
  send_frame(Frame{0, true, FrameType::uih, false, encode_control({msg::kCld, true, {}})});
  await_ = Await{0, FrameType::uih, 0, now + config_.t1};
}

void Mux::finish_close(bool clean, const char* reason) {
  const bool was_open = state_ != MuxState::closed;
  for (auto& c : channels_) {
    if (c.state != Dlc::closed) events_.push_back(mux_event::ChannelClosed{c.dlci, reason});
    c.state = Dlc::closed;
  }
  dlc0_open_ = false;
  await_.reset();
  state_ = MuxState::closed;
  if (was_open) events_.push_back(mux_event::Closed{clean, reason});
}

Status Mux::send(Instant now, uint8_t dlci, ByteView data) {
  (void)now;
  if (!channel_open(dlci)) return Error{Errc::invalid_state, "CMUX channel not open"};
  while (!data.empty()) {
    const size_t n = std::min(data.size(), config_.max_info);
    send_frame(Frame{dlci, true, FrameType::uih, false, Bytes(data.begin(), data.begin() + n)});
    data = data.subspan(n);
  }
  return {};
}

void Mux::handle_bytes(Instant now, ByteView bytes) {
  decoder_.push(bytes);
  while (auto f = decoder_.poll()) {
    ++stats_.frames_in;
    on_frame(now, std::move(*f));
  }
}

void Mux::on_control(Instant now, ByteView info) {
  auto msgs = decode_control(info);
  if (!msgs.ok()) return;
  for (auto& m : *msgs) {
    if (m.type == msg::kCld) {
      if (m.command) {
        // The modem closes down: answer, then everything is closed (section 5.8.2).
        send_frame(Frame{0, true, FrameType::uih, false, encode_control({msg::kCld, false, {}})});
        finish_close(true, "modem closed the multiplexer");
      } else if (state_ == MuxState::closing) {
        finish_close(true, "close-down acknowledged");
      }
      continue;
    }
    if (!m.command) continue;  // responses to our MSC and friends need nothing
    switch (m.type) {
      case msg::kMsc:
      case msg::kTest:
      case msg::kFcon:
      case msg::kFcoff:
      case msg::kRpn:
      case msg::kRls:
      case msg::kPn:
        // Echo the value back as the response (MSC, Test, PN and RPN responses repeat the
        // command's value; section 5.4.6.3).
        send_frame(Frame{0, true, FrameType::uih, false,
                         encode_control({m.type, false, std::move(m.value)})});
        break;
      default: {
        // Section 5.4.6.3.8: non supported command response carries the command's type.
        const uint8_t type_octet = static_cast<uint8_t>(m.type | 0x03);
        send_frame(Frame{0, true, FrameType::uih, false,
                         encode_control({msg::kNsc, false, Bytes{type_octet}})});
        break;
      }
    }
  }
  (void)now;
}

void Mux::on_frame(Instant now, Frame f) {
  switch (f.type) {
    case FrameType::ua:
      if (await_ && await_->dlci == f.dlci && await_->sent == FrameType::sabm) {
        if (f.dlci == 0) {
          dlc0_open_ = true;
          start_next_channel(now);
        } else if (Channel* c = find(f.dlci)) {
          c->state = Dlc::open;
          if (config_.send_msc) {
            const uint8_t signals = kV24Ea | kV24Rtc | kV24Rtr | kV24Dv;
            const uint8_t dlci_octet = static_cast<uint8_t>((f.dlci << 2) | 0x02 | 0x01);
            send_frame(Frame{0, true, FrameType::uih, false,
                             encode_control({msg::kMsc, true, Bytes{dlci_octet, signals}})});
          }
          start_next_channel(now);
        }
      } else if (state_ == MuxState::closing && f.dlci == 0) {
        finish_close(true, "DLCI 0 disconnected");
      } else {
        ++stats_.ignored_frames;
      }
      return;
    case FrameType::dm:
      if (state_ == MuxState::opening && await_ && await_->dlci == f.dlci) {
        if (f.dlci == 0) {
          finish_close(false, "modem refused DLCI 0");
        } else {
          if (Channel* c = find(f.dlci)) {
            c->state = Dlc::closed;
            events_.push_back(mux_event::ChannelClosed{f.dlci, "modem refused the channel"});
          }
          finish_close(false, "modem refused a channel");
        }
      } else if (state_ == MuxState::closing && f.dlci == 0) {
        finish_close(true, "DLCI 0 disconnected");
      } else {
        ++stats_.ignored_frames;
      }
      return;
    case FrameType::disc:
      // The modem disconnects a channel (or everything with DLCI 0): acknowledge with UA.
      send_frame(Frame{f.dlci, false, FrameType::ua, true, {}});
      if (f.dlci == 0) {
        finish_close(true, "modem disconnected DLCI 0");
      } else if (Channel* c = find(f.dlci); c && c->state != Dlc::closed) {
        c->state = Dlc::closed;
        events_.push_back(mux_event::ChannelClosed{f.dlci, "modem disconnected the channel"});
      }
      return;
    case FrameType::sabm:
      // We are the initiator; a modem opening channels itself gets DM.
      send_frame(Frame{f.dlci, false, FrameType::dm, true, {}});
      return;
    case FrameType::uih:
    case FrameType::ui:
      if (f.dlci == 0) {
        if (dlc0_open_) on_control(now, f.info);
        return;
      }
      if (channel_open(f.dlci)) {
        if (!f.info.empty()) events_.push_back(mux_event::ChannelData{f.dlci, std::move(f.info)});
      } else {
        ++stats_.ignored_frames;
      }
      return;
  }
}

void Mux::handle_timeout(Instant now) {
  if (!await_ || now < await_->deadline) return;
  if (await_->tries >= config_.n2) {
    if (state_ == MuxState::closing) {
      if (await_->sent == FrameType::uih) {
        // No CLD response: try DISC on DLCI 0 (section 5.8.1) before giving up.
        send_frame(Frame{0, true, FrameType::disc, true, {}});
        await_ = Await{0, FrameType::disc, 0, now + config_.t1};
        return;
      }
      finish_close(false, "modem did not acknowledge the close-down");
      return;
    }
    finish_close(false, await_->dlci == 0 ? "no UA for DLCI 0" : "no UA for a channel");
    return;
  }
  ++await_->tries;
  ++stats_.retransmissions;
  await_->deadline = now + config_.t1;
  switch (await_->sent) {
    case FrameType::sabm:
      send_frame(Frame{await_->dlci, true, FrameType::sabm, true, {}});
      break;
    case FrameType::disc:
      send_frame(Frame{0, true, FrameType::disc, true, {}});
      break;
    default:
      send_frame(Frame{0, true, FrameType::uih, false, encode_control({msg::kCld, true, {}})});
      break;
  }
}

std::optional<Instant> Mux::next_timeout() const {
  if (!await_) return std::nullopt;
  return await_->deadline;
}

std::optional<Bytes> Mux::poll_transmit() {
  if (transmits_.empty()) return std::nullopt;
  Bytes b = std::move(transmits_.front());
  transmits_.pop_front();
  return b;
}

std::optional<MuxEvent> Mux::poll_event() {
  std::optional<MuxEvent> out;
  if (events_.empty()) return out;
  out.emplace(std::move(events_.front()));
  events_.pop_front();
  return out;
}

Bytes Mux::close_sequence() {
  Bytes out;
  encode_into(Frame{0, true, FrameType::uih, false, encode_control({msg::kCld, true, {}})}, out);
  encode_into(Frame{0, true, FrameType::disc, true, {}}, out);
  return out;
}

}  // namespace cellrtc::modem::cmux
