#include "core/dtls/client_hello_reassembler.h"

#include <algorithm>

namespace cellrtc::dtls {

std::optional<Bytes> ClientHelloReassembler::process(Instant now, ByteView datagram) {
  expire(now);
  // First pass: is there anything to do? Most datagrams are left alone without a copy.
  bool any = false;
  {
    RecordReader records(datagram);
    while (auto r = records.next()) {
      if (!*r) return std::nullopt;
      const Record& rec = r->value();
      if (rec.header.content_type != static_cast<uint8_t>(ContentType::handshake) ||
          rec.header.epoch != 0)
        continue;
      HandshakeReader fragments(rec.payload);
      while (auto f = fragments.next()) {
        if (!*f) break;
        if (f->value().msg_type == kClientHello && !f->value().is_whole()) any = true;
      }
    }
  }
  if (!any) return std::nullopt;

  Bytes out;
  out.reserve(datagram.size());
  RecordReader records(datagram);
  while (auto r = records.next()) {
    const Record& rec = r->value();  // the first pass saw every record parse
    bool take = false;
    if (rec.header.content_type == static_cast<uint8_t>(ContentType::handshake) &&
        rec.header.epoch == 0) {
      HandshakeReader fragments(rec.payload);
      while (auto f = fragments.next()) {
        if (!*f) break;
        if (f->value().msg_type == kClientHello && !f->value().is_whole()) take = true;
      }
    }
    if (!take) {
      write_record(out, rec.header, rec.payload);
      continue;
    }
    // A record holding ClientHello fragments is consumed whole: in flight 1 nothing else
    // belongs in it (RFC 6347 section 4.2.4), so any other message beside them is dropped.
    HandshakeReader fragments(rec.payload);
    while (auto f = fragments.next()) {
      if (!*f) break;
      const HandshakeFragment& frag = f->value();
      if (frag.msg_type != kClientHello) continue;
      if (auto whole = add(now, rec.header, frag))
        out.insert(out.end(), whole->begin(), whole->end());
    }
  }
  return out;
}

std::optional<Bytes> ClientHelloReassembler::add(Instant now, const RecordHeader& record,
                                                 const HandshakeFragment& fragment) {
  ++stats_.fragments;
  if (fragment.length > config_.max_message) {
    ++stats_.oversized;
    return std::nullopt;
  }
  if (active_ && (fragment.message_seq != message_seq_ || fragment.length != length_)) {
    // RFC 6347 section 4.2.2: a lower message_seq is an old message, ignored; a new one (a
    // ClientHello after HelloVerifyRequest, or a client that started over) replaces ours.
    if (fragment.message_seq < message_seq_) return std::nullopt;
    ++stats_.abandoned;
    reset();
  }
  if (!active_) {
    active_ = true;
    started_ = now;
    message_seq_ = fragment.message_seq;
    length_ = fragment.length;
    first_record_ = record;
    lowest_sequence_ = record.sequence;
    body_.assign(length_, 0);
    have_.assign((length_ + 7) / 8, 0);
    received_ = 0;
  }
  // The rebuilt record takes the lowest sequence number of the records it came from: the
  // client's later records are numbered above all of them, so none of those can look like a
  // replay of it (RFC 6347 section 4.1.2.6).
  lowest_sequence_ = std::min(lowest_sequence_, record.sequence);
  for (uint32_t i = 0; i < fragment.fragment_length; ++i) {
    uint32_t at = fragment.fragment_offset + i;
    uint8_t bit = static_cast<uint8_t>(1u << (at % 8));
    if (have_[at / 8] & bit) continue;  // overlaps keep the first copy
    have_[at / 8] |= bit;
    body_[at] = fragment.body[i];
    ++received_;
  }
  if (received_ < length_) return std::nullopt;

  Bytes payload;
  payload.reserve(kHandshakeHeaderSize + length_);
  HandshakeFragment whole;
  whole.msg_type = kClientHello;
  whole.length = length_;
  whole.message_seq = message_seq_;
  whole.fragment_offset = 0;
  whole.fragment_length = length_;
  whole.body = body_;
  write_handshake_fragment(payload, whole);
  RecordHeader header = first_record_;
  header.sequence = lowest_sequence_;
  Bytes out;
  out.reserve(kRecordHeaderSize + payload.size());
  write_record(out, header, payload);
  ++stats_.reassembled;
  reset();
  return out;
}

std::optional<Instant> ClientHelloReassembler::deadline() const {
  if (!active_) return std::nullopt;
  return started_ + config_.timeout;
}

void ClientHelloReassembler::expire(Instant now) {
  if (active_ && now >= started_ + config_.timeout) {
    ++stats_.abandoned;
    reset();
  }
}

void ClientHelloReassembler::reset() {
  active_ = false;
  received_ = 0;
  length_ = 0;
  Bytes().swap(body_);
  Bytes().swap(have_);
}

}  // namespace cellrtc::dtls
