// Message::parse on arbitrary datagrams (every STUN message off the network is untrusted), then
// every getter and check_integrity. Beyond memory safety it checks the codec's contract: a
// parsed message passes looks_like_stun, its attribute views stay inside its own buffer (also
// in a copy), and its attributes rebuilt by MessageBuilder parse back to the same list.
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "core/stun/stun_message.h"

namespace cellrtc::stun {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_views(const Message& m) {
  const ByteView all = m.bytes();
  for (const auto& a : m.attributes()) {
    check(a.value.data() >= all.data());
    check(a.value.data() + a.value.size() <= all.data() + all.size());
  }
}

void touch_getters(const Message& m) {
  (void)m.method();
  (void)m.unknown_comprehension_required();
  (void)m.username();
  (void)m.realm();
  (void)m.nonce();
  (void)m.software();
  (void)m.mapped_address();
  (void)m.alternate_server();
  (void)m.xor_relayed_address();
  (void)m.xor_peer_addresses();
  (void)m.priority();
  (void)m.use_candidate();
  (void)m.ice_controlling();
  (void)m.ice_controlled();
  (void)m.lifetime();
  (void)m.requested_transport();
  (void)m.data();
  (void)m.has_fingerprint();
  if (auto ch = m.channel_number()) check(*ch >= 0x4000 && *ch <= 0x4FFF);
  if (auto e = m.error_code()) check(e->code >= 300 && e->code <= 699);
  if (auto u = m.unknown_attributes())
    check(u->size() * 2 == m.find(attr::kUnknownAttributes)->size());
  if (auto x = m.xor_mapped_address()) {
    // Re-encoding the decoded address gives it back.
    MessageBuilder b(m.method(), m.cls(), m.transaction_id());
    b.add_xor_mapped_address(*x);
    auto again = Message::parse(std::move(b).finish());
    check(again.ok() && again->xor_mapped_address() == x);
  }
  (void)m.check_integrity(as_bytes("VOkJxbRl1RmTxUk/WvJxBt"));
  if (auto user = m.username(); user && m.realm())
    (void)m.check_integrity(long_term_key(*user, *m.realm(), "TheMatrIX"));
}

bool is_integrity(uint16_t type) {
  return type == attr::kMessageIntegrity || type == attr::kMessageIntegritySha256 ||
         type == attr::kFingerprint;
}

void rebuild(const Message& m) {
  MessageBuilder b(static_cast<Method>(m.raw_method()), m.cls(), m.transaction_id());
  size_t count = 0;
  for (const auto& a : m.attributes()) {
    if (is_integrity(a.type)) continue;
    b.add_raw(a.type, a.value);
    ++count;
  }
  const Bytes key = {1, 2, 3};
  Bytes out = std::move(b).finish_with_integrity(key, true);
  if (out.size() > kMaxMessageSize || count + 2 > kMaxAttributes) return;
  auto again = Message::parse(out);
  check(again.ok());
  check(again->raw_method() == m.raw_method() && again->cls() == m.cls());
  check(again->transaction_id() == m.transaction_id());
  check(again->check_integrity(key));
  check(again->has_fingerprint());
  size_t i = 0;
  for (const auto& a : m.attributes()) {
    if (is_integrity(a.type)) continue;
    const auto& b2 = again->attributes()[i++];
    check(b2.type == a.type && b2.value.size() == a.value.size());
    for (size_t k = 0; k < a.value.size(); ++k)
      check(b2.value[k] == a.value[k]);
  }
  check(again->attributes().size() == i + 2);
}

void run(ByteView input) {
  auto parsed = Message::parse(input);
  if (!parsed.ok()) {
    check(parsed.error().reason != nullptr && parsed.error().reason[0] != '\0');
    return;
  }
  const Message& m = *parsed;
  check(looks_like_stun(input));
  check(m.attributes().size() <= kMaxAttributes);
  check_views(m);
  touch_getters(m);
  Message copy = m;
  check_views(copy);
  check(copy.username() == m.username());
  rebuild(m);
}

}  // namespace
}  // namespace cellrtc::stun

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellrtc::stun::run(cellrtc::ByteView(data, size));
  return 0;
}
