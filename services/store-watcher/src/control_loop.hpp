#pragma once
// The replica's background worker: membership in the control topic's consumer group (which shards of
// users this replica owns), reconcile requests routed to the owner through that topic, a reconcile of
// every watched user in newly assigned shards (catch-up after any downtime, ours or a dead peer's),
// and a periodic reconcile of all owned watched users.
//
// Control topic record: key = user, value = mailbox names separated by '\n' (empty = all), produced to
// partition shard_of(user). Every trigger goes through a ReconcileQueue: a run that fails (Redis
// restarting, store down, Kafka refusing the events) is retried with backoff until it succeeds or the
// shard moves away; listing the watched users of gained shards is retried the same way. A request's
// offset is committed once it is queued, so a request is lost only if this replica dies before running
// it (and then it is the new owner's catch-up, which covers watched users only).

#include "ownership.hpp"
#include "reconcile_queue.hpp"
#include "reconciler.hpp"

#include <pimap/kafka/consumer.hpp>
#include <pimap/kafka/producer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class ControlLoop {
 public:
  struct Options {
    std::string control_topic;
    std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
    ReconcileQueue::Options retry;
    // Runs queued work for at most about this long between two polls of the control topic.
    std::chrono::milliseconds work_slice{std::chrono::seconds(1)};
    std::function<Outcome<std::vector<std::string>>()> watched_users;
    std::function<void(const std::string& user, const Reconciler::Report&)> on_report;  // logs, metrics
    // After every listing of the watched users: how many of them this replica owns.
    std::function<void(std::size_t owned_watched_users)> on_watched;
    std::function<void(std::size_t pending_users)> on_pending;
    // After every listing of the watched users: the ones this replica owns (watch.mode notify holds a
    // connection for each). Listed also every `users_refresh` (0 = only with reconciles) and after
    // shards move, so new watched users and moved shards are picked up without a reconcile.
    std::function<void(std::vector<std::string> owned_watched_users)> on_owned_users;
    std::chrono::milliseconds users_refresh{0};
  };

  ControlLoop(Options options, kafka::Consumer& consumer, Ownership& ownership, Reconciler& reconciler)
      : options_(std::move(options)), consumer_(consumer), ownership_(ownership), reconciler_(reconciler),
        queue_(options_.retry) {}

  // Runs until `stop`; then closes the consumer (leaving the group, so shards move at once).
  void run(std::stop_token stop);

  // One turn of run() without the poll: what is due in the listing and the queue. For tests.
  void work(ReconcileQueue::TimePoint now);
  // As run() does for a control record / a shard gain / the periodic timer. For tests.
  void requested(const std::string& user, const std::vector<std::string>& mailboxes, ReconcileQueue::TimePoint now);
  void shards_gained(const std::vector<std::int32_t>& shards, ReconcileQueue::TimePoint now);
  void all_owned_due(ReconcileQueue::TimePoint now);
  void refresh_due(ReconcileQueue::TimePoint now);
  std::size_t pending_users() const { return queue_.size(); }

  // Routes a reconcile request for `user` to the replica owning its shard.
  static void request(kafka::Producer& producer, const std::string& topic, int partitions, const std::string& user,
                      const std::vector<std::string>& mailboxes, std::function<void(const kafka::Error&)> done);

  // The last poll reached the cluster (for /readyz).
  bool kafka_ok() const { return kafka_ok_.load(); }

 private:
  // Watched users still to list: for some shards, or all owned ones (then on_watched is reported).
  struct Listing {
    bool refresh = false;  // only for on_owned_users
    bool all = false;
    std::set<std::int32_t> shards;
    ReconcileQueue::TimePoint due{};
    int failures = 0;
    bool empty() const { return !refresh && !all && shards.empty(); }
  };
  void list_watched(ReconcileQueue::TimePoint now);

  Options options_;
  kafka::Consumer& consumer_;
  Ownership& ownership_;
  Reconciler& reconciler_;
  ReconcileQueue queue_;
  Listing listing_;
  std::atomic<bool> kafka_ok_{false};
};

}  // namespace pimap::store_watcher
