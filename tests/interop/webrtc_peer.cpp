#include "interop/webrtc_peer.h"

#include <unistd.h>

#include <charconv>
#include "support/build_paths.h"

namespace cellrtc::interop {
namespace {

using Clock = std::chrono::steady_clock;

// Events nobody asked for (states, candidates) are kept up to this many, oldest dropped.
constexpr size_t kMaxPendingEvents = 1000;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? std::chrono::milliseconds(0) : left;
}

std::string to_hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return out;
}

std::optional<int> int_at(const JsonValue& message, std::string_view key) {
  const JsonValue* v = message.get(key);
  if (!v || v->kind != JsonValue::Kind::number) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(v->text.data(), v->text.data() + v->text.size(), value);
  if (ec != std::errc() || end != v->text.data() + v->text.size()) return std::nullopt;
  return value;
}

std::string channel_json(const DataChannelInit& c) {
  std::string out = "{\"label\":" + json_quote(c.label);
  out += std::string(",\"ordered\":") + (c.ordered ? "true" : "false");
  if (c.max_retransmits) out += ",\"maxRetransmits\":" + std::to_string(*c.max_retransmits);
  if (c.max_packet_life_time) {
    out += ",\"maxPacketLifeTime\":" + std::to_string(*c.max_packet_life_time);
  }
  if (c.negotiated) out += ",\"negotiated\":true";
  if (c.id) out += ",\"id\":" + std::to_string(*c.id);
  if (c.protocol) out += ",\"protocol\":" + json_quote(*c.protocol);
  return out + "}";
}

std::string source_path(std::string_view relative) {
  return cellrtc::test_paths::source_dir() + "/" + std::string(relative);
}

}  // namespace

std::string_view to_string(WebRtcPeerKind kind) {
  switch (kind) {
    case WebRtcPeerKind::chromium:
      return "chromium";
    case WebRtcPeerKind::firefox:
      return "firefox";
    case WebRtcPeerKind::aiortc:
      return "aiortc";
  }
  return "?";
}

std::string browser_peer_script() {
  return source_path("tests/interop/browser_peer.mjs");
}

std::string aiortc_peer_script() {
  return source_path("tests/interop/aiortc_peer.py");
}

std::unique_ptr<WebRtcPeer> WebRtcPeer::launch(const WebRtcPeerOptions& options,
                                               std::string* error) {
  const bool browser = options.kind != WebRtcPeerKind::aiortc;
  std::string name(to_string(options.kind));
  std::string script = browser ? browser_peer_script() : aiortc_peer_script();
  if (::access(script.c_str(), R_OK) != 0) {
    if (error) *error = name + " peer: script not found at " + script;
    return nullptr;
  }
  ChildProcessOptions child;
  child.args = {script};
  if (browser) {
    child.program = options.node;
    child.args.insert(child.args.end(), {"--browser", name});
    // A browser takes a moment to close; the script closes it on SIGTERM.
    child.stop_grace = std::chrono::milliseconds(5000);
  } else {
    child.program = options.python;
  }
  child.args.insert(child.args.end(), {"--timeout", std::to_string(options.timeout.count())});
  child.log_path = interop_log_path(unique_name(name) + ".log");
  std::string spawn_error;
  auto process = ChildProcess::spawn(child, &spawn_error);
  if (!process) {
    if (error) {
      *error = name + " peer: " + spawn_error +
               (browser ? " (scripts/setup.sh installs nodejs, npm, chromium, firefox-esr and the "
                          "npm packages)"
                        : " (Debian's python3-aiortc, for /usr/bin/python3)");
    }
    return nullptr;
  }
  return std::unique_ptr<WebRtcPeer>(
      new WebRtcPeer(options.kind, options.trickle, std::move(process)));
}

bool WebRtcPeer::await_ready(std::chrono::milliseconds timeout, std::string* error) {
  auto ready = wait_for("ready", {}, true, timeout);
  if (!ready || ready->string_at("type") != "ready") {
    std::string why =
        errors_.empty()
            ? "no \"ready\" within " +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                  " s"
            : errors_.back();
    if (error) {
      *error = std::string(to_string(kind_)) + " peer: " + why + "\n--- " + process_->log_path() +
               ":\n" + log_tail(2048);
    }
    return false;
  }
  user_agent_ = ready->string_at("userAgent").value_or("");
  return true;
}

std::unique_ptr<WebRtcPeer> WebRtcPeer::start(const WebRtcPeerOptions& options,
                                              std::string* error) {
  auto peer = launch(options, error);
  if (!peer || !peer->await_ready(options.startup_timeout, error)) return nullptr;
  return peer;
}

std::vector<std::unique_ptr<WebRtcPeer>> WebRtcPeer::start_together(
    const std::vector<WebRtcPeerOptions>& options, std::string* error) {
  std::vector<std::unique_ptr<WebRtcPeer>> peers;
  for (const auto& o : options) {
    peers.push_back(launch(o, error));
    if (!peers.back()) return {};
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    if (!peers[i]->await_ready(options[i].startup_timeout, error)) return {};
  }
  return peers;
}

std::optional<JsonValue> WebRtcPeer::read_event(std::chrono::milliseconds timeout) {
  auto line = process_->read_line(timeout);
  if (!line) return std::nullopt;
  auto message = parse_json(*line);
  auto type = message ? message->string_at("type") : std::nullopt;
  if (!type) {
    errors_.push_back("not a protocol line: " + line->substr(0, 200));
    return JsonValue{};  // a line was read: the caller goes on waiting
  }
  if (*type == "message") {
    ChannelMessage m;
    m.label = message->string_at("label").value_or("");
    if (auto hex = message->string_at("hex")) {
      auto data = from_hex(*hex);
      if (!data) {
        errors_.push_back("bad hex in a message on " + m.label);
        return JsonValue{};
      }
      m.binary = true;
      m.data = std::move(*data);
    } else {
      std::string text = message->string_at("data").value_or("");
      m.data.assign(text.begin(), text.end());
    }
    messages_.push_back(std::move(m));
    return message;
  }
  if (*type == "candidate") {
    local_candidates_.push_back(
        {message->string_at("candidate").value_or(""), message->string_at("sdpMid").value_or("0")});
  } else if (*type == "end_of_candidates") {
    local_candidates_done_ = true;
  } else if (*type == "state") {
    last_state_ = *message;
  } else if (*type == "error") {
    errors_.push_back(message->string_at("error").value_or(*line));
  }
  return message;
}

std::optional<JsonValue> WebRtcPeer::wait_for(std::string_view type, std::string_view label,
                                              bool stop_at_error,
                                              std::chrono::milliseconds timeout) {
  auto wanted = [&](const JsonValue& e) {
    return e.string_at("type") == type && (label.empty() || e.string_at("label") == label);
  };
  // An error stops the wait only if it arrives now: older ones belong to earlier requests.
  auto matches = [&](const JsonValue& e) {
    return wanted(e) || (stop_at_error && e.string_at("type") == "error");
  };
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (wanted(*it)) {
      JsonValue found = std::move(*it);
      pending_.erase(it);
      return found;
    }
  }
  auto deadline = Clock::now() + timeout;
  // Bounded by the deadline: read_line never waits past it, and returns nullopt once the
  // program's output has ended.
  while (true) {
    auto event = read_event(left_until(deadline));
    if (!event) return std::nullopt;
    auto t = event->string_at("type");
    if (!t || *t == "message") continue;  // not understood, or queued in messages_
    if (matches(*event)) return event;
    pending_.push_back(std::move(*event));
    if (pending_.size() > kMaxPendingEvents) pending_.pop_front();
  }
}

std::optional<JsonValue> WebRtcPeer::wait_event(std::string_view type,
                                                std::chrono::milliseconds timeout,
                                                std::string_view label) {
  return wait_for(type, label, false, timeout);
}

std::optional<std::string> WebRtcPeer::create_offer(const std::vector<DataChannelInit>& channels,
                                                    std::chrono::milliseconds timeout) {
  std::string line = "{\"type\":\"create_offer\",\"channels\":[";
  for (size_t i = 0; i < channels.size(); ++i) {
    if (i > 0) line += ',';
    line += channel_json(channels[i]);
  }
  line += std::string("],\"trickle\":") + (trickle_ ? "true" : "false") + "}";
  if (!process_->write_line(line)) return std::nullopt;
  auto offer = wait_for("offer", {}, true, timeout);
  if (!offer || offer->string_at("type") != "offer") return std::nullopt;
  return offer->string_at("sdp");
}

std::optional<std::string> WebRtcPeer::set_remote_offer(std::string_view sdp,
                                                        std::chrono::milliseconds timeout) {
  if (!process_->write_line("{\"type\":\"offer\",\"sdp\":" + json_quote(sdp) +
                            ",\"trickle\":" + (trickle_ ? "true" : "false") + "}")) {
    return std::nullopt;
  }
  auto answer = wait_for("answer", {}, true, timeout);
  if (!answer || answer->string_at("type") != "answer") return std::nullopt;
  return answer->string_at("sdp");
}

bool WebRtcPeer::set_remote_answer(std::string_view sdp) {
  return process_->write_line("{\"type\":\"answer\",\"sdp\":" + json_quote(sdp) + "}");
}

bool WebRtcPeer::add_candidate(const TrickleCandidate& candidate) {
  return process_->write_line(
      "{\"type\":\"candidate\",\"candidate\":" + json_quote(candidate.candidate) +
      ",\"sdpMid\":" + json_quote(candidate.sdp_mid) + "}");
}

bool WebRtcPeer::end_of_candidates() {
  return process_->write_line("{\"type\":\"end_of_candidates\"}");
}

std::optional<int> WebRtcPeer::wait_for_channel_open(std::string_view label,
                                                     std::chrono::milliseconds timeout) {
  auto open = wait_for("channel_open", label, false, timeout);
  if (!open) return std::nullopt;
  return int_at(*open, "id").value_or(-1);
}

bool WebRtcPeer::create_channel(const DataChannelInit& channel) {
  return process_->write_line("{\"type\":\"create_channel\",\"channel\":" + channel_json(channel) +
                              "}");
}

bool WebRtcPeer::send_text(std::string_view label, std::string_view text) {
  return process_->write_line("{\"type\":\"send\",\"label\":" + json_quote(label) +
                              ",\"data\":" + json_quote(text) + "}");
}

bool WebRtcPeer::send_binary(std::string_view label, ByteView data) {
  return process_->write_line("{\"type\":\"send\",\"label\":" + json_quote(label) + ",\"hex\":\"" +
                              to_hex(data) + "\"}");
}

std::optional<ChannelMessage> WebRtcPeer::wait_message(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (messages_.empty()) {
    auto event = read_event(left_until(deadline));
    if (!event) return std::nullopt;
    auto t = event->string_at("type");
    if (t && *t != "message") {
      pending_.push_back(std::move(*event));
      if (pending_.size() > kMaxPendingEvents) pending_.pop_front();
    }
  }
  ChannelMessage front = std::move(messages_.front());
  messages_.pop_front();
  return front;
}

bool WebRtcPeer::close_channel(std::string_view label) {
  return process_->write_line("{\"type\":\"close_channel\",\"label\":" + json_quote(label) + "}");
}

std::optional<JsonValue> WebRtcPeer::stats(std::chrono::milliseconds timeout) {
  if (!process_->write_line("{\"type\":\"get_stats\"}")) return std::nullopt;
  return wait_for("stats", {}, false, timeout);
}

bool WebRtcPeer::close(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  process_->write_line("{\"type\":\"close\"}");
  process_->close_stdin();
  // Its last lines are read (and dropped) so that it never blocks writing them.
  while (process_->read_line(left_until(deadline))) {
  }
  auto status = process_->wait(left_until(deadline) + std::chrono::milliseconds(100));
  if (!status) {
    process_->stop();
    return false;
  }
  return *status == 0;
}

}  // namespace cellrtc::interop
