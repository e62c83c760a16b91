#include "capabilities.hpp"

#include <gtest/gtest.h>

using namespace pimap::edge;

TEST(Capabilities, PlaintextBeforeStarttlsDisablesLogin) {
  EXPECT_EQ(pre_auth_capabilities(false, true, false), "IMAP4rev1 STARTTLS LOGINDISABLED LITERAL+ ID ENABLE IDLE");
  EXPECT_EQ(pre_auth_capabilities(true, true, false), "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ID ENABLE IDLE");
}

TEST(Capabilities, PassesThroughOnlyForwardableStoreCapabilities) {
  const auto s = post_auth_capabilities({"IMAP4rev1", "CONDSTORE", "NOTIFY", "URLAUTH", "PREVIEW=FUZZY", "PREVIEW",
                                         "THREAD=REFS", "COMPRESS=DEFLATE", "IDLE"});
  const std::string padded = " " + s + " ";
  EXPECT_NE(padded.find(" CONDSTORE "), std::string::npos);
  EXPECT_NE(padded.find(" THREAD=REFS "), std::string::npos);
  EXPECT_NE(padded.find(" PREVIEW=FUZZY "), std::string::npos);
  EXPECT_NE(padded.find(" PREVIEW "), std::string::npos);  // not mistaken for PREVIEW=FUZZY
  EXPECT_EQ(padded.find(" NOTIFY "), std::string::npos);
  EXPECT_EQ(padded.find(" URLAUTH "), std::string::npos);
  // Served by the edge itself, listed once.
  EXPECT_EQ(padded.find(" IDLE "), padded.rfind(" IDLE "));
  EXPECT_EQ(padded.find(" COMPRESS=DEFLATE "), padded.rfind(" COMPRESS=DEFLATE "));
}
