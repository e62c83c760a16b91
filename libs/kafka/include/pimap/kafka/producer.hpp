#pragma once
// Idempotent Kafka producer (enable.idempotence=true, acks=all) whose delivery reports tell the caller
// when a record is durably in Kafka, so the caller can acknowledge its own source only then.
//
// Thread-safe: produce() may be called from any thread. Delivery callbacks run on the producer's own
// delivery thread, exactly once per accepted record (also when the record is purged at shutdown), and
// never inline in produce(); keep them short and do not call back into the Producer's destructor.

#include <pimap/kafka/error.hpp>
#include <pimap/kafka/options.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pimap::kafka {

struct ProducerOptions : CommonOptions {
  // Upper bound for one record from produce() to its delivery report, retries included
  // (message.timeout.ms). A broker that stays down yields ErrorKind::timed_out after this long.
  std::chrono::milliseconds delivery_timeout{30'000};
  // Batching over a few ms of latency: at 1 ms a one-event hook call cost Kafka ~100 us of CPU per
  // event, at 5 ms ~50 us (and half the CPU of every later stage, whose batches grow alike); the
  // push latency budget is 50 ms (docs/performance.md).
  std::chrono::milliseconds linger{5};
  std::size_t max_queued_messages = 100'000;  // beyond this produce() returns ErrorKind::queue_full
  std::chrono::milliseconds close_timeout{5'000};  // destructor flushes this long, then purges
};

struct Record {
  std::string_view topic;
  std::string_view key;    // same key -> same partition -> ordered (when partition is unset)
  std::string_view value;
  std::optional<std::int32_t> partition;  // explicit partition instead of the key hash
};

struct DeliveryReport {
  Error error;  // ok() when the record is replicated per acks=all
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::chrono::steady_clock::duration latency{};  // produce() -> report
};

// Counters for metrics; read with relaxed loads, they only grow.
struct ProducerCounters {
  std::atomic<std::uint64_t> enqueued{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failed{0};          // delivery reports with an error
  std::atomic<std::uint64_t> enqueue_failed{0};  // produce() refused the record
};

class Producer {
 public:
  using DeliveryCallback = std::function<void(const DeliveryReport&)>;

  static Result<std::unique_ptr<Producer>> create(ProducerOptions options);
  virtual ~Producer() = default;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues the record. On success `on_delivery` will run once with the outcome; on failure (queue
  // full, fatal producer, closed) the error is returned and `on_delivery` never runs.
  virtual Error produce(const Record& record, DeliveryCallback on_delivery) = 0;

  // Same as above as a future; an enqueue failure gives a ready future carrying the error.
  std::future<DeliveryReport> produce(const Record& record);

  // Waits until every enqueued record has its delivery report, or timed_out.
  virtual Error flush(std::chrono::milliseconds timeout) = 0;

  // Asks a broker for the topic's metadata: ok when the cluster is reachable and the topic exists.
  // Meant for readiness checks. Returns the topic's partition count.
  virtual Result<int> check_topic(const std::string& topic, std::chrono::milliseconds timeout) = 0;

  // Set once the idempotent producer hit a fatal error; produce() then fails with ErrorKind::fatal.
  virtual std::optional<Error> fatal_error() const = 0;

  virtual const ProducerCounters& counters() const noexcept = 0;

 protected:
  Producer() = default;
};

}  // namespace pimap::kafka
