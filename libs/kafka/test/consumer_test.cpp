#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>

#include "mock_cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace pimap::kafka {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.create_topic("events", 3);
    ProducerOptions po;
    po.brokers = cluster_.bootstraps();
    auto p = Producer::create(po);
    ASSERT_TRUE(p.ok()) << p.error().message;
    producer_ = std::move(p).value();
  }

  void produce(const std::string& key, const std::string& value) {
    auto r = producer_->produce(Record{"events", key, value, {}}).get();
    ASSERT_TRUE(r.error.ok()) << r.error.message;
  }

  std::unique_ptr<Consumer> consumer(const std::string& group, ConsumerOptions o = {}) {
    o.brokers = cluster_.bootstraps();
    o.group_id = group;
    o.topics = {"events"};
    auto c = Consumer::create(std::move(o));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // Reads until `n` messages arrived or the deadline passed; commits each when `commit`.
  static std::vector<Message> read(Consumer& c, std::size_t n, std::chrono::seconds limit, bool commit) {
    std::vector<Message> out;
    const auto deadline = Clock::now() + limit;
    while (out.size() < n && Clock::now() < deadline) {
      auto m = c.poll(200ms);
      if (!m.ok() || !m.value()) continue;
      if (commit) {
        EXPECT_TRUE(c.commit(*m.value()).ok());
      }
      out.push_back(*m.value());
    }
    return out;
  }

  static std::multiset<std::string> values(const std::vector<Message>& ms) {
    std::multiset<std::string> out;
    for (const auto& m : ms) out.insert(m.value);
    return out;
  }

  test::MockCluster cluster_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(ConsumerTest, RestartResumesAfterLastCommit) {
  for (int i = 0; i < 6; ++i) produce("user" + std::to_string(i), "v" + std::to_string(i));
  {
    auto c = consumer("resume");
    ASSERT_TRUE(c);
    auto got = read(*c, 6, 20s, /*commit=*/true);
    ASSERT_EQ(got.size(), 6u);
    EXPECT_EQ(values(got), (std::multiset<std::string>{"v0", "v1", "v2", "v3", "v4", "v5"}));
    EXPECT_TRUE(c->close().ok());
  }
  produce("user1", "after1");
  produce("user2", "after2");
  auto c = consumer("resume");
  ASSERT_TRUE(c);
  auto got = read(*c, 2, 20s, true);
  EXPECT_EQ(values(got), (std::multiset<std::string>{"after1", "after2"}));
  auto extra = c->poll(1s);  // nothing committed before is delivered again
  ASSERT_TRUE(extra.ok());
  EXPECT_FALSE(extra.value().has_value());
}

TEST_F(ConsumerTest, UncommittedRecordsAreRedelivered) {
  produce("a", "x1");
  produce("a", "x2");
  {
    auto c = consumer("redeliver");
    ASSERT_TRUE(c);
    auto got = read(*c, 2, 20s, false);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_TRUE(c->commit(got[0]).ok());  // only the first is processed
    c->close();
  }
  auto c = consumer("redeliver");
  ASSERT_TRUE(c);
  auto got = read(*c, 1, 20s, true);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, "x2");
}

TEST_F(ConsumerTest, CommittedReportsNextOffset) {
  produce("k", "only");
  auto c = consumer("committed");
  ASSERT_TRUE(c);
  auto got = read(*c, 1, 20s, true);
  ASSERT_EQ(got.size(), 1u);
  TopicPartition tp{"events", got[0].partition};
  auto committed = c->committed(std::span<const TopicPartition>(&tp, 1), 5s);
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  ASSERT_EQ(committed.value().size(), 1u);
  EXPECT_EQ(committed.value()[0].offset, got[0].offset + 1);
}

TEST_F(ConsumerTest, RebalanceSplitsPartitionsAndMovesThemBackOnClose) {
  std::vector<TopicPartition> assigned_to_first, revoked_from_first;
  ConsumerOptions o1;
  o1.on_assigned = [&](const auto& l) { assigned_to_first.insert(assigned_to_first.end(), l.begin(), l.end()); };
  o1.on_revoked = [&](const auto& l) { revoked_from_first.insert(revoked_from_first.end(), l.begin(), l.end()); };
  auto c1 = consumer("rebalance", o1);
  ASSERT_TRUE(c1);
  auto deadline = Clock::now() + 20s;
  while (c1->assignment().size() < 3 && Clock::now() < deadline) (void)c1->poll(100ms);
  ASSERT_EQ(c1->assignment().size(), 3u);
  EXPECT_EQ(assigned_to_first.size(), 3u);

  auto c2 = consumer("rebalance");
  ASSERT_TRUE(c2);
  deadline = Clock::now() + 30s;
  while ((c2->assignment().empty() || c1->assignment().size() + c2->assignment().size() != 3) &&
         Clock::now() < deadline) {
    (void)c1->poll(50ms);
    (void)c2->poll(50ms);
  }
  auto a1 = c1->assignment();
  auto a2 = c2->assignment();
  ASSERT_FALSE(a1.empty());
  ASSERT_FALSE(a2.empty());
  std::set<TopicPartition> all(a1.begin(), a1.end());
  all.insert(a2.begin(), a2.end());
  EXPECT_EQ(all.size(), 3u) << "partitions must be disjoint and cover the topic";
  EXPECT_FALSE(revoked_from_first.empty());

  ASSERT_TRUE(c2->close().ok());
  EXPECT_TRUE(c2->assignment().empty());
  deadline = Clock::now() + 30s;
  while (c1->assignment().size() < 3 && Clock::now() < deadline) (void)c1->poll(100ms);
  EXPECT_EQ(c1->assignment().size(), 3u);
}

TEST(Consumer, BrokerDownPollsAndClosesWithoutCrash) {
  ConsumerOptions o;
  o.brokers = "127.0.0.1:1";
  o.group_id = "nobody";
  o.topics = {"events"};
  auto c = Consumer::create(o);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) {
    auto m = c.value()->poll(100ms);
    if (m.ok()) {
      EXPECT_FALSE(m.value().has_value());
    }
  }
  auto e = c.value()->close();
  (void)e;  // may report the unreachable coordinator; must return
  EXPECT_LT(Clock::now() - start, 15s);
  auto after = c.value()->poll(10ms);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().kind, ErrorKind::closed);
}

TEST(Consumer, MissingGroupOrTopicsIsAConfigError) {
  ConsumerOptions o;
  o.brokers = "127.0.0.1:1";
  o.topics = {"events"};
  auto c = Consumer::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::config);
  o.group_id = "g";
  o.topics.clear();
  auto d = Consumer::create(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().kind, ErrorKind::config);
}

}  // namespace
}  // namespace pimap::kafka
