#include "shared_capabilities.hpp"

#include <gtest/gtest.h>

using pimap::edge::share_capabilities;

TEST(SharedCapabilities, EqualListsShareOneCopy) {
  auto a = share_capabilities({"IMAP4REV1", "IDLE", "ESEARCH"});
  auto b = share_capabilities({"IMAP4REV1", "IDLE", "ESEARCH"});
  auto c = share_capabilities({"IMAP4REV1", "IDLE"});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(*c, (std::vector<std::string>{"IMAP4REV1", "IDLE"}));
}

TEST(SharedCapabilities, ForgetsOldListsButStaysCorrect) {
  auto first = share_capabilities({"X-FIRST"});
  for (int i = 0; i < 20; ++i) share_capabilities({"X-" + std::to_string(i)});
  auto again = share_capabilities({"X-FIRST"});
  EXPECT_EQ(*again, *first);  // equal content even if no longer the same copy
}
