#include "ownership.hpp"

#include <gtest/gtest.h>

#include <map>

namespace pimap::store_watcher {
namespace {

TEST(Ownership, ShardIsStableAndInRange) {
  EXPECT_EQ(shard_of("alice", 32), shard_of("alice", 32));
  std::map<int, int> spread;
  for (int i = 0; i < 1000; ++i) {
    auto s = shard_of("user" + std::to_string(i), 32);
    ASSERT_GE(s, 0);
    ASSERT_LT(s, 32);
    ++spread[s];
  }
  EXPECT_EQ(spread.size(), 32u);  // every shard gets users
  // Pinned: replicas of different builds must agree (the FNV-1a offset basis for the empty name).
  EXPECT_EQ(shard_of("", 32), static_cast<std::int32_t>(2166136261u % 32));
}

TEST(Ownership, AssignAndRevokeFollowTheGroup) {
  Ownership o(8);
  const auto shard = shard_of("alice", 8);
  EXPECT_FALSE(o.owns("alice"));
  auto g0 = o.generation();
  o.assign({shard, (shard + 1) % 8});
  EXPECT_TRUE(o.owns("alice"));
  EXPECT_NE(o.generation(), g0);
  EXPECT_EQ(o.owned().size(), 2u);
  o.revoke({shard});
  EXPECT_FALSE(o.owns("alice"));
  EXPECT_EQ(o.owned().size(), 1u);
}

}  // namespace
}  // namespace pimap::store_watcher
