#pragma once
// Consumer-group member with explicit commits: offsets are committed only when the caller says the
// records are processed (enable.auto.commit=false), so a crash re-delivers instead of losing.
//
// Not thread-safe: one thread polls, commits and closes. The assignment callbacks run inside poll()
// (and close()) on that thread.

#include <pimap/kafka/error.hpp>
#include <pimap/kafka/options.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pimap::kafka {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

struct PartitionOffset {
  TopicPartition tp;
  std::int64_t offset = -1;  // the next offset to read (Kafka's convention: last processed + 1)
  friend auto operator<=>(const PartitionOffset&, const PartitionOffset&) = default;
};

struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = 0;  // producer create time
};

struct ConsumerOptions : CommonOptions {
  std::string group_id;
  std::vector<std::string> topics;
  // How long the group waits for a silent member before rebalancing (a dead replica's partitions move
  // after this). Kafka's 45 s default makes restarts slow; the heartbeat runs at a third of it.
  std::chrono::milliseconds session_timeout{6'000};
  std::string auto_offset_reset = "earliest";  // where a group without committed offsets starts
  // Called after partitions were added to this member (full set for the eager protocol).
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  // Called before partitions are taken away: commit what was processed for them now, or it will be
  // re-delivered to their next owner.
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
};

class Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> create(ConsumerOptions options);
  virtual ~Consumer() = default;  // closes (leaves the group) if close() was not called
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Next record, std::nullopt when none arrived within `timeout`, or an Error (usually retriable:
  // librdkafka reconnects by itself, keep polling).
  virtual Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) = 0;

  // Synchronously commits `message` as processed (its offset + 1).
  virtual Error commit(const Message& message) = 0;
  // Synchronously commits explicit next-offsets.
  virtual Error commit(std::span<const PartitionOffset> offsets) = 0;

  // Committed next-offsets of `partitions` for this group (-1001 = none committed).
  virtual Result<std::vector<PartitionOffset>> committed(std::span<const TopicPartition> partitions,
                                                         std::chrono::milliseconds timeout) = 0;

  // Partitions currently assigned to this member (sorted).
  virtual std::vector<TopicPartition> assignment() const = 0;

  // Leaves the group cleanly (revocation callback runs) so partitions move at once instead of after
  // session_timeout. Idempotent.
  virtual Error close() = 0;

 protected:
  Consumer() = default;
};

}  // namespace pimap::kafka
