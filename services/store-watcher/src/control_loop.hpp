#pragma once
// The replica's background worker: membership in the control topic's consumer group (which shards of
// users this replica owns), reconcile requests routed to the owner through that topic, a reconcile of
// every watched user in newly assigned shards (catch-up after any downtime, ours or a dead peer's),
// and a periodic reconcile of all owned watched users.
//
// Control topic record: key = user, value = mailbox names separated by '\n' (empty = all), produced to
// partition shard_of(user). Offsets are committed after the reconcile ran (ok or not: a failing store
// must not wedge the partition; the periodic run retries).

#include "ownership.hpp"
#include "reconciler.hpp"

#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class ControlLoop {
 public:
  struct Options {
    std::string control_topic;
    std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
    std::function<Outcome<std::vector<std::string>>()> watched_users;
    std::function<void(const std::string& user, const Reconciler::Report&)> on_report;  // logs, metrics
  };

  ControlLoop(Options options, kafka::Consumer& consumer, Ownership& ownership, Reconciler& reconciler)
      : options_(std::move(options)), consumer_(consumer), ownership_(ownership), reconciler_(reconciler) {}

  // Runs until `stop`; then closes the consumer (leaving the group, so shards move at once).
  void run(std::stop_token stop);

  // Routes a reconcile request for `user` to the replica owning its shard.
  static void request(kafka::Producer& producer, const std::string& topic, int partitions, const std::string& user,
                      const std::vector<std::string>& mailboxes, std::function<void(const kafka::Error&)> done);

  // The last poll reached the cluster (for /readyz).
  bool kafka_ok() const { return kafka_ok_.load(); }

 private:
  void reconcile_owned(std::optional<std::vector<std::int32_t>> only_shards);

  Options options_;
  kafka::Consumer& consumer_;
  Ownership& ownership_;
  Reconciler& reconciler_;
  std::atomic<bool> kafka_ok_{false};
  std::vector<std::int32_t> newly_assigned_;
};

}  // namespace pimap::store_watcher
