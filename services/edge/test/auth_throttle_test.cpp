#include "auth_throttle.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pimap::edge::AuthThrottle;

TEST(AuthThrottle, DelayDoublesPerFailureUpToCap) {
  AuthThrottle t({.base_delay = 100ms, .max_delay = 1000ms, .forget_after = 60s, .max_entries = 100});
  auto now = AuthThrottle::Clock::now();
  EXPECT_EQ(t.failed("u", "1.1.1.1", now), 100ms);
  EXPECT_EQ(t.failed("u", "1.1.1.1", now), 200ms);
  EXPECT_EQ(t.failed("u", "1.1.1.1", now), 400ms);
  EXPECT_EQ(t.failed("u", "1.1.1.1", now), 800ms);
  EXPECT_EQ(t.failed("u", "1.1.1.1", now), 1000ms);
}

TEST(AuthThrottle, AddressHistoryCountsAcrossUsers) {
  AuthThrottle t({.base_delay = 100ms, .max_delay = 10s, .forget_after = 60s, .max_entries = 100});
  auto now = AuthThrottle::Clock::now();
  t.failed("a", "9.9.9.9", now);
  t.failed("b", "9.9.9.9", now);
  EXPECT_EQ(t.failed("c", "9.9.9.9", now), 400ms);  // third failure from the address
  EXPECT_EQ(t.failed("c", "8.8.8.8", now), 200ms);  // second for user c
}

TEST(AuthThrottle, SuccessClearsUserButNotAddress) {
  AuthThrottle t({.base_delay = 100ms, .max_delay = 10s, .forget_after = 60s, .max_entries = 100});
  auto now = AuthThrottle::Clock::now();
  t.failed("u", "1.1.1.1", now);
  t.failed("u", "2.2.2.2", now);
  t.succeeded("u");
  EXPECT_EQ(t.failed("u", "3.3.3.3", now), 100ms);
  EXPECT_EQ(t.failed("v", "1.1.1.1", now), 200ms);
}

TEST(AuthThrottle, ForgetsAfterQuietPeriod) {
  AuthThrottle t({.base_delay = 100ms, .max_delay = 10s, .forget_after = 10s, .max_entries = 100});
  auto now = AuthThrottle::Clock::now();
  t.failed("u", "1.1.1.1", now);
  t.failed("u", "1.1.1.1", now);
  EXPECT_EQ(t.failed("u", "1.1.1.1", now + 11s), 100ms);
}

TEST(AuthThrottle, MemoryIsBounded) {
  AuthThrottle t({.base_delay = 1ms, .max_delay = 10ms, .forget_after = 60s, .max_entries = 100});
  auto now = AuthThrottle::Clock::now();
  for (int i = 0; i < 1000; ++i) t.failed("user" + std::to_string(i), "10.0.0." + std::to_string(i % 250), now);
  EXPECT_LE(t.tracked(), 101u);
}
