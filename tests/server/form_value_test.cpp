#include "server/form_value.h"

#include <gtest/gtest.h>

namespace cellrtc::server {
namespace {

TEST(FormValue, DecodesPercentEscapesAndPlus) {
  EXPECT_EQ(decode_form_value(""), "");
  EXPECT_EQ(decode_form_value("viewer-secret"), "viewer-secret");
  EXPECT_EQ(decode_form_value("a%2Bb"), "a+b");
  EXPECT_EQ(decode_form_value("a+b"), "a b");
  EXPECT_EQ(decode_form_value("%2f%2F%25%3d%26"), "//%=&");
  EXPECT_EQ(decode_form_value("%C3%A9t%C3%A9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(decode_form_value("%00x"), std::string("\0x", 2));
  EXPECT_EQ(decode_form_value("%252B"), "%2B");  // decoded once, not twice
}

TEST(FormValue, MalformedEscapesAreErrors) {
  EXPECT_FALSE(decode_form_value("%"));
  EXPECT_FALSE(decode_form_value("abc%"));
  EXPECT_FALSE(decode_form_value("abc%4"));
  EXPECT_FALSE(decode_form_value("%G1"));
  EXPECT_FALSE(decode_form_value("%1G"));
  EXPECT_FALSE(decode_form_value("a%%20"));
}

}  // namespace
}  // namespace cellrtc::server
