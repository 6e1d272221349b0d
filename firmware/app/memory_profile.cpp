#include "firmware/app/memory_profile.h"

#include "core/media/frame_header.h"

namespace cellrtc::firmware {

MemoryProfile memory_profile(FrameSize largest) {
  MemoryProfile p{};
  p.largest_frame_message = media::kFrameHeaderSize + camera_jpeg_buffer_bytes(largest);
  // FrameSender passes a frame to SCTP only while the transport holds less than the rate
  // controller's budget (frame_sender.h), so one frame in flight, one being written and some
  // control traffic bound what waits unacknowledged.
  p.sctp_send_buffer = 2 * p.largest_frame_message + 16 * 1024;
  // The device receives pings, set, snapshot and reports of well under 1 KB, and direct-mode
  // offers in parts (core/media/control_message.h limits each message to a few KB).
  p.sctp_receive_window = 32 * 1024;
  p.sctp_max_receive_message = 16 * 1024;
  p.sctp_max_out_of_order_chunks = 256;
  p.sctp_streams = 16;
  return p;
}

bool frame_size_fits_server(FrameSize size) {
  return media::kFrameHeaderSize + camera_jpeg_buffer_bytes(size) <= kServerMaxMessageSize;
}

namespace {
void apply_to(const MemoryProfile& p, sctp::SctpConfig& sctp) {
  sctp.send_buffer_limit = p.sctp_send_buffer;
  sctp.stream_send_buffer_limit = p.sctp_send_buffer;
  sctp.receive_window = p.sctp_receive_window;
  sctp.max_receive_message_size = p.sctp_max_receive_message;
  sctp.max_out_of_order_chunks = p.sctp_max_out_of_order_chunks;
  sctp.num_streams = p.sctp_streams;
}
}  // namespace

void apply_memory_profile(const MemoryProfile& p, peer::PeerConfig& config) {
  apply_to(p, config.sctp);
}

void apply_memory_profile(const MemoryProfile& p, streamer::PublisherConfig& config) {
  apply_to(p, config.sctp);
}

}  // namespace cellrtc::firmware
