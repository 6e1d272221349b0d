// DTLS 1.2 framing (RFC 6347 section 4.1 records, section 4.2.2 handshake fragments): enough to
// read the plaintext records of a datagram and the handshake fragments inside them, and to
// write them back. The crypto lives in mbedTLS; this is what cellrtc needs around it: first-byte
// demultiplexing, reassembly of a fragmented ClientHello, counting flights.
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"

namespace cellrtc::dtls {

// RFC 6347 section 4.1 / RFC 5246 section 6.2.1 ContentType.
enum class ContentType : uint8_t {
  change_cipher_spec = 20,
  alert = 21,
  handshake = 22,
  application_data = 23,
};

// RFC 5246 section 7.4 HandshakeType values cellrtc looks at.
inline constexpr uint8_t kClientHello = 1;

inline constexpr size_t kRecordHeaderSize = 13;     // type, version, epoch, seq(48), length
inline constexpr size_t kHandshakeHeaderSize = 12;  // type, length(24), seq, offset(24), len(24)
// RFC 6347 section 4.1: a record's length must not exceed 2^14 (plus expansion when protected).
inline constexpr size_t kMaxRecordPayload = 16384 + 2048;

// RFC 7983 section 7: a datagram whose first byte is in 20..63 is DTLS (STUN is 0..3, TURN
// ChannelData 64..79, RTP/RTCP 128..191).
inline bool is_dtls_datagram(ByteView datagram) {
  return !datagram.empty() && datagram[0] >= 20 && datagram[0] <= 63;
}

struct RecordHeader {
  uint8_t content_type = 0;
  uint16_t version = 0;  // 0xFEFF DTLS 1.0, 0xFEFD DTLS 1.2
  uint16_t epoch = 0;
  uint64_t sequence = 0;  // 48 bits
  uint16_t length = 0;
};

struct Record {
  RecordHeader header;
  ByteView payload;  // `header.length` bytes, protected when epoch > 0
};

// Reads the records of one datagram in order. A datagram holds one or more records back to
// back (RFC 6347 section 4.1.1); a truncated or oversized record ends the iteration with an
// error (the rest of the datagram is unusable, as its boundaries are lost).
class RecordReader {
 public:
  explicit RecordReader(ByteView datagram) : reader_(datagram) {}
  // nullopt at the end of the datagram.
  std::optional<Result<Record>> next();
  // Offset of the next record in the datagram.
  size_t position() const { return reader_.position(); }

 private:
  ByteReader reader_;
  bool failed_ = false;
};

void write_record(Bytes& out, const RecordHeader& header, ByteView payload);

struct HandshakeFragment {
  uint8_t msg_type = 0;
  uint32_t length = 0;  // of the whole message (24 bits)
  uint16_t message_seq = 0;
  uint32_t fragment_offset = 0;  // 24 bits
  uint32_t fragment_length = 0;  // 24 bits
  ByteView body;                 // fragment_length bytes

  bool is_whole() const { return fragment_offset == 0 && fragment_length == length; }
};

// Reads the handshake fragments of a plaintext (epoch 0) handshake record; a record may carry
// several (RFC 6347 section 4.2.3). Fails on a fragment that runs past the record or past the
// message it belongs to (offset + fragment_length > length).
class HandshakeReader {
 public:
  explicit HandshakeReader(ByteView record_payload) : reader_(record_payload) {}
  std::optional<Result<HandshakeFragment>> next();

 private:
  ByteReader reader_;
  bool failed_ = false;
};

void write_handshake_fragment(Bytes& out, const HandshakeFragment& fragment);

}  // namespace cellrtc::dtls
