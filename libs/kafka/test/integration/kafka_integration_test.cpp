// Produces and consumes through the real Kafka broker of the local cluster (scripts/stack up).
// Uses its own throw-away topic so the pipeline's `pimap.events` is left alone.

#include <pimap/kafka/admin.hpp>
#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace pimap::kafka {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class KafkaIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("PIMAP_STACK_JSON");
    if (path == nullptr) GTEST_SKIP() << "PIMAP_STACK_JSON not set (start the stack: scripts/stack up)";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read " << path;
    std::stringstream text;
    text << in.rdbuf();
    auto doc = boost::json::parse(text.str());
    const auto* kafka = doc.as_object().if_contains("kafka");
    ASSERT_TRUE(kafka != nullptr && kafka->is_string()) << path << " has no \"kafka\"";
    brokers_ = std::string(kafka->as_string());
    topic_ = "pimap.test.kafka." + std::to_string(::getpid()) + "." +
             std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    CommonOptions o;
    o.brokers = brokers_;
    auto n = ensure_topic(o, topic_, 3, 1, 15s);
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_EQ(n.value(), 3);
  }

  std::unique_ptr<Consumer> consumer(const std::string& group) {
    ConsumerOptions o;
    o.brokers = brokers_;
    o.group_id = group;
    o.topics = {topic_};
    auto c = Consumer::create(o);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static std::set<std::string> read(Consumer& c, std::size_t n, std::chrono::seconds limit) {
    std::set<std::string> out;
    const auto deadline = Clock::now() + limit;
    while (out.size() < n && Clock::now() < deadline) {
      auto m = c.poll(200ms);
      if (!m.ok() || !m.value()) continue;
      EXPECT_TRUE(c.commit(*m.value()).ok());
      out.insert(m.value()->key + "=" + m.value()->value);
    }
    return out;
  }

  std::string brokers_;
  std::string topic_;
};

TEST_F(KafkaIntegration, ProduceConsumeCommitResume) {
  ProducerOptions po;
  po.brokers = brokers_;
  po.delivery_timeout = 15s;
  auto p = Producer::create(po);
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto& producer = *p.value();
  auto partitions = producer.check_topic(topic_, 10s);
  ASSERT_TRUE(partitions.ok()) << partitions.error().message;
  EXPECT_EQ(partitions.value(), 3);

  std::set<std::string> sent;
  std::vector<std::future<DeliveryReport>> reports;
  for (int i = 0; i < 10; ++i) {
    std::string key = "user" + std::to_string(i % 4), value = "e" + std::to_string(i);
    sent.insert(key + "=" + value);
    reports.push_back(producer.produce(Record{topic_, key, value, {}}));
  }
  for (auto& f : reports) {
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
    auto r = f.get();
    EXPECT_TRUE(r.error.ok()) << r.error.message;
    EXPECT_GE(r.offset, 0);
  }
  const std::string group = topic_ + ".g";
  {
    auto c = consumer(group);
    ASSERT_TRUE(c);
    EXPECT_EQ(read(*c, sent.size(), 60s), sent);
    EXPECT_TRUE(c->close().ok());
  }
  auto late = producer.produce(Record{topic_, "user9", "late", {}}).get();
  ASSERT_TRUE(late.error.ok()) << late.error.message;
  auto c = consumer(group);
  ASSERT_TRUE(c);
  EXPECT_EQ(read(*c, 1, 60s), (std::set<std::string>{"user9=late"}));
  auto extra = c->poll(1s);
  EXPECT_TRUE(extra.ok() && !extra.value().has_value());
  EXPECT_TRUE(c->close().ok());
}

}  // namespace
}  // namespace pimap::kafka
