// SCTP packet codec (RFC 9260 section 3): the common header, chunk iteration, and each chunk
// type a WebRTC data channel needs as a typed struct with parse and encode. Also FORWARD-TSN
// (RFC 3758), RE-CONFIG (RFC 6525) and the INIT parameters of RFC 5061 and RFC 3758.
//
//   auto packet = parse_packet(bytes);                  // header, checksum, chunk boundaries
//   for (const RawChunk& c : packet->chunks)
//     if (c.type == ChunkType::data) auto data = DataChunk::parse(c);
//
//   PacketBuilder b(src_port, dst_port, peer_tag, mtu);
//   b.add(SackChunk{...});                              // false when it does not fit
//   Bytes wire = b.finish();                            // with the CRC32c
//
// Parsers never read outside their input, bound every count they allocate for, and report
// failures as Errc plus a literal reason. Parsed structs that carry payloads (DATA, cookies,
// heartbeat info) hold views into the packet, valid as long as its bytes are.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::sctp {

// Bounds on what a packet may make the parser allocate or walk.
inline constexpr size_t kMaxPacketSize = 65536;
inline constexpr size_t kMaxChunksPerPacket = 128;
inline constexpr size_t kMaxInitParameters = 32;
inline constexpr size_t kMaxErrorCauses = 16;
inline constexpr size_t kCommonHeaderSize = 12;
inline constexpr size_t kChunkHeaderSize = 4;
inline constexpr size_t kDataChunkHeaderSize = 16;

// RFC 9260 section 3.2, RFC 3758 section 3.2, RFC 6525 section 3.1.
enum class ChunkType : uint8_t {
  data = 0,
  init = 1,
  init_ack = 2,
  sack = 3,
  heartbeat = 4,
  heartbeat_ack = 5,
  abort = 6,
  shutdown = 7,
  shutdown_ack = 8,
  error = 9,
  cookie_echo = 10,
  cookie_ack = 11,
  shutdown_complete = 14,
  reconfig = 130,
  forward_tsn = 192,
};

// RFC 9260 section 3.3.10 error cause codes used here.
enum class CauseCode : uint16_t {
  invalid_stream = 1,
  missing_parameter = 2,
  stale_cookie = 3,
  out_of_resource = 4,
  unrecognized_chunk = 6,
  no_user_data = 9,
  protocol_violation = 13,
  user_initiated_abort = 12,
};

struct CommonHeader {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t verification_tag = 0;
};

// A chunk as found in the packet: `value` excludes the 4-byte header and the padding.
struct RawChunk {
  uint8_t type = 0;
  uint8_t flags = 0;
  ByteView value;
};

struct Packet {
  CommonHeader header;
  std::vector<RawChunk> chunks;
};

// Checks the length, the checksum (unless told not to) and that the chunks tile the packet.
Result<Packet> parse_packet(ByteView packet, bool verify_checksum = true);

// RFC 9260 section 3.3.1.
struct DataChunk {
  static constexpr uint8_t kEnding = 0x01, kBeginning = 0x02, kUnordered = 0x04, kImmediate = 0x08;
  uint32_t tsn = 0;
  uint16_t stream = 0;
  uint16_t ssn = 0;
  uint32_t ppid = 0;
  bool unordered = false;
  bool beginning = false;
  bool ending = false;
  bool immediate = false;  // RFC 7053 I bit
  ByteView payload;

  static Result<DataChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
  size_t encoded_size() const { return kDataChunkHeaderSize + ((payload.size() + 3) & ~size_t{3}); }
};

// RFC 9260 sections 3.3.2 and 3.3.3: INIT and INIT ACK share their fixed part; the state
// cookie appears only in INIT ACK.
struct InitChunk {
  uint32_t initiate_tag = 0;
  uint32_t a_rwnd = 0;
  uint16_t outbound_streams = 0;
  uint16_t inbound_streams = 0;
  uint32_t initial_tsn = 0;
  // RFC 3758 section 3.1 Forward-TSN-Supported parameter.
  bool forward_tsn_supported = false;
  // RFC 5061 section 4.2.7 Supported Extensions parameter: chunk types listed.
  std::vector<uint8_t> supported_extensions;
  std::optional<ByteView> state_cookie;  // INIT ACK only (parameter 7)

  bool supports(ChunkType type) const;
  static Result<InitChunk> parse(const RawChunk& chunk);
  // `type` is init or init_ack.
  void encode(Bytes& out, ChunkType type) const;
};

struct GapAckBlock {
  uint16_t start = 0;  // offsets from the cumulative TSN ack
  uint16_t end = 0;
  bool operator==(const GapAckBlock&) const = default;
};

// RFC 9260 section 3.3.4.
struct SackChunk {
  uint32_t cumulative_tsn_ack = 0;
  uint32_t a_rwnd = 0;
  std::vector<GapAckBlock> gap_blocks;
  std::vector<uint32_t> duplicate_tsns;

  static Result<SackChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 9260 sections 3.3.5 and 3.3.6: the Heartbeat Info parameter is opaque to the peer.
struct HeartbeatChunk {
  bool ack = false;  // HEARTBEAT ACK
  ByteView info;

  static Result<HeartbeatChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

struct ErrorCause {
  uint16_t code = 0;
  ByteView info;
};

// RFC 9260 sections 3.3.7 (ABORT) and 3.3.10 (ERROR): a list of causes.
struct AbortChunk {
  bool tag_reflected = false;  // T bit
  std::vector<ErrorCause> causes;

  static Result<AbortChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

struct ErrorChunk {
  std::vector<ErrorCause> causes;

  static Result<ErrorChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 9260 section 3.3.8.
struct ShutdownChunk {
  uint32_t cumulative_tsn_ack = 0;

  static Result<ShutdownChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 9260 sections 3.3.9, 3.3.12 (COOKIE ACK) and 3.3.13: chunks with no value.
struct ShutdownAckChunk {
  static Result<ShutdownAckChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};
struct CookieAckChunk {
  static Result<CookieAckChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};
struct ShutdownCompleteChunk {
  bool tag_reflected = false;
  static Result<ShutdownCompleteChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 9260 section 3.3.11.
struct CookieEchoChunk {
  ByteView cookie;

  static Result<CookieEchoChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 3758 section 3.2.
struct ForwardTsnChunk {
  struct Skipped {
    uint16_t stream = 0;
    uint16_t ssn = 0;
    bool operator==(const Skipped&) const = default;
  };
  uint32_t new_cumulative_tsn = 0;
  std::vector<Skipped> skipped;

  static Result<ForwardTsnChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// RFC 6525 section 4.1.
struct OutgoingResetRequest {
  uint32_t request_sequence = 0;
  uint32_t response_sequence = 0;
  uint32_t last_tsn = 0;  // sender's last assigned TSN
  std::vector<uint16_t> streams;
};
// RFC 6525 section 4.2.
struct IncomingResetRequest {
  uint32_t request_sequence = 0;
  std::vector<uint16_t> streams;
};
// RFC 6525 sections 4.3, 4.5, 4.6: requests this stack declines; only their sequence number
// matters, to answer them.
struct OtherReconfigRequest {
  uint16_t type = 0;
  uint32_t request_sequence = 0;
};
// RFC 6525 section 4.4.
struct ReconfigResponse {
  enum Result : uint32_t {
    success_nothing_to_do = 0,
    success_performed = 1,
    denied = 2,
    error_wrong_ssn = 3,
    error_in_progress = 4,
    error_bad_sequence = 5,
    in_progress = 6,
  };
  uint32_t response_sequence = 0;
  uint32_t result = 0;
};
using ReconfigParameter = std::variant<OutgoingResetRequest, IncomingResetRequest,
                                       OtherReconfigRequest, ReconfigResponse>;

// RFC 6525 section 3.1: one or two parameters.
struct ReconfigChunk {
  std::vector<ReconfigParameter> parameters;

  static Result<ReconfigChunk> parse(const RawChunk& chunk);
  void encode(Bytes& out) const;
};

// Builds one packet: chunks are appended while they fit in `max_size` bytes.
class PacketBuilder {
 public:
  PacketBuilder(uint16_t source_port, uint16_t destination_port, uint32_t verification_tag,
                size_t max_size);
  size_t size() const { return out_.size(); }
  size_t remaining() const { return out_.size() < max_ ? max_ - out_.size() : 0; }
  bool has_chunks() const { return out_.size() > kCommonHeaderSize; }
  // Appends the chunk if the packet stays within its size; returns whether it did. A chunk
  // alone in a packet is always taken, so an oversized control chunk still goes out.
  template <class C>
  bool add(const C& chunk) {
    size_t before = out_.size();
    chunk.encode(out_);
    return keep(before);
  }
  bool add_init(const InitChunk& chunk, ChunkType type) {
    size_t before = out_.size();
    chunk.encode(out_, type);
    return keep(before);
  }
  // The packet with its checksum; the builder is empty afterwards.
  Bytes finish();

 private:
  bool keep(size_t before);
  Bytes out_;
  size_t max_;
};

}  // namespace cellrtc::sctp
