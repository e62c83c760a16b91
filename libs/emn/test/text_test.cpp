#include <pimap/emn/text.hpp>

#include <gtest/gtest.h>

namespace pimap::emn {
namespace {

using namespace std::chrono;

TEST(EmnText, WritesTheProfileForm) {
  const Notification n{mailat("user01@example.test"), sys_days{2026y / 11 / 27} + 10h + 5min + 7s};
  EXPECT_EQ(to_text(n), R"(<emn mailbox="mailat:user01@example.test" timestamp="2026-11-27T10:05:07Z"/>)");
}

TEST(EmnText, RoundTripsWithEscaping) {
  const Notification n{"mailat:a&b\"c@example.test", sys_days{2000y / 2 / 29} + 1s};
  const auto text = to_text(n);
  EXPECT_NE(text.find("a&amp;b&quot;c"), std::string::npos);
  auto back = parse_text(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, n);
}

TEST(EmnText, ParsesOtherSpellings) {
  std::string error;
  auto n = parse_text(
      "<?xml version=\"1.0\"?>\n<emn  timestamp = '2024-02-29T23:59:59Z'\n mailbox='mailat:x@y'></emn>", &error);
  ASSERT_TRUE(n) << error;
  EXPECT_EQ(n->mailbox, "mailat:x@y");
  EXPECT_EQ(n->timestamp, sys_days{2024y / 2 / 29} + 23h + 59min + 59s);
}

TEST(EmnText, RejectsMalformed) {
  std::string error;
  EXPECT_FALSE(parse_text("hello", &error));
  EXPECT_FALSE(parse_text(R"(<emnx mailbox="m" timestamp="2024-01-01T00:00:00Z"/>)"));
  EXPECT_FALSE(parse_text(R"(<emn timestamp="2024-01-01T00:00:00Z"/>)", &error));
  EXPECT_EQ(error, "no mailbox attribute");
  EXPECT_FALSE(parse_text(R"(<emn mailbox="m" timestamp="2023-02-29T00:00:00Z"/>)", &error));
  EXPECT_NE(error.find("timestamp"), std::string::npos);
  EXPECT_FALSE(parse_text(R"(<emn mailbox="a&bogus;" timestamp="2024-01-01T00:00:00Z"/>)"));
  EXPECT_FALSE(parse_timestamp("2024-01-01 00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-01T24:00:00Z"));
}

}  // namespace
}  // namespace pimap::emn
