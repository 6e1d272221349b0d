// STUN message codec (RFC 8489) with the attributes ICE (RFC 8445) and TURN (RFC 8656) use.
//
// Parsing copies the datagram into the Message (STUN messages are small) and indexes its
// attributes; typed getters decode on demand and return nullopt when the attribute is absent
// or malformed. Building goes through MessageBuilder, which appends attributes in order and
// finishes with MESSAGE-INTEGRITY and FINGERPRINT, which must come last (RFC 8489 section 14).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/bytes.h"
#include "core/common/crypto.h"
#include "core/common/random.h"
#include "core/common/result.h"
#include "core/common/socket_address.h"

namespace cellrtc::stun {

constexpr uint32_t kMagicCookie = 0x2112A442;
constexpr size_t kHeaderSize = 20;
// Largest message accepted by parse(): a TCP-framed STUN message can reach 65535 + 20 bytes,
// but nothing ICE or TURN sends comes near; this bounds memory per message.
constexpr size_t kMaxMessageSize = 8192;
// Bound on attributes indexed per message, against messages made of thousands of empty ones.
constexpr size_t kMaxAttributes = 64;

enum class Method : uint16_t {
  binding = 0x001,
  allocate = 0x003,
  refresh = 0x004,
  send = 0x006,
  data = 0x007,
  create_permission = 0x008,
  channel_bind = 0x009,
};

enum class Class : uint8_t {
  request = 0,
  indication = 1,
  success_response = 2,
  error_response = 3
};

using TransactionId = std::array<uint8_t, 12>;

// Attribute types (RFC 8489 section 18.3, RFC 8445 section 16.1, RFC 8656 section 18).
namespace attr {
constexpr uint16_t kMappedAddress = 0x0001;
constexpr uint16_t kUsername = 0x0006;
constexpr uint16_t kMessageIntegrity = 0x0008;
constexpr uint16_t kErrorCode = 0x0009;
constexpr uint16_t kUnknownAttributes = 0x000A;
constexpr uint16_t kChannelNumber = 0x000C;
constexpr uint16_t kLifetime = 0x000D;
constexpr uint16_t kXorPeerAddress = 0x0012;
constexpr uint16_t kData = 0x0013;
constexpr uint16_t kRealm = 0x0014;
constexpr uint16_t kNonce = 0x0015;
constexpr uint16_t kXorRelayedAddress = 0x0016;
constexpr uint16_t kRequestedAddressFamily = 0x0017;
constexpr uint16_t kEvenPort = 0x0018;
constexpr uint16_t kRequestedTransport = 0x0019;
constexpr uint16_t kDontFragment = 0x001A;
constexpr uint16_t kMessageIntegritySha256 = 0x001C;
constexpr uint16_t kPasswordAlgorithm = 0x001D;
constexpr uint16_t kUserhash = 0x001E;
constexpr uint16_t kXorMappedAddress = 0x0020;
constexpr uint16_t kReservationToken = 0x0022;
constexpr uint16_t kPriority = 0x0024;
constexpr uint16_t kUseCandidate = 0x0025;
constexpr uint16_t kPasswordAlgorithms = 0x8002;
constexpr uint16_t kAlternateDomain = 0x8003;
constexpr uint16_t kSoftware = 0x8022;
constexpr uint16_t kAlternateServer = 0x8023;
constexpr uint16_t kFingerprint = 0x8028;
constexpr uint16_t kIceControlled = 0x8029;
constexpr uint16_t kIceControlling = 0x802A;
}  // namespace attr

// Error codes used by ICE and TURN (RFC 8489 section 14.8, RFC 8445 section 7.3.1.1,
// RFC 8656 section 18.11).
namespace error {
constexpr uint16_t kTryAlternate = 300;
constexpr uint16_t kBadRequest = 400;
constexpr uint16_t kUnauthorized = 401;
constexpr uint16_t kForbidden = 403;
constexpr uint16_t kUnknownAttribute = 420;
constexpr uint16_t kAllocationMismatch = 437;
constexpr uint16_t kStaleNonce = 438;
constexpr uint16_t kAddressFamilyNotSupported = 440;
constexpr uint16_t kWrongCredentials = 441;
constexpr uint16_t kUnsupportedTransportProtocol = 442;
constexpr uint16_t kPeerAddressFamilyMismatch = 443;
constexpr uint16_t kAllocationQuotaReached = 486;
constexpr uint16_t kRoleConflict = 487;
constexpr uint16_t kServerError = 500;
constexpr uint16_t kInsufficientCapacity = 508;
}  // namespace error

struct ErrorCode {
  uint16_t code = 0;  // 300..699
  std::string reason;
};

// Comprehension-required attribute types this codec understands; a request carrying any
// other type below 0x8000 deserves a 420 (RFC 8489 section 6.3.1).
bool is_known_attribute(uint16_t type);

struct RawAttribute {
  uint16_t type;
  ByteView value;  // points into the Message's own buffer
};

class Message {
 public:
  Message() = default;
  // RawAttribute values point into the Message's own buffer: a copy re-points them into the
  // copy's buffer (a moved-from vector hands over its buffer, so moves need nothing).
  Message(const Message& other);
  Message& operator=(const Message& other);
  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;

  // Parses one whole message. Checks: the two leading zero bits, the magic cookie, the length
  // field (multiple of 4, equal to the bytes that follow the header), every attribute's length
  // staying inside the message, at most kMaxAttributes attributes, at most kMaxMessageSize bytes,
  // FINGERPRINT (if present) being last and correct. Never reads out of bounds.
  static Result<Message> parse(ByteView bytes);

  // A method outside the Method enumerators comes back as that raw value cast to Method (the
  // enum's underlying type holds all 12 bits); raw_method() gives it as a number.
  Method method() const { return method_; }
  Class cls() const { return cls_; }
  uint16_t raw_method() const { return raw_method_; }
  const TransactionId& transaction_id() const { return transaction_id_; }
  ByteView bytes() const { return bytes_; }
  const std::vector<RawAttribute>& attributes() const { return attributes_; }
  // First attribute of this type, if any.
  std::optional<ByteView> find(uint16_t type) const;
  bool has(uint16_t type) const { return find(type).has_value(); }
  // Comprehension-required types (< 0x8000) not in is_known_attribute().
  std::vector<uint16_t> unknown_comprehension_required() const;

  // Typed getters; nullopt when absent or malformed. Strings longer than RFC 8489 allows
  // (USERNAME 513 bytes, section 14.3; REALM, NONCE, SOFTWARE and the ERROR-CODE reason 763
  // bytes, sections 14.9, 14.10, 14.14, 14.8) count as malformed. UTF-8 is not validated.
  std::optional<std::string_view> username() const;
  std::optional<std::string_view> realm() const;
  std::optional<std::string_view> nonce() const;
  std::optional<std::string_view> software() const;
  std::optional<SocketAddress> mapped_address() const;
  std::optional<SocketAddress> xor_mapped_address() const;
  std::optional<SocketAddress> xor_relayed_address() const;
  // All XOR-PEER-ADDRESS attributes (CreatePermission may carry several).
  std::vector<SocketAddress> xor_peer_addresses() const;
  std::optional<SocketAddress> alternate_server() const;
  std::optional<uint32_t> priority() const;
  bool use_candidate() const { return has(attr::kUseCandidate); }
  std::optional<uint64_t> ice_controlling() const;
  std::optional<uint64_t> ice_controlled() const;
  std::optional<ErrorCode> error_code() const;
  std::optional<std::vector<uint16_t>> unknown_attributes() const;
  std::optional<uint32_t> lifetime() const;            // seconds
  std::optional<uint16_t> channel_number() const;      // 0x4000..0x4FFF
  std::optional<uint8_t> requested_transport() const;  // protocol number: 17 UDP, 6 TCP
  std::optional<ByteView> data() const;

  bool has_message_integrity() const { return has(attr::kMessageIntegrity); }
  // Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key` as RFC 8489 section 14.5 says: over the
  // message up to the attribute, with the header length covering it. Fails when absent.
  bool check_integrity(ByteView key) const;
  bool has_fingerprint() const { return has(attr::kFingerprint); }

 private:
  Bytes bytes_;
  std::vector<RawAttribute> attributes_;
  Method method_ = Method::binding;
  uint16_t raw_method_ = 0;
  Class cls_ = Class::request;
  TransactionId transaction_id_{};
};

class MessageBuilder {
 public:
  MessageBuilder(Method method, Class cls, const TransactionId& tid);
  // Starts a response to `request` (same method and transaction id).
  static MessageBuilder response_to(const Message& request, Class cls);

  MessageBuilder& add_raw(uint16_t type, ByteView value);  // pads to 4 bytes
  MessageBuilder& add_username(std::string_view v) { return add_string(attr::kUsername, v); }
  MessageBuilder& add_realm(std::string_view v) { return add_string(attr::kRealm, v); }
  MessageBuilder& add_nonce(std::string_view v) { return add_string(attr::kNonce, v); }
  MessageBuilder& add_software(std::string_view v) { return add_string(attr::kSoftware, v); }
  MessageBuilder& add_string(uint16_t type, std::string_view v);
  MessageBuilder& add_mapped_address(const SocketAddress& a);
  MessageBuilder& add_xor_address(uint16_t type, const SocketAddress& a);
  MessageBuilder& add_xor_mapped_address(const SocketAddress& a) {
    return add_xor_address(attr::kXorMappedAddress, a);
  }
  MessageBuilder& add_xor_relayed_address(const SocketAddress& a) {
    return add_xor_address(attr::kXorRelayedAddress, a);
  }
  MessageBuilder& add_xor_peer_address(const SocketAddress& a) {
    return add_xor_address(attr::kXorPeerAddress, a);
  }
  MessageBuilder& add_u32(uint16_t type, uint32_t v);
  MessageBuilder& add_u64(uint16_t type, uint64_t v);
  MessageBuilder& add_priority(uint32_t p) { return add_u32(attr::kPriority, p); }
  MessageBuilder& add_use_candidate() { return add_raw(attr::kUseCandidate, {}); }
  MessageBuilder& add_ice_controlling(uint64_t tiebreaker) {
    return add_u64(attr::kIceControlling, tiebreaker);
  }
  MessageBuilder& add_ice_controlled(uint64_t tiebreaker) {
    return add_u64(attr::kIceControlled, tiebreaker);
  }
  MessageBuilder& add_error_code(uint16_t code, std::string_view reason);
  MessageBuilder& add_unknown_attributes(const std::vector<uint16_t>& types);
  MessageBuilder& add_lifetime(uint32_t seconds) { return add_u32(attr::kLifetime, seconds); }
  MessageBuilder& add_channel_number(uint16_t channel);
  MessageBuilder& add_requested_transport(uint8_t protocol);
  MessageBuilder& add_data(ByteView data) { return add_raw(attr::kData, data); }

  // Appends MESSAGE-INTEGRITY (HMAC-SHA1 keyed with `key`) and returns the message.
  Bytes finish_with_integrity(ByteView key, bool fingerprint = true) &&;
  // Returns the message, with FINGERPRINT when asked.
  Bytes finish(bool fingerprint = false) &&;

 private:
  void append_fingerprint();
  Bytes out_;
  TransactionId tid_;
};

TransactionId random_transaction_id(Random& rng);

// Long-term credential key (RFC 8489 section 9.2.2): MD5(username ":" realm ":" password).
// SASLprep is not applied; ASCII credentials (what the server issues) are unaffected.
Md5Digest long_term_key(std::string_view username, std::string_view realm,
                        std::string_view password);

// Quick test, without a full parse, that a datagram looks like STUN: first two bits zero,
// magic cookie, length a multiple of 4 that matches the size.
bool looks_like_stun(ByteView bytes);

}  // namespace cellrtc::stun
