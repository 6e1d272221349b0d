// The device's DTLS identity across reboots: made and stored on the first boot, read back with
// the same fingerprint on the next, replaced (and stored) when the stored bytes are unreadable
// or the certificate expires within 30 days of a known clock, kept when the clock is unknown.
#include "firmware/app/device_identity.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace cellrtc::firmware {
namespace {

class FakeStore final : public KeyValueStore {
 public:
  Result<Bytes> read(std::string_view key, size_t max_size) override {
    ++reads;
    EXPECT_LE(key.size(), kMaxStoreKeyLength);
    if (fail_reads) return Error{Errc::invalid_state, "flash read failed"};
    auto it = values.find(std::string(key));
    if (it == values.end()) return Error{Errc::not_found, "no such key"};
    if (it->second.size() > max_size) return Error{Errc::limit_exceeded, "value too large"};
    return it->second;
  }
  Status write(std::string_view key, ByteView value) override {
    ++writes;
    EXPECT_LE(key.size(), kMaxStoreKeyLength);
    if (fail_writes) return Error{Errc::invalid_state, "flash full"};
    values[std::string(key)] = Bytes(value.begin(), value.end());
    return {};
  }
  std::map<std::string, Bytes> values;
  bool fail_reads = false;
  bool fail_writes = false;
  int reads = 0;
  int writes = 0;
};

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 1795525870;  // 2026-11-24

TEST(DeviceIdentityTest, FirstBootMakesAndStoresTheNextBootReadsTheSameIdentity) {
  FakeStore store;
  SeededRandom first_boot(1), second_boot(2);
  auto made = load_or_make_identity(store, first_boot, std::nullopt);
  ASSERT_TRUE(made) << made.error().reason;
  EXPECT_EQ(made->origin, IdentityOrigin::made_first);
  EXPECT_TRUE(made->saved);
  EXPECT_EQ(store.writes, 1);
  ASSERT_EQ(store.values.count(std::string(kIdentityStoreKey)), 1u);

  auto again = load_or_make_identity(store, second_boot, kNow);
  ASSERT_TRUE(again) << again.error().reason;
  EXPECT_EQ(again->origin, IdentityOrigin::stored);
  EXPECT_EQ(again->certificate.fingerprint_sha256(), made->certificate.fingerprint_sha256());
  EXPECT_EQ(store.writes, 1);  // nothing written when the stored one is used
}

TEST(DeviceIdentityTest, UnreadableStoredBytesAreReplacedAndTheReplacementStored) {
  FakeStore store;
  SeededRandom rng(3);
  auto original = load_or_make_identity(store, rng, std::nullopt);
  ASSERT_TRUE(original);
  Bytes& stored = store.values[std::string(kIdentityStoreKey)];
  stored.resize(stored.size() / 2);  // a torn write

  auto made = load_or_make_identity(store, rng, std::nullopt);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->origin, IdentityOrigin::made_for_unreadable);
  ASSERT_NE(made->unreadable_reason, nullptr);
  EXPECT_NE(std::string(made->unreadable_reason).find("stored certificate"), std::string::npos);
  EXPECT_TRUE(made->saved);
  EXPECT_NE(made->certificate.fingerprint_sha256(), original->certificate.fingerprint_sha256());

  auto next = load_or_make_identity(store, rng, std::nullopt);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->origin, IdentityOrigin::stored);
  EXPECT_EQ(next->certificate.fingerprint_sha256(), made->certificate.fingerprint_sha256());
}

TEST(DeviceIdentityTest, ACertificateExpiringWithin30DaysOfAKnownClockIsReplaced) {
  FakeStore store;
  SeededRandom rng(4);
  auto short_lived =
      dtls::Certificate::generate(rng, "cellrtc-device", {kNow - kDay, kNow + 60 * kDay});
  ASSERT_TRUE(short_lived);
  store.values[std::string(kIdentityStoreKey)] = short_lived->export_der().value();

  // 31 days before the end: kept. An unknown clock (nullopt, or the 1970 of a board without
  // SNTP yet) judges nothing, even past the end.
  for (std::optional<int64_t> now :
       {std::optional<int64_t>(kNow + 29 * kDay), std::optional<int64_t>(),
        std::optional<int64_t>(12), std::optional<int64_t>()}) {
    auto kept = load_or_make_identity(store, rng, now);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->origin, IdentityOrigin::stored);
    EXPECT_EQ(kept->certificate.fingerprint_sha256(), short_lived->fingerprint_sha256());
  }

  auto renewed = load_or_make_identity(store, rng, kNow + 31 * kDay);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->origin, IdentityOrigin::made_for_expiring);
  EXPECT_TRUE(renewed->saved);
  EXPECT_NE(renewed->certificate.fingerprint_sha256(), short_lived->fingerprint_sha256());
  EXPECT_LE(renewed->certificate.not_before(), kNow + 31 * kDay);
  EXPECT_GT(renewed->certificate.not_after(), kNow + 31 * kDay + kIdentityRenewBefore);

  auto after = load_or_make_identity(store, rng, kNow + 31 * kDay);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->origin, IdentityOrigin::stored);
}

TEST(DeviceIdentityTest, AFailingStoreStillGivesAnIdentityAndSaysSo) {
  FakeStore store;
  store.fail_reads = true;
  store.fail_writes = true;
  SeededRandom rng(5);
  auto made = load_or_make_identity(store, rng, kNow);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->origin, IdentityOrigin::made_for_unreadable);
  EXPECT_STREQ(made->unreadable_reason, "flash read failed");
  EXPECT_FALSE(made->saved);
  EXPECT_STREQ(made->saved.error().reason, "flash full");
}

}  // namespace
}  // namespace cellrtc::firmware
