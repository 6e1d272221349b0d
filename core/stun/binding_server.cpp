#include "core/stun/binding_server.h"

#include <utility>

#include "core/stun/stun_message.h"

namespace cellrtc::stun {

std::optional<Bytes> BindingServer::handle(const SocketAddress& from, ByteView request) const {
  // RFC 8489 section 6.3: messages that fail the checks of section 6.3 are silently discarded,
  // as are indications and responses (a server sends no response to those).
  auto parsed = Message::parse(request);
  if (!parsed) return std::nullopt;
  const Message& msg = *parsed;
  if (msg.cls() != Class::request) return std::nullopt;

  // RFC 8489 section 6.3.1: unknown comprehension-required attributes get a 420 listing them
  // (section 14.13).
  auto unknown = msg.unknown_comprehension_required();
  if (!unknown.empty()) {
    auto b = MessageBuilder::response_to(msg, Class::error_response);
    b.add_error_code(error::kUnknownAttribute, "Unknown Attribute")
        .add_unknown_attributes(unknown)
        .add_software(software_);
    return std::move(b).finish(true);
  }
  if (msg.method() != Method::binding) {
    auto b = MessageBuilder::response_to(msg, Class::error_response);
    b.add_error_code(error::kBadRequest, "Bad Request").add_software(software_);
    return std::move(b).finish(true);
  }
  // RFC 8489 section 7.3.1: the success response carries the request's source transport
  // address in XOR-MAPPED-ADDRESS.
  auto b = MessageBuilder::response_to(msg, Class::success_response);
  b.add_xor_mapped_address(from).add_software(software_);
  return std::move(b).finish(true);
}

}  // namespace cellrtc::stun
