#include "core/common/text.h"

#include <gtest/gtest.h>

#include <string>

namespace cellrtc::text {
namespace {

// Usable at compile time (the embedded build's reason for constexpr).
static_assert(iequals("Content-Type", "content-TYPE"));
static_assert(trim("\t a b \t") == "a b");

TEST(Text, IequalsIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_TRUE(iequals("AT+CSQ", "at+csq"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Content-Type", "Content-Typ"));
  EXPECT_FALSE(iequals("abc", "abd"));
  // Only A-Z fold: '[' (0x5B) is not the lower case of '{' (0x7B), nor '@' of '`'.
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("@", "`"));
  // Bytes outside ASCII compare exactly, whatever the locale would say.
  EXPECT_TRUE(iequals("\xC4", "\xC4"));
  EXPECT_FALSE(iequals("\xC4", "\xE4"));
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('z'), 'z');
  EXPECT_EQ(ascii_lower('0'), '0');
}

TEST(Text, IstartsWith) {
  EXPECT_TRUE(istarts_with("Bearer abc", "bearer "));
  EXPECT_TRUE(istarts_with("x", ""));
  EXPECT_FALSE(istarts_with("Bear", "bearer"));
  EXPECT_FALSE(istarts_with("Basic abc", "bearer "));
}

TEST(Text, TrimsBlanksByDefault) {
  EXPECT_EQ(trim("  value\t"), "value");
  EXPECT_EQ(trim("a  b"), "a  b");  // inner blanks stay
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("value\r\n"), "value\r\n");  // only space and tab by default
  EXPECT_EQ(trim_left("  a "), "a ");
  EXPECT_EQ(trim_right("  a "), "  a");
}

TEST(Text, TrimsTheCharactersAsked) {
  EXPECT_EQ(trim_right("value \r\n", " \t\r\n"), "value");
  EXPECT_EQ(trim("\r\nvalue\r\n", "\r\n"), "value");
  EXPECT_EQ(trim("xxaxx", "x"), "a");
}

TEST(Text, TrimmedViewsStayInsideTheInput) {
  const std::string s = "   ";
  const std::string_view t = trim(s);
  EXPECT_TRUE(t.empty());
  EXPECT_GE(t.data(), s.data());
  EXPECT_LE(t.data(), s.data() + s.size());
  const std::string v = " ab ";
  EXPECT_EQ(trim(v).data(), v.data() + 1);
}

}  // namespace
}  // namespace cellrtc::text
