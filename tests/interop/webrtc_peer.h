// A real WebRTC peer that no one here wrote, for interop tests on loopback: headless Chromium,
// headless Firefox ESR (tests/interop/browser_peer.mjs under node) or aiortc
// (tests/interop/aiortc_peer.py under Debian's python3). Each runs one RTCPeerConnection and
// speaks one JSON object per line; the protocol is described at the top of browser_peer.mjs.
//
//   std::string error;
//   auto browser = WebRtcPeer::start({.kind = WebRtcPeerKind::chromium}, &error);
//   ASSERT_TRUE(browser) << error;                  // fails if chromium/node/npm are missing
//   auto offer = browser->create_offer({{.label = "control"}});
//   ASSERT_TRUE(offer) << browser->log_tail();
//   // ... give *offer to our PeerConnection, and its answer back:
//   ASSERT_TRUE(browser->set_remote_answer(our_answer_sdp));
//   // (trickled candidates: browser->add_candidate({"candidate:... 127.0.0.1 ..."}), and
//   //  browser->local_candidates() for the browser's own; both loopback only)
//   ASSERT_TRUE(browser->wait_for_channel_open("control", 10s)) << browser->log_tail();
//   browser->send_text("control", "hello");        // arrives at our PeerConnection
//   auto got = browser->wait_message(5s);           // what ours sent
//   browser->close_channel("control");
//   browser->close();                               // or let the destructor stop it
//
// Loopback only: every peer has an empty iceServers list, and no candidate that is not on
// 127.0.0.0/8 is printed or accepted (Chromium never gathers 127.0.0.1: given a 127.0.0.1
// remote candidate it checks from 127.0.0.1, so ours must take peer-reflexive candidates).
// An offer or answer is returned once the peer has gathered, with all its loopback candidates
// in the SDP (unless the options ask for trickle). aiortc advertises a=max-message-size:262144
// (see aiortc_peer.py). Channels: created before the offer (create_offer), or at any time with
// create_channel (in-band DCEP once connected, or negotiated with an id on both sides).
// WebRtcPeer::start_together launches several peers at once, as browsers are slow to start.
//
// Every wait is bounded by the timeout it is given; the peer program exits by itself after
// `timeout`, and the browser goes with it. Calls are not thread-safe; the waits read the
// program's stdout and block the calling thread, so a PeerConnection under test must run on
// another thread or be polled between short waits.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/bytes.h"
#include "interop/child_process.h"
#include "interop/json_line.h"

namespace cellrtc::interop {

enum class WebRtcPeerKind { chromium, firefox, aiortc };
std::string_view to_string(WebRtcPeerKind kind);

struct WebRtcPeerOptions {
  WebRtcPeerKind kind = WebRtcPeerKind::chromium;
  std::chrono::seconds timeout{30};          // the peer program's own lifetime limit
  std::chrono::seconds startup_timeout{30};  // until it reports "ready" (browser launched)
  // Browsers only: return offers and answers before gathering, their candidates then coming
  // one by one (local_candidates()). aiortc always puts every candidate in its SDP.
  bool trickle = false;
  std::string node = "/usr/bin/node";       // for the browsers (Debian's nodejs)
  std::string python = "/usr/bin/python3";  // for aiortc (Debian's python3-aiortc)
};

// RTCDataChannelInit, as the peer creates it before its offer.
struct DataChannelInit {
  std::string label;
  bool ordered = true;
  std::optional<int> max_retransmits{};
  std::optional<int> max_packet_life_time{};  // milliseconds
  bool negotiated = false;
  std::optional<int> id{};
  std::optional<std::string> protocol{};
};

// A trickled candidate: the attribute value "candidate:..." (RFC 8839 section 5.1) and its mid.
struct TrickleCandidate {
  std::string candidate;
  std::string sdp_mid = "0";
};

struct ChannelMessage {
  std::string label;
  bool binary = false;
  Bytes data;  // a text message's UTF-8 bytes when !binary
  std::string_view text() const { return as_chars(data); }
};

class WebRtcPeer {
 public:
  // For the calls that take a timeout by default: long enough for a browser on a loaded
  // machine to create an SDP or to close.
  static constexpr std::chrono::milliseconds kDefaultWait{15000};

  // Starts the peer program and waits for it to report "ready". nullptr and *error (with the
  // program's own words, e.g. a browser that does not launch) when it does not.
  static std::unique_ptr<WebRtcPeer> start(const WebRtcPeerOptions& options, std::string* error);
  // Starts several at once (browsers launch in parallel) and waits until all are ready; empty
  // and *error if any is not.
  static std::vector<std::unique_ptr<WebRtcPeer>> start_together(
      const std::vector<WebRtcPeerOptions>& options, std::string* error);

  WebRtcPeerKind kind() const { return kind_; }
  const std::string& user_agent() const { return user_agent_; }

  // Creates the channels, then an offer; its SDP once gathered. nullopt on error or timeout
  // (errors() tells which).
  std::optional<std::string> create_offer(const std::vector<DataChannelInit>& channels,
                                          std::chrono::milliseconds timeout = kDefaultWait);
  // Takes a remote offer; the peer's answer SDP.
  std::optional<std::string> set_remote_offer(std::string_view sdp,
                                              std::chrono::milliseconds timeout = kDefaultWait);
  // Takes the remote answer (the peer reports a failure as an error event, not here).
  bool set_remote_answer(std::string_view sdp);
  // Trickles a remote candidate; one not on 127.0.0.0/8 is refused with an error event.
  bool add_candidate(const TrickleCandidate& candidate);
  bool end_of_candidates();
  // The peer's own loopback candidates read so far, and whether it has ended them.
  const std::vector<TrickleCandidate>& local_candidates() const { return local_candidates_; }
  bool local_candidates_done() const { return local_candidates_done_; }

  // Waits for {"type":"channel_open"} of `label`; the channel's stream id.
  std::optional<int> wait_for_channel_open(std::string_view label,
                                           std::chrono::milliseconds timeout);
  // Creates a channel now: after the connection the peer opens it in-band (DCEP); a
  // negotiated one (with an id) opens once both sides have created it.
  bool create_channel(const DataChannelInit& channel);
  bool send_text(std::string_view label, std::string_view text);
  bool send_binary(std::string_view label, ByteView data);
  // The next message the peer received, on any channel.
  std::optional<ChannelMessage> wait_message(std::chrono::milliseconds timeout);
  // Closes the channel; wait_event("channel_close", ..., label) sees it closed.
  bool close_channel(std::string_view label);
  // Asks for {"type":"stats"}: "selected" {"local","remote"} candidates with "address",
  // "port", "candidateType"; byte counts where the peer has them.
  std::optional<JsonValue> stats(std::chrono::milliseconds timeout);

  // The next event of `type` (and of channel `label` if given), taken from those already read
  // or from new lines. Events of other types read meanwhile are kept for later calls; messages
  // go to wait_message().
  std::optional<JsonValue> wait_event(std::string_view type, std::chrono::milliseconds timeout,
                                      std::string_view label = {});
  // The latest {"type":"state"} event read ("ice", "connection", "dtls"), if any.
  const std::optional<JsonValue>& last_state() const { return last_state_; }

  // Sends {"type":"close"} and waits for the program to exit; true if it exited with 0.
  bool close(std::chrono::milliseconds timeout = kDefaultWait);

  // {"type":"error"} texts and lines that were not understood, in order.
  const std::vector<std::string>& errors() const { return errors_; }
  ChildProcess& process() { return *process_; }
  std::string log_tail(size_t max_bytes = 4096) const { return process_->log_tail(max_bytes); }

 private:
  WebRtcPeer(WebRtcPeerKind kind, bool trickle, std::unique_ptr<ChildProcess> process)
      : kind_(kind), trickle_(trickle), process_(std::move(process)) {}
  // Spawns the program without waiting; then await_ready() for its "ready" line.
  static std::unique_ptr<WebRtcPeer> launch(const WebRtcPeerOptions& options, std::string* error);
  bool await_ready(std::chrono::milliseconds timeout, std::string* error);
  // Reads one line and files it (messages, candidates, states, errors, pending events).
  // nullopt on timeout or end of output; otherwise the parsed event.
  std::optional<JsonValue> read_event(std::chrono::milliseconds timeout);
  // Waits for an event of `type`/`label`, or an error event when `stop_at_error`.
  std::optional<JsonValue> wait_for(std::string_view type, std::string_view label,
                                    bool stop_at_error, std::chrono::milliseconds timeout);

  WebRtcPeerKind kind_;
  bool trickle_;
  std::unique_ptr<ChildProcess> process_;
  std::string user_agent_;
  std::deque<JsonValue> pending_;  // events read but not yet asked for
  std::deque<ChannelMessage> messages_;
  std::vector<TrickleCandidate> local_candidates_;
  bool local_candidates_done_ = false;
  std::optional<JsonValue> last_state_;
  std::vector<std::string> errors_;
};

// The peer programs' paths in the source tree.
std::string browser_peer_script();
std::string aiortc_peer_script();

}  // namespace cellrtc::interop
