// aioice (Debian's python3-aiortc) as an independent ICE peer on loopback: a C++ handle on
// tests/interop/aioice_peer.py, which runs one aioice Connection under /usr/bin/python3 and
// speaks one JSON object per line (the protocol is described at the top of the script).
//
//   std::string error;
//   auto peer = AioicePeer::start({.controlling = false}, &error);   // aioice is controlled
//   ASSERT_TRUE(peer) << error;
//   auto theirs = peer->local_description(5s);   // ufrag, pwd, "candidate:..." strings
//   ASSERT_TRUE(theirs) << peer->log_tail();
//   // ... give theirs->candidates to our agent (ice::parse_candidate), then ours to aioice:
//   peer->set_remote({our_ufrag, our_pwd, {ice::format_candidate(our_host)}});
//   auto result = peer->wait_for_result(10s);    // drive our agent's loop meanwhile (thread)
//   ASSERT_TRUE(result && result->connected) << (result ? result->error : peer->log_tail());
//   peer->send(as_bytes("ping"));                // arrives at our agent on the selected pair
//   auto got = peer->receive(2s);                // what our agent sent (echoed with .echo)
//   peer->close(2s);                             // or let the destructor stop it
//
// aioice gathers 127.0.0.1 only and talks to no STUN/TURN server unless one on loopback is
// given (coturn from coturn.h). The script exits by itself after `timeout`. Calls are not
// thread-safe; the waits read the script's stdout and block the calling thread, so an agent
// under test must run on another thread or be polled between short waits.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/socket_address.h"
#include "interop/child_process.h"
#include "interop/json_line.h"

namespace cellrtc::interop {

struct AioicePeerOptions {
  bool controlling = false;                    // aioice's role: --controlling or --controlled
  std::chrono::seconds timeout{20};            // the script's own lifetime limit
  bool echo = false;                           // send every received datagram back
  std::optional<SocketAddress> stun_server{};  // on 127.0.0.1 (e.g. CoturnServer::address())
  std::string python = "/usr/bin/python3";     // Debian's, which has aioice
};

// One side's ICE parameters as the script exchanges them (RFC 8839 section 5.4 ufrag/pwd and
// section 5.1 candidate attribute values, "candidate:..." without "a=").
struct IceParameters {
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> candidates;
};

struct AioiceResult {
  bool connected = false;
  std::string selected_local;   // aioice's local candidate of the selected pair (SDP)
  std::string selected_remote;  // its remote candidate: ours, or a prflx it learned
  std::string error;            // when !connected
};

class AioicePeer {
 public:
  // Starts the script (does not wait for gathering). nullptr and *error if python, aioice or
  // the script is missing.
  static std::unique_ptr<AioicePeer> start(const AioicePeerOptions& options, std::string* error);

  // Waits for {"type":"local"}: aioice's ufrag, pwd and candidates.
  std::optional<IceParameters> local_description(std::chrono::milliseconds timeout);
  // Sends {"type":"remote"}: our parameters; aioice starts its checks.
  bool set_remote(const IceParameters& remote);
  // Waits for {"type":"connected"} or {"type":"failed"}; nullopt on timeout.
  std::optional<AioiceResult> wait_for_result(std::chrono::milliseconds timeout);
  // Has aioice send one datagram on the selected pair.
  bool send(ByteView data);
  // The next datagram aioice received; nullopt on timeout.
  std::optional<Bytes> receive(std::chrono::milliseconds timeout);
  // Sends {"type":"close"} and waits for the script to exit; true if it exited with 0.
  bool close(std::chrono::milliseconds timeout);

  // {"type":"error"} lines and lines that were not understood, in order.
  const std::vector<std::string>& errors() const { return errors_; }
  ChildProcess& process() { return *process_; }
  std::string log_tail(size_t max_bytes = 4096) const { return process_->log_tail(max_bytes); }

 private:
  explicit AioicePeer(std::unique_ptr<ChildProcess> process) : process_(std::move(process)) {}
  // Reads lines until a message of type `want` (or `also`) arrives; "recv" messages are queued
  // and "error" lines recorded on the way.
  std::optional<JsonValue> next_of(std::string_view want, std::string_view also,
                                   std::chrono::milliseconds timeout);

  std::unique_ptr<ChildProcess> process_;
  std::deque<Bytes> received_;
  std::vector<std::string> errors_;
};

// The script's path in the source tree.
std::string aioice_peer_script();

}  // namespace cellrtc::interop
