#pragma once

// The control-channel messages of direct mode between the server and a device
// (docs/protocol.md, "Direct mode"): the server forwards a viewer's WHEP offer, trickled
// candidates and its end; the device answers, reports the connection's state, or refuses.
//
// An SDP is larger than one control message may be (4096 bytes), so it travels in parts:
// {"type":"direct-offer","id":"<viewer>","part":0,"parts":2,"sdp":"..."}, each part's "sdp" at
// most kMaxDirectSdpPartBytes, at most kMaxDirectSdpParts parts, kMaxDirectSdpBytes in all.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/result.h"
#include "core/media/control_message.h"
#include "server/control_messages.h"

namespace cellrtc::server {

// The limits of direct-mode messages are the device codec's (core/media/control_message.h).
using media::kMaxDirectIdBytes;
using media::kMaxDirectSdpBytes;
using media::kMaxDirectSdpPartBytes;
using media::kMaxDirectSdpParts;

// Fresh TURN REST credentials for the device, on a direct-offer's first part: the ones of its
// WHIP answer may have expired in a long session (docs/protocol.md, "Direct mode").
struct DirectTurnCredentials {
  std::string username;
  std::string credential;
};

// The messages that carry `sdp` for viewer `id` ("direct-offer" or "direct-answer"), each under
// 4096 bytes once serialized (parts are cut by their escaped size), the first with `turn` as
// "turn_username" and "turn_credential" when given. Empty when the SDP is over
// kMaxDirectSdpBytes, the id over kMaxDirectIdBytes or a credential over 256 bytes.
std::vector<std::string> direct_sdp_messages(std::string_view type, std::string_view id,
                                             std::string_view sdp,
                                             const DirectTurnCredentials* turn = nullptr);
// {"type":"direct-candidate","id":..,"candidate":"candidate:..."}; an empty candidate is
// end-of-candidates: {"type":"direct-candidate","id":..,"end":true}.
std::string direct_candidate_json(std::string_view id, std::string_view candidate);
std::string direct_close_json(std::string_view id);

// One part of a "direct-answer" (or "direct-offer").
struct DirectSdpPart {
  std::string id;
  size_t part = 0;
  size_t parts = 0;
  std::string sdp;
};
// Errors name the field that is missing or out of range.
Result<DirectSdpPart> read_direct_sdp_part(const ControlMessage& message);

// Joins the parts of one SDP in order: a part out of order, a changed part count or a total
// over kMaxDirectSdpBytes is an error (and the assembly is over).
class DirectSdpAssembler {
 public:
  // The whole SDP once its last part is in.
  Result<std::optional<std::string>> add(const DirectSdpPart& part);

 private:
  std::string sdp_;
  size_t next_ = 0;
  size_t parts_ = 0;
};

// {"type":"direct-state","id":..,"state":"connected|failed|closed"} and
// {"type":"direct-error","id":..,"reason":".."} from the device.
struct DirectState {
  std::string id;
  std::string state;
};
std::optional<DirectState> read_direct_state(const ControlMessage& message);
struct DirectError {
  std::string id;
  std::string reason;
};
std::optional<DirectError> read_direct_error(const ControlMessage& message);

}  // namespace cellrtc::server
