#include "core/sctp/sctp_packet.h"

#include <algorithm>

#include "core/sctp/crc32c.h"

namespace cellrtc::sctp {
namespace {

constexpr Error truncated(const char* reason) {
  return {Errc::truncated, reason};
}
constexpr Error malformed(const char* reason) {
  return {Errc::malformed, reason};
}

// Writes a chunk header, then patches its length and pads to 4 bytes (RFC 9260 3.2: the
// length excludes the padding).
class ChunkWriter {
 public:
  ChunkWriter(Bytes& out, uint8_t type, uint8_t flags) : out_(out), w_(out), start_(out.size()) {
    w_.u8(type);
    w_.u8(flags);
    w_.u16(0);
  }
  ByteWriter& w() { return w_; }
  ~ChunkWriter() {
    size_t length = out_.size() - start_;
    w_.patch_u16(start_ + 2, static_cast<uint16_t>(length));
    w_.zeros((4 - length % 4) % 4);
  }

 private:
  Bytes& out_;
  ByteWriter w_;
  size_t start_;
};

// TLV parameters (RFC 9260 section 3.2.1), padded to 4 bytes.
void write_parameter(ByteWriter& w, uint16_t type, ByteView value) {
  w.u16(type);
  w.u16(static_cast<uint16_t>(4 + value.size()));
  w.bytes(value);
  w.zeros((4 - value.size() % 4) % 4);
}

struct Parameter {
  uint16_t type;
  ByteView value;
};

// Walks parameters; the last one may lack its padding (RFC 9260 3.2: a receiver tolerates it).
Result<std::vector<Parameter>> parse_parameters(ByteView data, size_t limit) {
  std::vector<Parameter> out;
  size_t pos = 0;
  while (pos < data.size()) {
    if (out.size() >= limit) return Error{Errc::limit_exceeded, "too many parameters"};
    if (data.size() - pos < 4) return truncated("parameter header truncated");
    uint16_t type = load_be16(&data[pos]);
    uint16_t length = load_be16(&data[pos + 2]);
    if (length < 4) return malformed("parameter length below 4");
    if (length > data.size() - pos) return truncated("parameter runs past the chunk");
    out.push_back({type, data.subspan(pos + 4, length - 4)});
    pos += (size_t{length} + 3) & ~size_t{3};
  }
  return out;
}

Result<std::vector<ErrorCause>> parse_causes(ByteView data) {
  auto params = parse_parameters(data, kMaxErrorCauses);
  if (!params) return params.error();
  std::vector<ErrorCause> out;
  for (const Parameter& p : *params)
    out.push_back({p.type, p.value});
  return out;
}

void write_causes(ByteWriter& w, const std::vector<ErrorCause>& causes) {
  for (const ErrorCause& c : causes)
    write_parameter(w, c.code, c.info);
}

constexpr uint16_t kParamStateCookie = 7;
constexpr uint16_t kParamSupportedExtensions = 0x8008;
constexpr uint16_t kParamForwardTsnSupported = 0xC000;
constexpr uint16_t kParamOutgoingReset = 13;
constexpr uint16_t kParamIncomingReset = 14;
constexpr uint16_t kParamReconfigResponse = 16;

}  // namespace

Result<Packet> parse_packet(ByteView data, bool verify_checksum) {
  if (data.size() < kCommonHeaderSize) return truncated("SCTP packet shorter than its header");
  if (data.size() > kMaxPacketSize) return Error{Errc::limit_exceeded, "SCTP packet too large"};
  if (verify_checksum && !verify_sctp_checksum(data))
    return Error{Errc::integrity, "SCTP checksum mismatch"};
  Packet packet;
  packet.header.source_port = load_be16(&data[0]);
  packet.header.destination_port = load_be16(&data[2]);
  packet.header.verification_tag = load_be32(&data[4]);
  size_t pos = kCommonHeaderSize;
  while (pos < data.size()) {
    if (packet.chunks.size() >= kMaxChunksPerPacket)
      return Error{Errc::limit_exceeded, "too many chunks in packet"};
    if (data.size() - pos < kChunkHeaderSize) return truncated("chunk header truncated");
    uint16_t length = load_be16(&data[pos + 2]);
    if (length < kChunkHeaderSize) return malformed("chunk length below 4");
    if (length > data.size() - pos) return truncated("chunk runs past the packet");
    packet.chunks.push_back({data[pos], data[pos + 1],
                             data.subspan(pos + kChunkHeaderSize, length - kChunkHeaderSize)});
    pos += (size_t{length} + 3) & ~size_t{3};
  }
  if (packet.chunks.empty()) return malformed("SCTP packet without chunks");
  return packet;
}

// --- DATA

Result<DataChunk> DataChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::data)) return malformed("not a DATA chunk");
  if (chunk.value.size() < 12) return truncated("DATA chunk shorter than its header");
  ByteReader r(chunk.value);
  DataChunk d;
  d.tsn = r.u32();
  d.stream = r.u16();
  d.ssn = r.u16();
  d.ppid = r.u32();
  d.payload = r.rest();
  d.unordered = chunk.flags & kUnordered;
  d.beginning = chunk.flags & kBeginning;
  d.ending = chunk.flags & kEnding;
  d.immediate = chunk.flags & kImmediate;
  // RFC 9260 section 6.2: a DATA chunk with no user data is a protocol error.
  if (d.payload.empty()) return malformed("DATA chunk without user data");
  return d;
}

void DataChunk::encode(Bytes& out) const {
  uint8_t flags = (unordered ? kUnordered : 0) | (beginning ? kBeginning : 0) |
                  (ending ? kEnding : 0) | (immediate ? kImmediate : 0);
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::data), flags);
  c.w().u32(tsn);
  c.w().u16(stream);
  c.w().u16(ssn);
  c.w().u32(ppid);
  c.w().bytes(payload);
}

// --- INIT / INIT ACK

bool InitChunk::supports(ChunkType type) const {
  return std::find(supported_extensions.begin(), supported_extensions.end(),
                   static_cast<uint8_t>(type)) != supported_extensions.end();
}

Result<InitChunk> InitChunk::parse(const RawChunk& chunk) {
  bool ack = chunk.type == static_cast<uint8_t>(ChunkType::init_ack);
  if (chunk.type != static_cast<uint8_t>(ChunkType::init) && !ack)
    return malformed("not an INIT or INIT ACK chunk");
  if (chunk.value.size() < 16) return truncated("INIT chunk shorter than its fixed part");
  ByteReader r(chunk.value);
  InitChunk init;
  init.initiate_tag = r.u32();
  init.a_rwnd = r.u32();
  init.outbound_streams = r.u16();
  init.inbound_streams = r.u16();
  init.initial_tsn = r.u32();
  // RFC 9260 section 3.3.2: a zero tag, or zero stream counts, are protocol violations.
  if (init.initiate_tag == 0) return malformed("INIT with a zero initiate tag");
  if (init.outbound_streams == 0 || init.inbound_streams == 0)
    return malformed("INIT with zero streams");
  auto params = parse_parameters(r.rest(), kMaxInitParameters);
  if (!params) return params.error();
  for (const Parameter& p : *params) {
    switch (p.type) {
      case kParamStateCookie:
        if (!ack) return malformed("state cookie in an INIT");
        init.state_cookie = p.value;
        break;
      case kParamSupportedExtensions:
        init.supported_extensions.assign(p.value.begin(), p.value.end());
        break;
      case kParamForwardTsnSupported:
        init.forward_tsn_supported = true;
        break;
      default:
        // Addresses, ECN, AUTH and unknown parameters: skipped. RFC 9260 section 3.2.1 would
        // have some unknown types stop processing; over DTLS there is nothing they could
        // change for us, so all are skipped.
        break;
    }
  }
  if (ack && !init.state_cookie) return malformed("INIT ACK without a state cookie");
  return init;
}

void InitChunk::encode(Bytes& out, ChunkType type) const {
  ChunkWriter c(out, static_cast<uint8_t>(type), 0);
  c.w().u32(initiate_tag);
  c.w().u32(a_rwnd);
  c.w().u16(outbound_streams);
  c.w().u16(inbound_streams);
  c.w().u32(initial_tsn);
  if (type == ChunkType::init_ack && state_cookie)
    write_parameter(c.w(), kParamStateCookie, *state_cookie);
  if (!supported_extensions.empty())
    write_parameter(c.w(), kParamSupportedExtensions, supported_extensions);
  if (forward_tsn_supported) write_parameter(c.w(), kParamForwardTsnSupported, {});
}

// --- SACK

Result<SackChunk> SackChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::sack)) return malformed("not a SACK chunk");
  if (chunk.value.size() < 12) return truncated("SACK chunk shorter than its fixed part");
  ByteReader r(chunk.value);
  SackChunk s;
  s.cumulative_tsn_ack = r.u32();
  s.a_rwnd = r.u32();
  uint16_t gaps = r.u16();
  uint16_t dups = r.u16();
  // The counts are bounded by the chunk's length, itself bounded by the packet's.
  if (size_t{gaps} * 4 + size_t{dups} * 4 > r.remaining())
    return truncated("SACK counts exceed its length");
  s.gap_blocks.reserve(gaps);
  for (uint16_t i = 0; i < gaps; ++i) {
    GapAckBlock g;
    g.start = r.u16();
    g.end = r.u16();
    if (g.start == 0 || g.end < g.start) return malformed("SACK gap block out of order");
    s.gap_blocks.push_back(g);
  }
  s.duplicate_tsns.reserve(dups);
  for (uint16_t i = 0; i < dups; ++i)
    s.duplicate_tsns.push_back(r.u32());
  return s;
}

void SackChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::sack), 0);
  c.w().u32(cumulative_tsn_ack);
  c.w().u32(a_rwnd);
  c.w().u16(static_cast<uint16_t>(gap_blocks.size()));
  c.w().u16(static_cast<uint16_t>(duplicate_tsns.size()));
  for (const GapAckBlock& g : gap_blocks) {
    c.w().u16(g.start);
    c.w().u16(g.end);
  }
  for (uint32_t t : duplicate_tsns)
    c.w().u32(t);
}

// --- HEARTBEAT / HEARTBEAT ACK

Result<HeartbeatChunk> HeartbeatChunk::parse(const RawChunk& chunk) {
  HeartbeatChunk h;
  h.ack = chunk.type == static_cast<uint8_t>(ChunkType::heartbeat_ack);
  if (chunk.type != static_cast<uint8_t>(ChunkType::heartbeat) && !h.ack)
    return malformed("not a HEARTBEAT chunk");
  auto params = parse_parameters(chunk.value, 4);
  if (!params) return params.error();
  // RFC 9260 section 3.3.5: exactly the Heartbeat Info parameter (type 1).
  if (params->size() != 1 || (*params)[0].type != 1)
    return malformed("HEARTBEAT without its info parameter");
  h.info = (*params)[0].value;
  return h;
}

void HeartbeatChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ack ? ChunkType::heartbeat_ack : ChunkType::heartbeat),
                0);
  write_parameter(c.w(), 1, info);
}

// --- ABORT / ERROR

Result<AbortChunk> AbortChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::abort)) return malformed("not an ABORT chunk");
  auto causes = parse_causes(chunk.value);
  if (!causes) return causes.error();
  AbortChunk a;
  a.tag_reflected = chunk.flags & 1;
  a.causes = std::move(*causes);
  return a;
}

void AbortChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::abort), tag_reflected ? 1 : 0);
  write_causes(c.w(), causes);
}

Result<ErrorChunk> ErrorChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::error)) return malformed("not an ERROR chunk");
  auto causes = parse_causes(chunk.value);
  if (!causes) return causes.error();
  return ErrorChunk{std::move(*causes)};
}

void ErrorChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::error), 0);
  write_causes(c.w(), causes);
}

// --- SHUTDOWN family, COOKIE ACK

Result<ShutdownChunk> ShutdownChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::shutdown))
    return malformed("not a SHUTDOWN chunk");
  if (chunk.value.size() < 4) return truncated("SHUTDOWN chunk truncated");
  return ShutdownChunk{load_be32(chunk.value.data())};
}

void ShutdownChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::shutdown), 0);
  c.w().u32(cumulative_tsn_ack);
}

Result<ShutdownAckChunk> ShutdownAckChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::shutdown_ack))
    return malformed("not a SHUTDOWN ACK chunk");
  return ShutdownAckChunk{};
}
void ShutdownAckChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::shutdown_ack), 0);
}

Result<CookieAckChunk> CookieAckChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::cookie_ack))
    return malformed("not a COOKIE ACK chunk");
  return CookieAckChunk{};
}
void CookieAckChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::cookie_ack), 0);
}

Result<ShutdownCompleteChunk> ShutdownCompleteChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::shutdown_complete))
    return malformed("not a SHUTDOWN COMPLETE chunk");
  return ShutdownCompleteChunk{static_cast<bool>(chunk.flags & 1)};
}
void ShutdownCompleteChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::shutdown_complete), tag_reflected ? 1 : 0);
}

// --- COOKIE ECHO

Result<CookieEchoChunk> CookieEchoChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::cookie_echo))
    return malformed("not a COOKIE ECHO chunk");
  if (chunk.value.empty()) return malformed("COOKIE ECHO without a cookie");
  return CookieEchoChunk{chunk.value};
}

void CookieEchoChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::cookie_echo), 0);
  c.w().bytes(cookie);
}

// --- FORWARD TSN

Result<ForwardTsnChunk> ForwardTsnChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::forward_tsn))
    return malformed("not a FORWARD TSN chunk");
  if (chunk.value.size() < 4) return truncated("FORWARD TSN chunk truncated");
  if (chunk.value.size() % 4 != 0) return malformed("FORWARD TSN stream list misaligned");
  ByteReader r(chunk.value);
  ForwardTsnChunk f;
  f.new_cumulative_tsn = r.u32();
  f.skipped.reserve(r.remaining() / 4);
  while (r.remaining() >= 4) {
    ForwardTsnChunk::Skipped s;
    s.stream = r.u16();
    s.ssn = r.u16();
    f.skipped.push_back(s);
  }
  return f;
}

void ForwardTsnChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::forward_tsn), 0);
  c.w().u32(new_cumulative_tsn);
  for (const Skipped& s : skipped) {
    c.w().u16(s.stream);
    c.w().u16(s.ssn);
  }
}

// --- RE-CONFIG

Result<ReconfigChunk> ReconfigChunk::parse(const RawChunk& chunk) {
  if (chunk.type != static_cast<uint8_t>(ChunkType::reconfig))
    return malformed("not a RE-CONFIG chunk");
  auto params = parse_parameters(chunk.value, 2);
  if (!params) return params.error();
  if (params->empty()) return malformed("RE-CONFIG without parameters");
  ReconfigChunk rc;
  for (const Parameter& p : *params) {
    ByteReader r(p.value);
    switch (p.type) {
      case kParamOutgoingReset: {
        if (p.value.size() < 12 || p.value.size() % 2 != 0)
          return malformed("outgoing reset request length");
        OutgoingResetRequest q;
        q.request_sequence = r.u32();
        q.response_sequence = r.u32();
        q.last_tsn = r.u32();
        while (r.remaining() >= 2)
          q.streams.push_back(r.u16());
        rc.parameters.push_back(std::move(q));
        break;
      }
      case kParamIncomingReset: {
        if (p.value.size() < 4 || p.value.size() % 2 != 0)
          return malformed("incoming reset request length");
        IncomingResetRequest q;
        q.request_sequence = r.u32();
        while (r.remaining() >= 2)
          q.streams.push_back(r.u16());
        rc.parameters.push_back(std::move(q));
        break;
      }
      case kParamReconfigResponse: {
        if (p.value.size() != 8 && p.value.size() != 16)
          return malformed("re-configuration response length");
        ReconfigResponse q;
        q.response_sequence = r.u32();
        q.result = r.u32();
        rc.parameters.push_back(q);
        break;
      }
      case 15:  // SSN/TSN reset
      case 17:  // add outgoing streams
      case 18:  // add incoming streams
        if (p.value.size() < 4) return malformed("re-configuration request length");
        rc.parameters.push_back(OtherReconfigRequest{p.type, r.u32()});
        break;
      default:
        return malformed("unknown re-configuration parameter");
    }
  }
  return rc;
}

void ReconfigChunk::encode(Bytes& out) const {
  ChunkWriter c(out, static_cast<uint8_t>(ChunkType::reconfig), 0);
  for (const ReconfigParameter& param : parameters) {
    Bytes value;
    ByteWriter v(value);
    uint16_t type = 0;
    if (auto* outgoing = std::get_if<OutgoingResetRequest>(&param)) {
      type = kParamOutgoingReset;
      v.u32(outgoing->request_sequence);
      v.u32(outgoing->response_sequence);
      v.u32(outgoing->last_tsn);
      for (uint16_t s : outgoing->streams)
        v.u16(s);
    } else if (auto* in = std::get_if<IncomingResetRequest>(&param)) {
      type = kParamIncomingReset;
      v.u32(in->request_sequence);
      for (uint16_t s : in->streams)
        v.u16(s);
    } else if (auto* other = std::get_if<OtherReconfigRequest>(&param)) {
      type = other->type;
      v.u32(other->request_sequence);
      if (type != 15) v.u32(0);  // number of new streams, then reserved
    } else if (auto* resp = std::get_if<ReconfigResponse>(&param)) {
      type = kParamReconfigResponse;
      v.u32(resp->response_sequence);
      v.u32(resp->result);
    }
    write_parameter(c.w(), type, value);
  }
}

// --- packet builder

PacketBuilder::PacketBuilder(uint16_t source_port, uint16_t destination_port,
                             uint32_t verification_tag, size_t max_size)
    : max_(max_size) {
  ByteWriter w(out_);
  w.u16(source_port);
  w.u16(destination_port);
  w.u32(verification_tag);
  w.u32(0);
}

bool PacketBuilder::keep(size_t before) {
  if (out_.size() <= max_ || before == kCommonHeaderSize) return true;
  out_.resize(before);
  return false;
}

Bytes PacketBuilder::finish() {
  Bytes header(out_.begin(), out_.begin() + kCommonHeaderSize);
  write_sctp_checksum(out_);
  Bytes packet = std::move(out_);
  out_ = std::move(header);
  std::fill(out_.begin() + 8, out_.end(), 0);
  return packet;
}

}  // namespace cellrtc::sctp
