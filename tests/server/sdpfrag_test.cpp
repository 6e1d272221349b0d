#include "server/sdpfrag.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

TEST(SdpFrag, ParsesRfc8840Fragment) {
  auto f = parse_sdpfrag(
      "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\na=ice-options:trickle\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
      "a=candidate:1 1 UDP 2130706431 198.51.100.7 50000 typ host\r\n"
      "a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998\r\n"
      "a=end-of-candidates\r\n");
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(*f->ice_ufrag, "EsAw");
  EXPECT_EQ(*f->ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  ASSERT_EQ(f->mids.size(), 1u);
  EXPECT_EQ(f->mids[0], "0");
  ASSERT_EQ(f->candidates.size(), 2u);
  EXPECT_EQ(f->candidates[1].address.to_string(), "192.0.2.3:45664");
  EXPECT_TRUE(f->end_of_candidates);
}

TEST(SdpFrag, AcceptsBareLineFeedsAndEmptyBodies) {
  auto f = parse_sdpfrag("a=end-of-candidates\n");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->end_of_candidates);
  EXPECT_TRUE(parse_sdpfrag("").ok());
}

TEST(SdpFrag, RejectsMalformedInput) {
  EXPECT_FALSE(parse_sdpfrag("hello").ok());
  EXPECT_FALSE(parse_sdpfrag("a=ice-ufrag:ab\r\n").ok());  // too short
  EXPECT_FALSE(parse_sdpfrag("a=ice-pwd:short\r\n").ok());
  EXPECT_FALSE(parse_sdpfrag("a=ice-pwd:0123456789abcdefghijklmn\r\n").ok());  // no ufrag
  EXPECT_FALSE(parse_sdpfrag("a=mid:0\r\n").ok());                             // before m=
  EXPECT_FALSE(parse_sdpfrag("a=candidate:garbage\r\n").ok());
  EXPECT_FALSE(parse_sdpfrag("a=ice-ufrag:abcd\r\na=ice-ufrag:efgh\r\n").ok());
  auto too_long = parse_sdpfrag("a=x:" + std::string(2000, 'y'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error(), "line 1: line too long");
  std::string many;
  for (int i = 0; i < 40; ++i)
    many += "a=candidate:1 1 UDP 1 192.0.2.1 " + std::to_string(1000 + i) + " typ host\r\n";
  EXPECT_FALSE(parse_sdpfrag(many).ok());
}

TEST(SdpFrag, WritesWhatItParses) {
  auto c = ice::parse_candidate("candidate:1 1 UDP 2130706431 198.51.100.1 8443 typ host").value();
  std::string text = write_sdpfrag("abcd", "0123456789abcdefghijkl", "0", {c});
  auto f = parse_sdpfrag(text);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(*f->ice_ufrag, "abcd");
  EXPECT_EQ(f->candidates.at(0), c);
  EXPECT_EQ(f->mids.at(0), "0");
  EXPECT_TRUE(f->end_of_candidates);
}

}  // namespace
}  // namespace cellrtc::server
