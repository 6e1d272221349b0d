#include "core/peer/setup_round_trips.h"

#include "core/datachannel/dcep.h"
#include "core/sctp/sctp_packet.h"

namespace cellrtc::peer {

SetupPacketContent classify_setup_packet(ByteView sctp_packet) {
  SetupPacketContent content;
  // Our own packets: their checksum is right, no need to compute it again.
  auto packet = sctp::parse_packet(sctp_packet, /*verify_checksum=*/false);
  if (!packet) return content;
  for (const sctp::RawChunk& chunk : packet->chunks) {
    switch (static_cast<sctp::ChunkType>(chunk.type)) {
      case sctp::ChunkType::init:
      case sctp::ChunkType::init_ack:
      case sctp::ChunkType::cookie_echo:
      case sctp::ChunkType::cookie_ack:
        content.association_setup = true;
        break;
      case sctp::ChunkType::data:
        if (auto data = sctp::DataChunk::parse(chunk);
            data && data->ppid == static_cast<uint32_t>(datachannel::Ppid::dcep))
          content.dcep = true;
        break;
      default:
        break;
    }
  }
  return content;
}

}  // namespace cellrtc::peer
