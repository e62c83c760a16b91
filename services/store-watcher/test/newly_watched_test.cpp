#include "newly_watched.hpp"

#include <gtest/gtest.h>

namespace pimap::store_watcher {
namespace {

using V = std::vector<std::string>;

TEST(NewlyWatched, FirstListingOnlyLearnsThenReportsEachNewUserOnce) {
  NewlyWatched w;
  EXPECT_EQ(w.update({"alice", "bob"}), V{});
  EXPECT_EQ(w.update({"bob", "carol", "alice"}), V{"carol"});
  EXPECT_EQ(w.update({"alice", "bob", "carol"}), V{});
  // A user who left (shard moved, sessions ended) and came back is new again: its state may be stale.
  EXPECT_EQ(w.update({"alice"}), V{});
  EXPECT_EQ(w.update({"alice", "bob"}), V{"bob"});
}

}  // namespace
}  // namespace pimap::store_watcher
