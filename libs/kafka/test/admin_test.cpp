#include <pimap/kafka/admin.hpp>

#include "mock_cluster.hpp"

#include <gtest/gtest.h>

namespace pimap::kafka {
namespace {

using namespace std::chrono_literals;

// (Creation itself needs CreateTopics, which the 2.0.2 mock lacks: kafka_integration_tests covers it.)
TEST(Admin, EnsureTopicKeepsExistingTopic) {
  test::MockCluster cluster;
  cluster.create_topic("control", 8);
  CommonOptions o;
  o.brokers = cluster.bootstraps();
  // Asked for 2, the existing topic keeps its 8 and no creation is attempted.
  auto again = ensure_topic(o, "control", 2, 1, 5s);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value(), 8);
}

TEST(Admin, UnreachableClusterIsAnError) {
  CommonOptions o;
  o.brokers = "127.0.0.1:1";
  auto r = ensure_topic(o, "control", 1, 1, 500ms);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().retriable()) << to_string(r.error().kind) << ": " << r.error().message;
}

}  // namespace
}  // namespace pimap::kafka
