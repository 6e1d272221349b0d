// Reassembles a ClientHello that arrives in several handshake fragments (RFC 6347 section 4.2.3)
// before mbedTLS sees it.
//
// mbedTLS 2.28 as a DTLS server parses the ClientHello before it has any reassembly state and
// rejects a fragmented one ("bad client hello message"). Peers do fragment it: browsers whose
// post-quantum key shares make the ClientHello larger than one datagram (Firefox 148+), and
// OpenSSL-based ones (aiortc) which cut even a 245-byte ClientHello into 256-byte records. In
// the server role the transport passes every datagram through this object first: records that
// carry ClientHello fragments are taken out, and once every byte of the message has arrived
// (from any number of records and datagrams, in any order, duplicated or overlapping) one
// record holding the whole, unfragmented ClientHello (fragment_offset 0, fragment_length =
// length) takes their place.
//
// Bounded: one message at a time, at most `max_message` bytes, dropped when it is not complete
// `timeout` after its first fragment.
#pragma once

#include <cstdint>
#include <optional>

#include "core/common/bytes.h"
#include "core/common/result.h"
#include "core/common/time.h"
#include "core/dtls/record.h"

namespace cellrtc::dtls {

struct ClientHelloReassemblerConfig {
  // A post-quantum ClientHello is about 1.9 KB; 16 KB leaves room for what browsers may add.
  // The whole record must also fit mbedTLS's input buffer (MBEDTLS_SSL_IN_CONTENT_LEN), so
  // the transport lowers this to that buffer's size less the handshake header.
  size_t max_message = 16384;
  Duration timeout = seconds(10);
};

struct ClientHelloReassemblerStats {
  uint64_t fragments = 0;    // ClientHello fragments taken out of records
  uint64_t reassembled = 0;  // whole ClientHellos handed on
  uint64_t oversized = 0;    // fragments of a message over max_message, dropped
  uint64_t abandoned = 0;    // partial messages replaced by another or timed out
};

class ClientHelloReassembler {
 public:
  explicit ClientHelloReassembler(ClientHelloReassemblerConfig config = {}) : config_(config) {}

  // Looks at one datagram. nullopt: it holds no fragmented ClientHello, hand it on unchanged.
  // Otherwise the datagram to hand on instead: the other records unchanged, the fragments
  // removed, and the whole ClientHello record where its last fragment was; it may be empty
  // (nothing to hand on yet). A datagram whose framing is broken is handed on unchanged (the
  // TLS library discards it).
  std::optional<Bytes> process(Instant now, ByteView datagram);

  // When the partial message, if any, is given up.
  std::optional<Instant> deadline() const;
  // Drops the partial message if its deadline has passed.
  void expire(Instant now);
  bool in_progress() const { return active_; }
  const ClientHelloReassemblerStats& stats() const { return stats_; }

 private:
  // Adds one fragment; returns the whole record when this fragment completed the message.
  std::optional<Bytes> add(Instant now, const RecordHeader& record,
                           const HandshakeFragment& fragment);
  void reset();

  ClientHelloReassemblerConfig config_;
  bool active_ = false;
  Instant started_;
  uint16_t message_seq_ = 0;
  uint32_t length_ = 0;
  RecordHeader first_record_;     // version and epoch of the record to build
  uint64_t lowest_sequence_ = 0;  // record sequence number the rebuilt record carries
  Bytes body_;
  Bytes have_;  // one bit per body byte
  uint32_t received_ = 0;
  ClientHelloReassemblerStats stats_;
};

}  // namespace cellrtc::dtls
