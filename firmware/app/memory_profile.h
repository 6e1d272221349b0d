// Per-connection buffer limits sized for the ESP32-S3 (512 KB internal SRAM, 8 MB PSRAM), in
// one place: the PeerConnection's SCTP limits follow from the largest frame the camera can
// make, and nothing else in a connection grows with the network. docs/firmware.md's RAM table
// is computed from these.
#pragma once

#include <cstddef>

#include "core/peer/peer_connection.h"
#include "core/streamer/publisher.h"
#include "firmware/app/frame_size.h"

namespace cellrtc::firmware {

// cellrtc-server's SDP offers a=max-message-size:262144 (core/sdp/negotiation.h): a frame
// message (header + JPEG) must stay under it.
constexpr size_t kServerMaxMessageSize = 262144;

struct MemoryProfile {
  size_t largest_frame_message;  // frame header + the driver's JPEG buffer
  size_t sctp_send_buffer;       // the frame being sent, the next one, and control messages
  size_t sctp_receive_window;    // only small control messages come in
  size_t sctp_max_receive_message;
  size_t sctp_max_out_of_order_chunks;
  uint16_t sctp_streams;  // video and control, and a little room
};

MemoryProfile memory_profile(FrameSize largest);
// Whether frames of this size fit a data-channel message the server accepts.
bool frame_size_fits_server(FrameSize size);
// Writes the profile's limits into a PeerConnection's configuration.
void apply_memory_profile(const MemoryProfile& profile, peer::PeerConfig& config);
// The same limits for every session the publisher opens.
void apply_memory_profile(const MemoryProfile& profile, streamer::PublisherConfig& config);

}  // namespace cellrtc::firmware
