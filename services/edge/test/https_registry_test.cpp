// Registry's parked set (https_session.hpp): what the next request with a parked cookie finds.
#include "https_session.hpp"

#include <gtest/gtest.h>

namespace pimap::edge::https {
namespace {

using namespace std::chrono_literals;

TEST(HttpsRegistry, ParkedIdComesBackOnceWithTheOutputThatWaited) {
  Registry r;
  r.park("ID1", nullptr, 30min, "d1 OK IDLE terminated\r\n");
  EXPECT_EQ(r.parked(), 1u);
  EXPECT_EQ(r.find("ID1"), nullptr);  // nothing live: the next request resumes it
  auto got = r.unpark("ID1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "d1 OK IDLE terminated\r\n");
  EXPECT_FALSE(r.unpark("ID1").has_value());  // once
  EXPECT_EQ(r.parked(), 0u);
}

TEST(HttpsRegistry, UnknownOrExpiredIdIsNotParked) {
  Registry r;
  EXPECT_FALSE(r.unpark("NOPE").has_value());
  r.park("OLD", nullptr, 0ms, "");
  // Past the IMAP idle limit: resumed like a cookie from another edge (not quietly).
  EXPECT_FALSE(r.unpark("OLD").has_value());
  EXPECT_EQ(r.parked(), 0u);
}

TEST(HttpsRegistry, ExpiredIdsArePrunedAsTheSetGrows) {
  Registry r;
  for (int i = 0; i < 1024; ++i) r.park("X" + std::to_string(i), nullptr, 0ms, "");
  EXPECT_EQ(r.parked(), 1024u);
  r.park("KEEP", nullptr, 30min, "");
  EXPECT_EQ(r.parked(), 1u);
  EXPECT_TRUE(r.unpark("KEEP").has_value());
}

}  // namespace
}  // namespace pimap::edge::https
