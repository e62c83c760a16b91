#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>

#include "mock_cluster.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

namespace pimap::kafka {
namespace {

using namespace std::chrono_literals;

ProducerOptions options_for(const std::string& brokers) {
  ProducerOptions o;
  o.brokers = brokers;
  o.client_id = "producer-test";
  o.delivery_timeout = 10s;
  return o;
}

std::unique_ptr<Producer> make_producer(ProducerOptions o) {
  auto p = Producer::create(std::move(o));
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(p).value() : nullptr;
}

TEST(Producer, DeliveryReportCarriesPartitionAndOffset) {
  test::MockCluster cluster;
  cluster.create_topic("events", 3);
  auto producer = make_producer(options_for(cluster.bootstraps()));
  ASSERT_TRUE(producer);

  auto first = producer->produce(Record{"events", "alice", "one", {}});
  auto second = producer->produce(Record{"events", "alice", "two", {}});
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a.error.ok()) << a.error.message;
  ASSERT_TRUE(b.error.ok()) << b.error.message;
  EXPECT_EQ(a.topic, "events");
  // Same key, same partition, consecutive offsets: one user's events stay ordered.
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(b.offset, a.offset + 1);
  EXPECT_EQ(producer->counters().delivered.load(), 2u);
  EXPECT_EQ(producer->counters().failed.load(), 0u);
}

TEST(Producer, ExplicitPartitionIsHonoured) {
  test::MockCluster cluster;
  cluster.create_topic("events", 4);
  auto producer = make_producer(options_for(cluster.bootstraps()));
  ASSERT_TRUE(producer);
  auto r = producer->produce(Record{"events", "k", "v", 2}).get();
  ASSERT_TRUE(r.error.ok()) << r.error.message;
  EXPECT_EQ(r.partition, 2);
}

TEST(Producer, CallbackRunsOnceOnDeliveryThread) {
  test::MockCluster cluster;
  cluster.create_topic("events", 1);
  auto producer = make_producer(options_for(cluster.bootstraps()));
  ASSERT_TRUE(producer);
  std::atomic<int> calls{0};
  std::promise<std::thread::id> where;
  auto e = producer->produce(Record{"events", "bob", "x", {}}, [&](const DeliveryReport& r) {
    if (calls.fetch_add(1) == 0) where.set_value(std::this_thread::get_id());
    EXPECT_TRUE(r.error.ok()) << r.error.message;
  });
  ASSERT_TRUE(e.ok()) << e.message;
  auto f = where.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
  ASSERT_TRUE(producer->flush(5s).ok());
  EXPECT_EQ(calls.load(), 1);
}

// Retriable broker errors make librdkafka retry; the idempotent producer must not duplicate or
// reorder, and the caller sees one successful report per record.
TEST(Producer, IdempotentRetriesDoNotDuplicate) {
  test::MockCluster cluster;
  cluster.create_topic("events", 1);
  rd_kafka_mock_push_request_errors(cluster.get(), 0 /* Produce */, 3,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  auto producer = make_producer(options_for(cluster.bootstraps()));
  ASSERT_TRUE(producer);
  std::vector<std::future<DeliveryReport>> futures;
  for (int i = 0; i < 5; ++i)
    futures.push_back(producer->produce(Record{"events", "carol", "m" + std::to_string(i), {}}));
  std::vector<std::int64_t> offsets;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(15s), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.error.ok()) << r.error.message;
    offsets.push_back(r.offset);
  }
  for (std::size_t i = 1; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], offsets[i - 1] + 1);

  ConsumerOptions co;
  co.brokers = cluster.bootstraps();
  co.group_id = "idem-check";
  co.topics = {"events"};
  auto consumer = Consumer::create(co);
  ASSERT_TRUE(consumer.ok()) << consumer.error().message;
  std::vector<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.value()->poll(200ms);
    if (m.ok() && m.value()) seen.push_back(m.value()->value);
  }
  // Anything extra would be a duplicate written by a retry.
  auto extra = consumer.value()->poll(1s);
  EXPECT_TRUE(extra.ok() && !extra.value());
  EXPECT_EQ(seen, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  EXPECT_TRUE(consumer.value()->close().ok());
}

TEST(Producer, BrokerDownYieldsTimedOutReportNotACrash) {
  auto o = options_for("127.0.0.1:1");  // nothing listens on port 1
  o.delivery_timeout = 1500ms;
  auto producer = make_producer(o);
  ASSERT_TRUE(producer);
  auto f = producer->produce(Record{"events", "dave", "lost", {}});
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  EXPECT_EQ(r.error.kind, ErrorKind::timed_out) << r.error.message;
  EXPECT_TRUE(r.error.retriable());
  EXPECT_EQ(producer->counters().failed.load(), 1u);

  auto meta = producer->check_topic("events", 500ms);
  ASSERT_FALSE(meta.ok());
  EXPECT_TRUE(meta.error().retriable()) << meta.error().message;
}

TEST(Producer, DestructorPurgesUndeliveredRecordsWithACallback) {
  auto o = options_for("127.0.0.1:1");
  o.delivery_timeout = 60s;
  o.close_timeout = 200ms;
  std::atomic<int> purged{0};
  {
    auto producer = make_producer(o);
    ASSERT_TRUE(producer);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(producer
                      ->produce(Record{"events", "erin", "x", {}},
                                [&](const DeliveryReport& r) {
                                  if (r.error.kind == ErrorKind::purged) purged.fetch_add(1);
                                })
                      .ok());
  }
  EXPECT_EQ(purged.load(), 3);
}

TEST(Producer, QueueFullIsAnErrorValue) {
  auto o = options_for("127.0.0.1:1");
  o.max_queued_messages = 2;
  o.close_timeout = 100ms;
  auto producer = make_producer(o);
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->produce(Record{"events", "k", "1", {}}, nullptr).ok());
  ASSERT_TRUE(producer->produce(Record{"events", "k", "2", {}}, nullptr).ok());
  auto e = producer->produce(Record{"events", "k", "3", {}}, nullptr);
  EXPECT_EQ(e.kind, ErrorKind::queue_full) << e.message;
  EXPECT_EQ(producer->counters().enqueue_failed.load(), 1u);
}

TEST(Producer, BadPropertyFailsCreateWithConfigError) {
  auto o = options_for("127.0.0.1:1");
  o.extra["no.such.property"] = "1";
  auto p = Producer::create(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::config);
  EXPECT_NE(p.error().message.find("no.such.property"), std::string::npos);

  ProducerOptions empty;
  auto q = Producer::create(empty);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().kind, ErrorKind::config);
}

}  // namespace
}  // namespace pimap::kafka
