#pragma once
// The Kafka side: a consumer-group member on `pimap.events` that hands each StoreEvent to the
// Processor and commits offsets only after the Processor is done with them (at-least-once into
// Redis; appends are idempotent by event id, so a redelivery never duplicates a queue entry).
//
// Records are taken in batches (up to batch_max, as far as they are already fetched) and the
// Processor handles a batch as a whole with pipelined Redis commands, in order, so one user's events
// (one partition) stay ordered; the batch's offsets are committed together once all of it is in
// Redis. All partitions of a batch share its few round trips, which is what processing them
// concurrently would buy. While Redis fails the loop stops consuming: it retries the same batch
// with backoff (100 ms doubling to 5 s) and commits nothing of it, so no event is ever skipped. Records
// taken before their partition was revoked are dropped from the batch (their next owner gets them);
// records a poll returns after a revoke-and-assign within it are kept (before, they were dropped too
// while the fetch position moved past them: skipped for good). Offsets are committed only for
// partitions still assigned.
//
// Runs on one thread (librdkafka's consumer is single-threaded); kafka_ok/redis_ok/positions are
// read by other threads.

#include "metrics.hpp"
#include "options.hpp"
#include "processor.hpp"

#include <pimap/kafka/consumer.hpp>
#include <pimap/kit/log.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>

namespace pimap::notifier {

class ConsumerLoop {
 public:
  ConsumerLoop(const Options& options, Processor& processor, Metrics& metrics, kit::Logger log);
  ~ConsumerLoop();

  // Creates the consumer (joins the group). False with a logged error on a configuration error.
  bool start();
  // Until stop is requested; then commits what was processed and leaves the group.
  void run(std::stop_token stop);

  bool kafka_ok() const { return kafka_ok_.load(); }
  bool redis_ok() const { return redis_ok_.load(); }
  bool assigned() const { return assigned_.load(); }

  // Next offset to process per assigned partition, where known (for the lag gauge).
  std::map<std::int32_t, std::int64_t> positions() const;

 private:
  void on_assigned(const std::vector<kafka::TopicPartition>& parts);
  void on_revoked(const std::vector<kafka::TopicPartition>& parts);
  void refresh_committed_positions();
  // Removes from `batch` the records of partitions revoked during the last poll.
  void drop_revoked(std::vector<kafka::Message>& batch);
  bool process_batch(const std::vector<kafka::Message>& batch, std::stop_token& stop);
  void commit(const std::map<std::int32_t, std::int64_t>& next);

  const Options& options_;
  Processor& processor_;
  Metrics& metrics_;
  kit::Logger log_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::atomic<bool> kafka_ok_{false};
  std::atomic<bool> redis_ok_{true};
  std::atomic<bool> assigned_{false};

  mutable std::mutex mu_;
  std::map<std::int32_t, std::int64_t> positions_;  // assigned partitions; -1 = unknown yet
  std::vector<std::int32_t> revoked_;               // since the current batch began
  bool assignment_changed_ = false;
};

}  // namespace pimap::notifier
