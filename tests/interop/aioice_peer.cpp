#include "interop/aioice_peer.h"

#include <unistd.h>
#include "support/build_paths.h"

namespace cellrtc::interop {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? std::chrono::milliseconds(0) : left;
}

std::string to_hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
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
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return out;
}

}  // namespace

std::string aioice_peer_script() {
  return cellrtc::test_paths::source_dir() + "/tests/interop/aioice_peer.py";
}

std::unique_ptr<AioicePeer> AioicePeer::start(const AioicePeerOptions& options,
                                              std::string* error) {
  std::string script = aioice_peer_script();
  if (::access(script.c_str(), R_OK) != 0) {
    if (error) *error = "aioice peer: script not found at " + script;
    return nullptr;
  }
  ChildProcessOptions child;
  child.program = options.python;
  child.args = {script, options.controlling ? "--controlling" : "--controlled", "--timeout",
                std::to_string(options.timeout.count())};
  if (options.echo) child.args.push_back("--echo");
  if (options.stun_server) {
    child.args.push_back("--stun-server");
    child.args.push_back(options.stun_server->to_string());
  }
  child.log_path = interop_log_path(unique_name("aioice") + ".log");
  std::string spawn_error;
  auto process = ChildProcess::spawn(child, &spawn_error);
  if (!process) {
    if (error) {
      *error = "aioice peer: " + spawn_error +
               " (Debian's python3-aiortc provides aioice for /usr/bin/python3)";
    }
    return nullptr;
  }
  return std::unique_ptr<AioicePeer>(new AioicePeer(std::move(process)));
}

std::optional<JsonValue> AioicePeer::next_of(std::string_view want, std::string_view also,
                                             std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  // Bounded by the deadline: read_line never waits past it, and returns nullopt once stdout
  // has ended.
  while (true) {
    auto line = process_->read_line(left_until(deadline));
    if (!line) return std::nullopt;
    auto message = parse_json(*line);
    auto type = message ? message->string_at("type") : std::nullopt;
    if (!type) {
      errors_.push_back("not a protocol line: " + *line);
      continue;
    }
    if (*type == want || (!also.empty() && *type == also)) return message;
    if (*type == "recv") {
      auto data = from_hex(message->string_at("data").value_or(""));
      if (data) {
        received_.push_back(std::move(*data));
      } else {
        errors_.push_back("bad recv line: " + *line);
      }
    } else if (*type == "error") {
      errors_.push_back(message->string_at("error").value_or(*line));
    } else {
      errors_.push_back("unexpected line: " + *line);
    }
  }
}

std::optional<IceParameters> AioicePeer::local_description(std::chrono::milliseconds timeout) {
  auto message = next_of("local", "", timeout);
  if (!message) return std::nullopt;
  IceParameters p;
  p.ufrag = message->string_at("ufrag").value_or("");
  p.pwd = message->string_at("pwd").value_or("");
  p.candidates = message->strings_at("candidates").value_or(std::vector<std::string>{});
  return p;
}

bool AioicePeer::set_remote(const IceParameters& remote) {
  std::string line = "{\"type\":\"remote\",\"ufrag\":" + json_quote(remote.ufrag) +
                     ",\"pwd\":" + json_quote(remote.pwd) + ",\"candidates\":[";
  for (size_t i = 0; i < remote.candidates.size(); ++i) {
    if (i > 0) line += ',';
    line += json_quote(remote.candidates[i]);
  }
  line += "]}";
  return process_->write_line(line);
}

std::optional<AioiceResult> AioicePeer::wait_for_result(std::chrono::milliseconds timeout) {
  auto message = next_of("connected", "failed", timeout);
  if (!message) return std::nullopt;
  AioiceResult r;
  r.connected = message->string_at("type") == "connected";
  if (const JsonValue* selected = message->get("selected")) {
    r.selected_local = selected->string_at("local").value_or("");
    r.selected_remote = selected->string_at("remote").value_or("");
  }
  r.error = message->string_at("error").value_or("");
  return r;
}

bool AioicePeer::send(ByteView data) {
  return process_->write_line("{\"type\":\"send\",\"data\":\"" + to_hex(data) + "\"}");
}

std::optional<Bytes> AioicePeer::receive(std::chrono::milliseconds timeout) {
  if (received_.empty()) {
    auto message = next_of("recv", "", timeout);
    if (!message) return std::nullopt;
    auto data = from_hex(message->string_at("data").value_or(""));
    if (!data) {
      errors_.push_back("bad recv line");
      return std::nullopt;
    }
    return data;
  }
  Bytes front = std::move(received_.front());
  received_.pop_front();
  return front;
}

bool AioicePeer::close(std::chrono::milliseconds timeout) {
  process_->write_line("{\"type\":\"close\"}");
  process_->close_stdin();
  auto status = process_->wait(timeout);
  if (!status) {
    process_->stop();
    return false;
  }
  return *status == 0;
}

}  // namespace cellrtc::interop
