#include "core/stun/stun_message.h"

#include "core/common/crc32.h"

namespace cellrtc::stun {
namespace {

// RFC 8489 section 14.7: the CRC-32 is XORed with this so that a STUN message that happens to
// sit inside another protocol's CRC-protected payload does not also pass as STUN.
constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kAttributeHeaderSize = 4;
constexpr size_t kMessageIntegritySize = 20;  // HMAC-SHA1, RFC 8489 section 14.5
constexpr size_t kFingerprintSize = 4;

// Length limits of the string attributes (RFC 8489 sections 14.3, 14.8, 14.9, 14.10, 14.14).
constexpr size_t kMaxUsername = 513;
constexpr size_t kMaxText = 763;

// Address families of the (XOR-)MAPPED-ADDRESS encoding (RFC 8489 section 14.1).
constexpr uint8_t kFamilyV4 = 0x01;
constexpr uint8_t kFamilyV6 = 0x02;

constexpr size_t padded(size_t n) {
  return (n + 3) & ~size_t{3};
}

// RFC 8489 section 5: the 14-bit message type interleaves the 12 method bits M11..M0 with the
// two class bits C1 (bit 8) and C0 (bit 4).
uint16_t encode_type(uint16_t method, Class cls) {
  const uint16_t m = method & 0x0FFF;
  const uint16_t c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((m & 0x000F) | ((c & 0x1) << 4) | ((m & 0x0070) << 1) |
                               ((c & 0x2) << 7) | ((m & 0x0F80) << 2));
}

uint16_t decode_method(uint16_t type) {
  return static_cast<uint16_t>((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
}

Class decode_class(uint16_t type) {
  return static_cast<Class>(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}

std::optional<std::string_view> text(std::optional<ByteView> v, size_t max) {
  if (!v || v->size() > max) return std::nullopt;
  return as_chars(*v);
}

// MAPPED-ADDRESS and the XOR-*-ADDRESS family (RFC 8489 sections 14.1 and 14.2). When `tid` is
// given the port and address are XORed with the magic cookie (and, for IPv6, the transaction
// id that follows it in the header).
std::optional<SocketAddress> decode_address(ByteView v, const TransactionId* tid) {
  ByteReader r(v);
  r.u8();  // reserved, ignored on receipt
  const uint8_t family = r.u8();
  uint16_t port = r.u16();
  if (!r.ok()) return std::nullopt;
  if (tid) port ^= static_cast<uint16_t>(kMagicCookie >> 16);
  if (family == kFamilyV4 && r.remaining() == 4) {
    uint32_t a = r.u32();
    if (tid) a ^= kMagicCookie;
    return SocketAddress(IpAddress::v4(a), port);
  }
  if (family == kFamilyV6 && r.remaining() == 16) {
    std::array<uint8_t, 16> a{};
    ByteView raw = r.take(16);
    for (size_t i = 0; i < 16; ++i)
      a[i] = raw[i];
    if (tid) {
      std::array<uint8_t, 16> mask{};
      store_be32(mask.data(), kMagicCookie);
      for (size_t i = 0; i < tid->size(); ++i)
        mask[4 + i] = (*tid)[i];
      for (size_t i = 0; i < 16; ++i)
        a[i] ^= mask[i];
    }
    return SocketAddress(IpAddress::v6(a), port);
  }
  return std::nullopt;
}

std::optional<uint32_t> u32_value(std::optional<ByteView> v) {
  if (!v || v->size() != 4) return std::nullopt;
  return load_be32(v->data());
}

std::optional<uint64_t> u64_value(std::optional<ByteView> v) {
  if (!v || v->size() != 8) return std::nullopt;
  return (uint64_t{load_be32(v->data())} << 32) | load_be32(v->data() + 4);
}

}  // namespace

bool is_known_attribute(uint16_t type) {
  // The comprehension-required types ICE and a TURN client deal with. MESSAGE-INTEGRITY-SHA256,
  // PASSWORD-ALGORITHM and USERHASH (RFC 8489 sections 14.6, 14.12, 14.4) are left out: this
  // codec neither verifies nor produces them, so a request relying on them deserves a 420.
  switch (type) {
    case attr::kMappedAddress:
    case attr::kUsername:
    case attr::kMessageIntegrity:
    case attr::kErrorCode:
    case attr::kUnknownAttributes:
    case attr::kChannelNumber:
    case attr::kLifetime:
    case attr::kXorPeerAddress:
    case attr::kData:
    case attr::kRealm:
    case attr::kNonce:
    case attr::kXorRelayedAddress:
    case attr::kRequestedAddressFamily:
    case attr::kEvenPort:
    case attr::kRequestedTransport:
    case attr::kDontFragment:
    case attr::kXorMappedAddress:
    case attr::kReservationToken:
    case attr::kPriority:
    case attr::kUseCandidate:
      return true;
    default:
      return false;
  }
}

Message::Message(const Message& other)
    : bytes_(other.bytes_),
      attributes_(other.attributes_),
      method_(other.method_),
      raw_method_(other.raw_method_),
      cls_(other.cls_),
      transaction_id_(other.transaction_id_) {
  for (auto& a : attributes_) {
    const size_t offset = static_cast<size_t>(a.value.data() - other.bytes_.data());
    a.value = ByteView(bytes_).subspan(offset, a.value.size());
  }
}

Message& Message::operator=(const Message& other) {
  if (this != &other) *this = Message(other);
  return *this;
}

Result<Message> Message::parse(ByteView bytes) {
  // RFC 8489 section 6: header checks a receiver uses to tell STUN from other traffic.
  if (bytes.size() < kHeaderSize) return Error{Errc::truncated, "STUN header truncated"};
  if (bytes.size() > kMaxMessageSize)
    return Error{Errc::limit_exceeded, "STUN message larger than kMaxMessageSize"};
  ByteReader header(bytes);
  const uint16_t type = header.u16();
  const uint16_t length = header.u16();
  const uint32_t cookie = header.u32();
  ByteView tid = header.take(12);
  if (!header.ok()) return Error{Errc::truncated, "STUN header truncated"};
  if ((type & 0xC000) != 0) return Error{Errc::malformed, "STUN type has a leading bit set"};
  if (cookie != kMagicCookie) return Error{Errc::malformed, "STUN magic cookie mismatch"};
  if (length % 4 != 0) return Error{Errc::malformed, "STUN length not a multiple of 4"};
  if (length > header.remaining())
    return Error{Errc::truncated, "STUN message shorter than its length field"};
  if (length < header.remaining())
    return Error{Errc::malformed, "STUN message longer than its length field"};

  Message m;
  m.bytes_.assign(bytes.begin(), bytes.end());
  m.raw_method_ = decode_method(type);
  m.method_ = static_cast<Method>(m.raw_method_);
  m.cls_ = decode_class(type);
  for (size_t i = 0; i < m.transaction_id_.size(); ++i)
    m.transaction_id_[i] = tid[i];

  ByteView body = ByteView(m.bytes_).subspan(kHeaderSize);
  ByteReader r(body);
  size_t count = 0;
  // RFC 8489 sections 14.5 and 14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
  // FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. Others are ignored.
  enum class Stage { open, after_sha1, after_sha256 } stage = Stage::open;
  while (!r.empty()) {
    const size_t start = kHeaderSize + r.position();
    const uint16_t attr_type = r.u16();
    const uint16_t attr_length = r.u16();
    if (!r.ok()) return Error{Errc::truncated, "STUN attribute header truncated"};
    ByteView value = r.take(attr_length);
    // RFC 8489 section 14: values are padded to a multiple of 4 bytes; the padding's content
    // is ignored (RFC 5769's vectors pad with spaces).
    r.skip(padded(attr_length) - attr_length);
    if (!r.ok()) return Error{Errc::truncated, "STUN attribute runs past the end"};
    if (++count > kMaxAttributes) return Error{Errc::limit_exceeded, "too many STUN attributes"};

    if (attr_type == attr::kFingerprint) {
      // RFC 8489 section 14.7: FINGERPRINT is the last attribute; its value is the CRC-32 of
      // the message up to it (with the length field already covering it) XOR 0x5354554e.
      if (!r.empty()) return Error{Errc::integrity, "STUN FINGERPRINT is not the last attribute"};
      if (attr_length != kFingerprintSize)
        return Error{Errc::integrity, "STUN FINGERPRINT has the wrong length"};
      const uint32_t expected = crc32(ByteView(m.bytes_).first(start)) ^ kFingerprintXor;
      if (load_be32(value.data()) != expected)
        return Error{Errc::integrity, "STUN FINGERPRINT mismatch"};
      m.attributes_.push_back({attr_type, value});
      break;
    }
    if (stage == Stage::after_sha256) continue;
    if (stage == Stage::after_sha1 && attr_type != attr::kMessageIntegritySha256) continue;
    if (attr_type == attr::kMessageIntegrity) stage = Stage::after_sha1;
    if (attr_type == attr::kMessageIntegritySha256) stage = Stage::after_sha256;
    m.attributes_.push_back({attr_type, value});
  }
  return m;
}

std::optional<ByteView> Message::find(uint16_t type) const {
  for (const auto& a : attributes_)
    if (a.type == type) return a.value;
  return std::nullopt;
}

std::vector<uint16_t> Message::unknown_comprehension_required() const {
  std::vector<uint16_t> out;
  for (const auto& a : attributes_) {
    if (a.type >= 0x8000 || is_known_attribute(a.type)) continue;
    bool seen = false;
    for (uint16_t t : out)
      seen = seen || t == a.type;
    if (!seen) out.push_back(a.type);
  }
  return out;
}

std::optional<std::string_view> Message::username() const {
  return text(find(attr::kUsername), kMaxUsername);
}
std::optional<std::string_view> Message::realm() const {
  return text(find(attr::kRealm), kMaxText);
}
std::optional<std::string_view> Message::nonce() const {
  return text(find(attr::kNonce), kMaxText);
}
std::optional<std::string_view> Message::software() const {
  return text(find(attr::kSoftware), kMaxText);
}

std::optional<SocketAddress> Message::mapped_address() const {
  auto v = find(attr::kMappedAddress);
  if (!v) return std::nullopt;
  return decode_address(*v, nullptr);
}
std::optional<SocketAddress> Message::xor_mapped_address() const {
  auto v = find(attr::kXorMappedAddress);
  if (!v) return std::nullopt;
  return decode_address(*v, &transaction_id_);
}
std::optional<SocketAddress> Message::xor_relayed_address() const {
  auto v = find(attr::kXorRelayedAddress);
  if (!v) return std::nullopt;
  return decode_address(*v, &transaction_id_);
}
std::vector<SocketAddress> Message::xor_peer_addresses() const {
  // RFC 8656 section 10.1: CreatePermission may carry several; malformed ones are skipped.
  std::vector<SocketAddress> out;
  for (const auto& a : attributes_) {
    if (a.type != attr::kXorPeerAddress) continue;
    if (auto addr = decode_address(a.value, &transaction_id_)) out.push_back(*addr);
  }
  return out;
}
std::optional<SocketAddress> Message::alternate_server() const {
  // RFC 8489 section 14.15: encoded as MAPPED-ADDRESS, not XORed.
  auto v = find(attr::kAlternateServer);
  if (!v) return std::nullopt;
  return decode_address(*v, nullptr);
}

std::optional<uint32_t> Message::priority() const {
  return u32_value(find(attr::kPriority));  // RFC 8445 section 16.1
}
std::optional<uint64_t> Message::ice_controlling() const {
  return u64_value(find(attr::kIceControlling));
}
std::optional<uint64_t> Message::ice_controlled() const {
  return u64_value(find(attr::kIceControlled));
}

std::optional<ErrorCode> Message::error_code() const {
  // RFC 8489 section 14.8: 21 reserved bits, a 3-bit class (3..6) and a number (0..99), then
  // a UTF-8 reason phrase.
  auto v = find(attr::kErrorCode);
  if (!v || v->size() < 4) return std::nullopt;
  const uint8_t error_class = (*v)[2] & 0x07;
  const uint8_t number = (*v)[3];
  if (error_class < 3 || error_class > 6 || number > 99) return std::nullopt;
  ByteView reason = v->subspan(4);
  if (reason.size() > kMaxText) return std::nullopt;
  ErrorCode out;
  out.code = static_cast<uint16_t>(error_class * 100 + number);
  out.reason.assign(as_chars(reason));
  return out;
}

std::optional<std::vector<uint16_t>> Message::unknown_attributes() const {
  // RFC 8489 section 14.13: a list of 16-bit types.
  auto v = find(attr::kUnknownAttributes);
  if (!v || v->size() % 2 != 0) return std::nullopt;
  std::vector<uint16_t> out;
  out.reserve(v->size() / 2);
  for (size_t i = 0; i + 1 < v->size(); i += 2)
    out.push_back(load_be16(v->data() + i));
  return out;
}

std::optional<uint32_t> Message::lifetime() const {
  return u32_value(find(attr::kLifetime));  // RFC 8656 section 18.2
}

std::optional<uint16_t> Message::channel_number() const {
  // RFC 8656 section 18.1: the number, then 16 RFFU bits. Section 12: 0x4000..0x4FFF.
  auto v = find(attr::kChannelNumber);
  if (!v || v->size() != 4) return std::nullopt;
  const uint16_t channel = load_be16(v->data());
  if (channel < 0x4000 || channel > 0x4FFF) return std::nullopt;
  return channel;
}

std::optional<uint8_t> Message::requested_transport() const {
  // RFC 8656 section 18.7: the IP protocol number, then 24 RFFU bits.
  auto v = find(attr::kRequestedTransport);
  if (!v || v->size() != 4) return std::nullopt;
  return (*v)[0];
}

std::optional<ByteView> Message::data() const {
  return find(attr::kData);
}

bool Message::check_integrity(ByteView key) const {
  // RFC 8489 section 14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the header
  // length field set as if MESSAGE-INTEGRITY were the last attribute.
  auto v = find(attr::kMessageIntegrity);
  if (!v || v->size() != kMessageIntegritySize) return false;
  const size_t attr_start = static_cast<size_t>(v->data() - bytes_.data()) - kAttributeHeaderSize;
  Bytes covered(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(attr_start));
  store_be16(&covered[2], static_cast<uint16_t>(attr_start + kAttributeHeaderSize +
                                                kMessageIntegritySize - kHeaderSize));
  const Sha1Digest mac = hmac_sha1(key, covered);
  return constant_time_equal(mac, *v);
}

MessageBuilder::MessageBuilder(Method method, Class cls, const TransactionId& tid) : tid_(tid) {
  out_.reserve(128);
  ByteWriter w(out_);
  w.u16(encode_type(static_cast<uint16_t>(method), cls));
  w.u16(0);  // patched when finished
  w.u32(kMagicCookie);
  w.bytes(tid);
}

MessageBuilder MessageBuilder::response_to(const Message& request, Class cls) {
  return MessageBuilder(static_cast<Method>(request.raw_method()), cls, request.transaction_id());
}

MessageBuilder& MessageBuilder::add_raw(uint16_t type, ByteView value) {
  // Values over 65535 bytes cannot be encoded; callers stay far below (kMaxMessageSize).
  if (value.size() > 0xFFFF) value = value.first(0xFFFF);
  ByteWriter w(out_);
  w.u16(type);
  w.u16(static_cast<uint16_t>(value.size()));
  w.bytes(value);
  w.zeros(padded(value.size()) - value.size());  // RFC 8489 section 14: zero padding
  return *this;
}

MessageBuilder& MessageBuilder::add_string(uint16_t type, std::string_view v) {
  return add_raw(type, as_bytes(v));
}

MessageBuilder& MessageBuilder::add_mapped_address(const SocketAddress& a) {
  // RFC 8489 section 14.1.
  Bytes v;
  ByteWriter w(v);
  w.u8(0);
  w.u8(a.ip().is_v4() ? kFamilyV4 : kFamilyV6);
  w.u16(a.port());
  w.bytes(ByteView(a.ip().data(), a.ip().size()));
  return add_raw(attr::kMappedAddress, v);
}

MessageBuilder& MessageBuilder::add_xor_address(uint16_t type, const SocketAddress& a) {
  // RFC 8489 section 14.2: the port XOR the cookie's top 16 bits, the address XOR the cookie
  // (IPv4) or the cookie followed by the transaction id (IPv6).
  std::array<uint8_t, 16> mask{};
  store_be32(mask.data(), kMagicCookie);
  for (size_t i = 0; i < tid_.size(); ++i)
    mask[4 + i] = tid_[i];
  Bytes v;
  ByteWriter w(v);
  w.u8(0);
  w.u8(a.ip().is_v4() ? kFamilyV4 : kFamilyV6);
  w.u16(static_cast<uint16_t>(a.port() ^ (kMagicCookie >> 16)));
  for (size_t i = 0; i < a.ip().size(); ++i)
    w.u8(static_cast<uint8_t>(a.ip().data()[i] ^ mask[i]));
  return add_raw(type, v);
}

MessageBuilder& MessageBuilder::add_u32(uint16_t type, uint32_t value) {
  uint8_t v[4];
  store_be32(v, value);
  return add_raw(type, v);
}

MessageBuilder& MessageBuilder::add_u64(uint16_t type, uint64_t value) {
  uint8_t v[8];
  store_be32(v, static_cast<uint32_t>(value >> 32));
  store_be32(v + 4, static_cast<uint32_t>(value));
  return add_raw(type, v);
}

MessageBuilder& MessageBuilder::add_error_code(uint16_t code, std::string_view reason) {
  // RFC 8489 section 14.8: class = hundreds digit, number = code modulo 100.
  Bytes v;
  ByteWriter w(v);
  w.u16(0);
  w.u8(static_cast<uint8_t>((code / 100) & 0x07));
  w.u8(static_cast<uint8_t>(code % 100));
  w.bytes(as_bytes(reason));
  return add_raw(attr::kErrorCode, v);
}

MessageBuilder& MessageBuilder::add_unknown_attributes(const std::vector<uint16_t>& types) {
  Bytes v;
  ByteWriter w(v);
  for (uint16_t t : types)
    w.u16(t);
  return add_raw(attr::kUnknownAttributes, v);
}

MessageBuilder& MessageBuilder::add_channel_number(uint16_t channel) {
  uint8_t v[4] = {};
  store_be16(v, channel);  // then 16 RFFU bits, zero (RFC 8656 section 18.1)
  return add_raw(attr::kChannelNumber, v);
}

MessageBuilder& MessageBuilder::add_requested_transport(uint8_t protocol) {
  const uint8_t v[4] = {protocol, 0, 0, 0};  // RFC 8656 section 18.7
  return add_raw(attr::kRequestedTransport, v);
}

void MessageBuilder::append_fingerprint() {
  // RFC 8489 section 14.7: the length field covers FINGERPRINT before the CRC is computed.
  ByteWriter w(out_);
  w.patch_u16(2, static_cast<uint16_t>(out_.size() + kAttributeHeaderSize + kFingerprintSize -
                                       kHeaderSize));
  const uint32_t fp = crc32(out_) ^ kFingerprintXor;
  w.u16(attr::kFingerprint);
  w.u16(kFingerprintSize);
  w.u32(fp);
}

Bytes MessageBuilder::finish_with_integrity(ByteView key, bool fingerprint) && {
  // RFC 8489 section 14.5: the length field covers MESSAGE-INTEGRITY (and nothing after it)
  // when the HMAC is computed.
  ByteWriter w(out_);
  w.patch_u16(2, static_cast<uint16_t>(out_.size() + kAttributeHeaderSize + kMessageIntegritySize -
                                       kHeaderSize));
  const Sha1Digest mac = hmac_sha1(key, out_);
  w.u16(attr::kMessageIntegrity);
  w.u16(kMessageIntegritySize);
  w.bytes(mac);
  if (fingerprint) append_fingerprint();
  return std::move(out_);
}

Bytes MessageBuilder::finish(bool fingerprint) && {
  if (fingerprint) {
    append_fingerprint();
  } else {
    ByteWriter(out_).patch_u16(2, static_cast<uint16_t>(out_.size() - kHeaderSize));
  }
  return std::move(out_);
}

TransactionId random_transaction_id(Random& rng) {
  // RFC 8489 section 5: uniformly random over the 96 bits.
  TransactionId tid{};
  rng.fill(tid);
  return tid;
}

Md5Digest long_term_key(std::string_view username, std::string_view realm,
                        std::string_view password) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  return md5(as_bytes(input));
}

bool looks_like_stun(ByteView bytes) {
  if (bytes.size() < kHeaderSize) return false;
  const uint16_t length = load_be16(bytes.data() + 2);
  return (bytes[0] & 0xC0) == 0 && load_be32(bytes.data() + 4) == kMagicCookie && length % 4 == 0 &&
         size_t{length} + kHeaderSize == bytes.size();
}

}  // namespace cellrtc::stun
