#include "core/dtls/record.h"

namespace cellrtc::dtls {

std::optional<Result<Record>> RecordReader::next() {
  if (failed_ || reader_.empty()) return std::nullopt;
  failed_ = true;  // until the record is read whole
  if (reader_.remaining() < kRecordHeaderSize)
    return Result<Record>(Error{Errc::truncated, "DTLS record header truncated"});
  Record r;
  r.header.content_type = reader_.u8();
  r.header.version = reader_.u16();
  r.header.epoch = reader_.u16();
  r.header.sequence = (uint64_t{reader_.u16()} << 32) | reader_.u32();
  r.header.length = reader_.u16();
  if (r.header.length > kMaxRecordPayload)
    return Result<Record>(Error{Errc::limit_exceeded, "DTLS record longer than 2^14 + 2048"});
  if (reader_.remaining() < r.header.length)
    return Result<Record>(Error{Errc::truncated, "DTLS record runs past the datagram"});
  r.payload = reader_.take(r.header.length);
  failed_ = false;
  return Result<Record>(r);
}

void write_record(Bytes& out, const RecordHeader& header, ByteView payload) {
  ByteWriter w(out);
  w.u8(header.content_type);
  w.u16(header.version);
  w.u16(header.epoch);
  w.u16(static_cast<uint16_t>(header.sequence >> 32));
  w.u32(static_cast<uint32_t>(header.sequence));
  w.u16(static_cast<uint16_t>(payload.size()));
  w.bytes(payload);
}

namespace {
uint32_t u24(ByteReader& r) {
  uint32_t hi = r.u8();
  return (hi << 16) | r.u16();
}
void put_u24(ByteWriter& w, uint32_t v) {
  w.u8(static_cast<uint8_t>(v >> 16));
  w.u16(static_cast<uint16_t>(v));
}
}  // namespace

std::optional<Result<HandshakeFragment>> HandshakeReader::next() {
  if (failed_ || reader_.empty()) return std::nullopt;
  failed_ = true;
  if (reader_.remaining() < kHandshakeHeaderSize)
    return Result<HandshakeFragment>(Error{Errc::truncated, "DTLS handshake header truncated"});
  HandshakeFragment f;
  f.msg_type = reader_.u8();
  f.length = u24(reader_);
  f.message_seq = reader_.u16();
  f.fragment_offset = u24(reader_);
  f.fragment_length = u24(reader_);
  // RFC 6347 section 4.2.3: a fragment lies within its message.
  if (f.fragment_offset > f.length || f.fragment_length > f.length - f.fragment_offset)
    return Result<HandshakeFragment>(
        Error{Errc::malformed, "DTLS handshake fragment lies outside its message"});
  if (reader_.remaining() < f.fragment_length)
    return Result<HandshakeFragment>(
        Error{Errc::truncated, "DTLS handshake fragment runs past its record"});
  f.body = reader_.take(f.fragment_length);
  failed_ = false;
  return Result<HandshakeFragment>(f);
}

void write_handshake_fragment(Bytes& out, const HandshakeFragment& fragment) {
  ByteWriter w(out);
  w.u8(fragment.msg_type);
  put_u24(w, fragment.length);
  w.u16(fragment.message_seq);
  put_u24(w, fragment.fragment_offset);
  put_u24(w, static_cast<uint32_t>(fragment.body.size()));
  w.bytes(fragment.body);
}

}  // namespace cellrtc::dtls
