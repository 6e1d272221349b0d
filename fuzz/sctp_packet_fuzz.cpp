// Fuzzes the SCTP packet codec: the packet walk (with and without the checksum) and every
// typed chunk parser. A chunk that parses must encode into something that parses again.
#include <cstdint>
#include <cstdlib>

#include "core/sctp/crc32c.h"
#include "core/sctp/sctp_packet.h"

using namespace cellrtc;
using namespace cellrtc::sctp;

namespace {

template <class C>
void reparse(const C& chunk) {
  PacketBuilder b(1, 2, 3, kMaxPacketSize);
  b.add(chunk);
  Bytes out = b.finish();
  auto p = parse_packet(out);
  if (!p.ok() || p->chunks.size() != 1) std::abort();
  if (!C::parse(p->chunks[0]).ok()) std::abort();
}

void check_chunk(const RawChunk& c) {
  switch (static_cast<ChunkType>(c.type)) {
    case ChunkType::data:
      if (auto d = DataChunk::parse(c)) reparse(*d);
      break;
    case ChunkType::init:
    case ChunkType::init_ack:
      if (auto i = InitChunk::parse(c)) {
        PacketBuilder b(1, 2, 3, kMaxPacketSize);
        b.add_init(*i, static_cast<ChunkType>(c.type));
        Bytes out = b.finish();
        auto p = parse_packet(out);
        if (!p.ok() || !InitChunk::parse(p->chunks.at(0)).ok()) std::abort();
      }
      break;
    case ChunkType::sack:
      if (auto s = SackChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::heartbeat:
    case ChunkType::heartbeat_ack:
      if (auto h = HeartbeatChunk::parse(c)) reparse(*h);
      break;
    case ChunkType::abort:
      if (auto a = AbortChunk::parse(c)) reparse(*a);
      break;
    case ChunkType::error:
      if (auto e = ErrorChunk::parse(c)) reparse(*e);
      break;
    case ChunkType::shutdown:
      if (auto s = ShutdownChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::shutdown_ack:
      if (auto s = ShutdownAckChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::shutdown_complete:
      if (auto s = ShutdownCompleteChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::cookie_echo:
      if (auto s = CookieEchoChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::cookie_ack:
      if (auto s = CookieAckChunk::parse(c)) reparse(*s);
      break;
    case ChunkType::forward_tsn:
      if (auto f = ForwardTsnChunk::parse(c)) reparse(*f);
      break;
    case ChunkType::reconfig:
      if (auto r = ReconfigChunk::parse(c)) reparse(*r);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView input(data, size);
  (void)parse_packet(input);
  auto p = parse_packet(input, /*verify_checksum=*/false);
  if (!p.ok()) return 0;
  if (p->chunks.size() > kMaxChunksPerPacket) std::abort();
  for (const RawChunk& c : p->chunks) {
    if (c.value.data() < data || c.value.data() + c.value.size() > data + size) std::abort();
    check_chunk(c);
  }
  return 0;
}
