// Control-channel JSON (docs/protocol.md): what a device and the server read from their peers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/media/control_message.h"

using namespace cellrtc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto object = media::parse_control_object(text);
  if (!object) {
    if (object.error().offset > size && size <= media::kMaxControlMessageBytes) std::abort();
    return 0;
  }
  if (object->fields.size() > media::kMaxControlFields) std::abort();
  auto message = media::decode_device_message(*object);
  if (message) {
    // What a device decodes, re-encoded, decodes the same.
    if (const auto* set = std::get_if<media::SetMessage>(&*message)) {
      auto again = media::decode_device_message(media::encode_set(*set));
      if (!again) std::abort();
      const auto* s2 = std::get_if<media::SetMessage>(&*again);
      if (!s2 || s2->quality != set->quality || s2->width != set->width) std::abort();
    } else if (const auto* ping = std::get_if<media::PingMessage>(&*message)) {
      std::string pong = media::encode_pong(ping->t, Instant::from_us(1));
      if (pong.size() > media::kMaxControlMessageBytes) std::abort();
      auto parsed = media::parse_control_object(pong);
      if (!parsed) std::abort();
    } else if (const auto* report = std::get_if<media::ReportMessage>(&*message)) {
      auto again = media::decode_device_message(media::encode_report(*report));
      if (!again || !std::holds_alternative<media::ReportMessage>(*again)) std::abort();
    } else if (const auto* part = std::get_if<media::DirectOfferPart>(&*message)) {
      // Direct mode: a part is bounded, joins, and an SDP written back in parts (as the
      // device's answer) decodes part by part to the same text.
      if (part->sdp.size() > media::kMaxDirectSdpPartBytes || part->part >= part->parts)
        std::abort();
      media::DirectSdpJoiner joiner;
      (void)joiner.add(*part);
      std::string joined;
      media::DirectSdpJoiner answer_joiner;
      for (const auto& text_part : media::encode_direct_answer(part->id, part->sdp)) {
        if (text_part.size() > media::kMaxControlMessageBytes) std::abort();
        auto parsed = media::parse_control_object(text_part);
        if (!parsed) std::abort();
        const auto* sdp = parsed->find("sdp");
        if (!sdp) std::abort();
        joined += sdp->text;
      }
      if (!part->sdp.empty() && joined != part->sdp) std::abort();
    }
  }
  if (auto telemetry = media::decode_telemetry(*object)) {
    std::string text_again = media::encode_telemetry(*telemetry);
    auto parsed = media::parse_control_object(text_again);
    if (!parsed || !media::decode_telemetry(*parsed)) std::abort();
  }
  return 0;
}
