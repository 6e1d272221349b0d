#include "core/datachannel/data_channels.h"

#include <algorithm>

namespace cellrtc::datachannel {
namespace {

constexpr uint32_t kPpidDcep = static_cast<uint32_t>(Ppid::dcep);

sctp::SendOptions send_options(const ChannelParameters& p) {
  sctp::SendOptions o;
  o.unordered = !p.ordered;
  if (p.max_retransmits)
    o.max_retransmits = static_cast<uint16_t>(std::min<uint32_t>(*p.max_retransmits, 65535));
  if (p.max_packet_lifetime) o.max_lifetime = milliseconds(*p.max_packet_lifetime);
  return o;
}

}  // namespace

const char* to_string(ChannelState state) {
  switch (state) {
    case ChannelState::connecting:
      return "connecting";
    case ChannelState::open:
      return "open";
    case ChannelState::closing:
      return "closing";
    case ChannelState::closed:
      return "closed";
  }
  return "unknown";
}

uint16_t DataChannels::allocate_handle() {
  // At most max_channels exist, far fewer than 65535 handles, so a free one is near.
  while (next_handle_ == 0 || channels_.count(next_handle_))
    ++next_handle_;
  return next_handle_++;
}

std::optional<uint16_t> DataChannels::allocate_stream() const {
  // RFC 8832 section 6: even ids for the DTLS client, odd for the server.
  for (uint32_t id = first_stream_id(*dtls_client_); id <= kMaxStreamId; id += 2)
    if (!streams_.count(static_cast<uint16_t>(id))) return static_cast<uint16_t>(id);
  return std::nullopt;
}

ChannelInfo* DataChannels::by_stream(uint16_t stream) {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : &channels_.at(it->second);
}

void DataChannels::set_dtls_client(bool client) {
  dtls_client_ = client;
  assign_streams();
}

void DataChannels::assign_streams() {
  if (!dtls_client_) return;
  for (auto& [handle, c] : channels_) {
    if (c.stream) continue;
    auto stream = allocate_stream();
    if (!stream) continue;  // every id taken: stays connecting
    c.stream = stream;
    c.params.id = stream;
    streams_[*stream] = handle;
  }
}

Result<uint16_t> DataChannels::create(Instant now, const ChannelParameters& params,
                                      sctp::SctpAssociation* sctp) {
  if (Status v = validate(params); !v) return v.error();
  if (channels_.size() >= config_.max_channels)
    return Error{Errc::limit_exceeded, "too many data channels"};
  if (params.id && streams_.count(*params.id))
    return Error{Errc::invalid_argument, "stream id in use"};
  uint16_t handle = allocate_handle();
  ChannelInfo& c = channels_[handle];
  c.id = handle;
  c.params = params;
  if (params.id) {
    c.stream = params.id;
    streams_[*params.id] = handle;
  } else {
    assign_streams();
  }
  if (sctp && c.stream) open(now, c, *sctp);
  return handle;
}

void DataChannels::attach(Instant now, sctp::SctpAssociation& sctp) {
  assign_streams();
  for (auto& [handle, c] : channels_)
    if (c.state == ChannelState::connecting && !c.opened_by_peer && c.stream) open(now, c, sctp);
}

void DataChannels::open(Instant now, ChannelInfo& c, sctp::SctpAssociation& sctp) {
  if (c.params.negotiated) {
    // RFC 8832 section 1: pre-agreed channels skip DCEP and are open with the association.
    mark_open(c);
    return;
  }
  auto open_msg = to_open_message(c.params);
  if (!open_msg) return;
  auto msg = encode_open(*open_msg);
  if (!msg) return;
  // RFC 8832 section 6: DCEP messages go reliable and ordered.
  Status s = sctp.send(now, *c.stream, kPpidDcep, *msg, {});
  if (!s) return;  // buffer full: the next attach() retries
  // RFC 8832 section 6: the opener may send before the ACK arrives, so the channel is open
  // for it once the OPEN is on its way.
  mark_open(c);
}

void DataChannels::mark_open(ChannelInfo& c) {
  if (c.state != ChannelState::connecting) return;
  c.state = ChannelState::open;
  events_.push_back(event::ChannelOpen{c.id, c.params.label, c.params.protocol});
}

void DataChannels::on_dcep(Instant now, uint16_t stream, ByteView data,
                           sctp::SctpAssociation& sctp) {
  auto msg = parse_dcep(data);
  if (!msg) return;  // RFC 8832 section 5: unknown or malformed DCEP is ignored
  ChannelInfo* existing = by_stream(stream);
  if (std::get_if<DataChannelAck>(&*msg)) {
    if (existing) existing->acked = true;
    return;
  }
  auto* open_msg = std::get_if<DataChannelOpen>(&*msg);
  if (!open_msg) return;
  // Both sides chose the same id (the peer broke the parity rule on an id we use): keep ours.
  if (existing) return;
  if (channels_.size() >= config_.max_channels) {
    (void)sctp.reset_streams(now, std::span<const uint16_t>(&stream, 1));
    return;
  }
  // Liberal in what we accept: RFC 8832 section 6 wants the peer's parity, but libpeer opens
  // on stream 0 whatever its DTLS role; any free id is taken.
  uint16_t handle = allocate_handle();
  ChannelInfo& c = channels_[handle];
  c.id = handle;
  c.stream = stream;
  streams_[stream] = handle;
  c.params = from_open_message(*open_msg, stream);
  c.opened_by_peer = true;
  c.acked = true;
  (void)sctp.send(now, stream, kPpidDcep, encode_ack(), {});
  mark_open(c);
}

void DataChannels::handle(Instant now, sctp::SctpEvent& e, sctp::SctpAssociation& sctp) {
  if (auto* m = std::get_if<sctp::event::Message>(&e)) {
    if (m->ppid == kPpidDcep) {
      on_dcep(now, m->stream, m->data, sctp);
      return;
    }
    ChannelInfo* c = by_stream(m->stream);
    if (!c || c->state == ChannelState::closed) return;
    auto kind = classify_ppid(m->ppid);
    // Deprecated partial PPIDs (52, 54) and unknown ones are dropped (RFC 8831 section 8).
    if (!kind || kind->kind == PayloadKind::dcep) return;
    bool binary = kind->kind == PayloadKind::binary;
    Bytes data = std::move(m->data);
    // RFC 8831 section 6.6: the one byte of an empty message stands for nothing.
    if (kind->empty) data.clear();
    ++c->messages_received;
    c->bytes_received += data.size();
    events_.push_back(event::ChannelMessage{c->id, binary, std::move(data)});
  } else if (auto* low = std::get_if<sctp::event::BufferedAmountLow>(&e)) {
    if (ChannelInfo* c = by_stream(low->stream))
      events_.push_back(event::ChannelBufferedAmountLow{c->id});
  } else if (auto* r = std::get_if<sctp::event::StreamsResetByPeer>(&e)) {
    // RFC 8831 section 6.7: the peer closed its side; we reset ours too.
    std::vector<uint16_t> ours;
    for (uint16_t stream : r->streams) {
      ChannelInfo* c = by_stream(stream);
      if (!c) continue;
      c->incoming_reset = true;
      if (c->state != ChannelState::closing) {
        c->state = ChannelState::closing;
        ours.push_back(stream);
      }
      maybe_closed(stream);
    }
    if (!ours.empty()) (void)sctp.reset_streams(now, ours);
  } else if (auto* done = std::get_if<sctp::event::OutgoingResetDone>(&e)) {
    for (uint16_t stream : done->streams) {
      ChannelInfo* c = by_stream(stream);
      if (!c) continue;
      c->outgoing_reset = true;
      maybe_closed(stream);
    }
  }
}

void DataChannels::maybe_closed(uint16_t stream) {
  ChannelInfo* c = by_stream(stream);
  if (!c || !c->outgoing_reset || !c->incoming_reset) return;
  uint16_t handle = c->id;
  channels_.erase(handle);
  streams_.erase(stream);  // the stream id may be used again
  events_.push_back(event::ChannelClosed{handle});
}

void DataChannels::detach() {
  for (auto& [handle, c] : channels_)
    events_.push_back(event::ChannelClosed{handle});
  channels_.clear();
  streams_.clear();
}

Result<ChannelInfo*> DataChannels::open_channel(uint16_t id, sctp::SctpAssociation* sctp) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return Error{Errc::not_found, "no such data channel"};
  ChannelInfo& c = it->second;
  if (c.state != ChannelState::open || !sctp) return Error{Errc::invalid_state, "channel not open"};
  return &c;
}

Status DataChannels::send(Instant now, uint16_t id, ByteView data, bool binary,
                          sctp::SctpAssociation* sctp) {
  auto c = open_channel(id, sctp);
  if (!c) return c.error();
  // RFC 8831 section 6.6: SCTP cannot carry an empty message; a PPID of its own says so.
  uint32_t ppid = static_cast<uint32_t>(message_ppid(binary, data.empty()));
  ByteView payload = data.empty() ? empty_message_payload() : data;
  Status s = sctp->send(now, *(*c)->stream, ppid, payload, send_options((*c)->params));
  if (s) {
    ++(*c)->messages_sent;
    (*c)->bytes_sent += data.size();
  }
  return s;
}

Status DataChannels::send(Instant now, uint16_t id, SharedBytes data, bool binary,
                          sctp::SctpAssociation* sctp) {
  if (!data || data->empty()) return send(now, id, ByteView{}, binary, sctp);
  auto c = open_channel(id, sctp);
  if (!c) return c.error();
  size_t size = data->size();
  uint32_t ppid = static_cast<uint32_t>(message_ppid(binary, false));
  Status s = sctp->send(now, *(*c)->stream, ppid, std::move(data), send_options((*c)->params));
  if (s) {
    ++(*c)->messages_sent;
    (*c)->bytes_sent += size;
  }
  return s;
}

Status DataChannels::close(Instant now, uint16_t id, sctp::SctpAssociation* sctp) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return Error{Errc::not_found, "no such data channel"};
  ChannelInfo& c = it->second;
  if (c.state == ChannelState::closing) return {};
  if (!sctp || !c.stream || c.state == ChannelState::connecting) {
    if (c.stream) streams_.erase(*c.stream);
    channels_.erase(it);
    events_.push_back(event::ChannelClosed{id});
    return {};
  }
  c.state = ChannelState::closing;
  uint16_t stream = *c.stream;
  return sctp->reset_streams(now, std::span<const uint16_t>(&stream, 1));
}

std::optional<DataChannelEvent> DataChannels::poll_event() {
  if (events_.empty()) return std::nullopt;
  DataChannelEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

const ChannelInfo* DataChannels::find(uint16_t id) const {
  auto it = channels_.find(id);
  return it == channels_.end() ? nullptr : &it->second;
}

}  // namespace cellrtc::datachannel
