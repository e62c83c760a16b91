#include "sasl_plain.hpp"

#include <gtest/gtest.h>

using pimap::edge::base64_decode;
using pimap::edge::decode_sasl_plain;

TEST(SaslPlain, DecodesRfc4616Example) {
  // RFC 4616 §4: "\0tim\0tanstaaftanstaaf"
  auto c = decode_sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "tim");
  EXPECT_EQ(c->password, "tanstaaftanstaaf");
}

TEST(SaslPlain, AcceptsMatchingAuthzid) {
  auto c = decode_sasl_plain("dGltAHRpbQBwdw==");  // tim\0tim\0pw
  ASSERT_TRUE(c);
  EXPECT_EQ(c->password, "pw");
}

TEST(SaslPlain, RejectsOtherAuthzidAndGarbage) {
  EXPECT_FALSE(decode_sasl_plain("Ym9iAHRpbQBwdw=="));  // bob\0tim\0pw: acting as another user
  EXPECT_FALSE(decode_sasl_plain("!!!!"));
  EXPECT_FALSE(decode_sasl_plain("dGlt"));               // no NULs
  EXPECT_FALSE(decode_sasl_plain("AABwdw=="));           // empty authcid
  EXPECT_FALSE(decode_sasl_plain(""));
}

TEST(Base64, PaddingRules) {
  EXPECT_EQ(*base64_decode("YQ=="), "a");
  EXPECT_EQ(*base64_decode("YWI="), "ab");
  EXPECT_EQ(*base64_decode("YWJj"), "abc");
  EXPECT_FALSE(base64_decode("Y==="));
  EXPECT_FALSE(base64_decode("YQ==YWJj"));
  EXPECT_FALSE(base64_decode("YQ="));
}
