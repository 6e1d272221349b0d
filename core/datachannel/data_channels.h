// The data channels of one SCTP association (RFC 8831) and their establishment with DCEP
// (RFC 8832): ids by DTLS role parity, in-band and pre-negotiated channels, message PPIDs,
// per-channel reliability, closing by stream reset (RFC 8831 section 6.7).
//
// The SCTP association is passed into each call that sends (it exists only once DTLS is up);
// channels created before that wait and open when attach() is called.
//
// A channel is named by a handle that stays the same for its life. Its SCTP stream id comes
// from the DTLS role (RFC 8832 section 6), which offer/answer settles only after the
// application may have created the channel, so the stream id is assigned then (as
// RTCDataChannel.id stays null until the role is known).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/shared_bytes.h"
#include "core/common/time.h"
#include "core/datachannel/dcep.h"
#include "core/sctp/sctp_association.h"

namespace cellrtc::datachannel {

struct DataChannelsConfig {
  size_t max_channels = 64;
};

enum class ChannelState : uint8_t { connecting, open, closing, closed };
const char* to_string(ChannelState state);

struct ChannelInfo {
  uint16_t id = 0;                 // the handle
  std::optional<uint16_t> stream;  // the SCTP stream id, once assigned
  ChannelParameters params;
  ChannelState state = ChannelState::connecting;
  bool opened_by_peer = false;
  bool acked = false;           // DCEP ACK received (ours) or sent (theirs)
  bool outgoing_reset = false;  // our stream reset completed
  bool incoming_reset = false;  // the peer reset its stream
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

namespace event {
struct ChannelOpen {
  uint16_t id;
  std::string label;
  std::string protocol;
};
struct ChannelMessage {
  uint16_t id;
  bool binary;
  Bytes data;
};
struct ChannelBufferedAmountLow {
  uint16_t id;
};
struct ChannelClosed {
  uint16_t id;
};
}  // namespace event

using DataChannelEvent = std::variant<event::ChannelOpen, event::ChannelMessage,
                                      event::ChannelBufferedAmountLow, event::ChannelClosed>;

class DataChannels {
 public:
  explicit DataChannels(DataChannelsConfig config = {}) : config_(config) {}

  // RFC 8832 section 6: the DTLS client opens channels on even stream ids, the server on odd.
  // Channels waiting for a stream id get one now.
  void set_dtls_client(bool client);

  // Creates a channel; it opens (DCEP OPEN sent, or at once when negotiated) as soon as the
  // association is up. Returns its handle.
  Result<uint16_t> create(Instant now, const ChannelParameters& params,
                          sctp::SctpAssociation* sctp);
  // The association is established: open the channels waiting for it.
  void attach(Instant now, sctp::SctpAssociation& sctp);
  // An event of the association: DCEP, messages, resets, buffered-amount-low.
  void handle(Instant now, sctp::SctpEvent& e, sctp::SctpAssociation& sctp);
  // The association is gone: every channel closes.
  void detach();

  Status send(Instant now, uint16_t id, ByteView data, bool binary, sctp::SctpAssociation* sctp);
  // The same without a copy: SCTP keeps a reference to `data` until the message is acked or
  // abandoned (see SctpAssociation::send).
  Status send(Instant now, uint16_t id, SharedBytes data, bool binary, sctp::SctpAssociation* sctp);
  Status close(Instant now, uint16_t id, sctp::SctpAssociation* sctp);

  std::optional<DataChannelEvent> poll_event();
  const ChannelInfo* find(uint16_t id) const;
  const std::map<uint16_t, ChannelInfo>& all() const { return channels_; }

 private:
  // The open channel `id`, or why nothing can be sent on it.
  Result<ChannelInfo*> open_channel(uint16_t id, sctp::SctpAssociation* sctp);
  std::optional<uint16_t> allocate_stream() const;
  uint16_t allocate_handle();
  ChannelInfo* by_stream(uint16_t stream);
  void assign_streams();
  void open(Instant now, ChannelInfo& c, sctp::SctpAssociation& sctp);
  void mark_open(ChannelInfo& c);
  void maybe_closed(uint16_t id);
  void on_dcep(Instant now, uint16_t stream, ByteView data, sctp::SctpAssociation& sctp);

  DataChannelsConfig config_;
  std::optional<bool> dtls_client_;
  std::map<uint16_t, ChannelInfo> channels_;  // by handle
  std::map<uint16_t, uint16_t> streams_;      // stream id -> handle
  uint16_t next_handle_ = 1;
  std::deque<DataChannelEvent> events_;
};

}  // namespace cellrtc::datachannel
