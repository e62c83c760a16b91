#pragma once
// Reconcile work that has not succeeded yet, one entry per user (bounded by the number of users, however
// many requests arrive): a request for a user already queued is merged into its entry. A failed run
// (Redis restarting, store down, Kafka not taking the events) goes back in with exponential backoff,
// so no trigger is lost to a transient fault; only a success or losing the user's shard removes it.
//
// Failures that hit user after user (the store or Redis is down for everybody) pause the whole queue
// for the backoff, so a dead store costs one connect timeout per backoff period instead of one per
// user. A failure between successes is the user's own and does not pause the others.
//
// Not thread-safe: owned by the control loop's thread. Time is passed in, for tests.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pimap::store_watcher {

class ReconcileQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Options {
    std::chrono::milliseconds initial_backoff{std::chrono::milliseconds(500)};
    std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};
    // Consecutive failures (distinct runs, no success between) that pause the whole queue.
    int pause_after = 2;
  };

  // What to run for one user: a full reconcile, and/or one limited to some mailboxes (a hook's flag
  // change: kept apart because a first run treats named mailboxes specially, docs/store-watcher.md).
  struct Job {
    std::string user;
    bool all = false;
    std::set<std::string> mailboxes;
  };

  ReconcileQueue() : ReconcileQueue(Options{}) {}
  explicit ReconcileQueue(Options options) : options_(options) {}

  // Empty `mailboxes` = a full reconcile. Due at once, unless the user is backing off already.
  void add(const std::string& user, const std::vector<std::string>& mailboxes, TimePoint now);

  // The next job due at `now` (removed from the queue), or nothing while none is due or paused.
  std::optional<Job> take(TimePoint now);
  // Report of the job last taken.
  void succeeded(const std::string& user);
  void failed(Job job, TimePoint now);

  // Forget users for whom `gone` holds (their shard moved to another replica).
  void drop_if(const std::function<bool(const std::string&)>& gone);

  std::size_t size() const { return entries_.size(); }
  bool paused(TimePoint now) const { return now < paused_until_; }

 private:
  struct Entry {
    Job job;
    TimePoint due;
    int failures = 0;  // this user's, for its backoff
  };
  std::chrono::milliseconds backoff(int failures) const;
  void schedule(Entry entry);

  Options options_;
  std::map<std::string, Entry> entries_;
  std::set<std::pair<TimePoint, std::string>> by_due_;
  std::map<std::string, int> failures_;  // users in flight (taken, not yet reported): their failure count
  int consecutive_failures_ = 0;
  TimePoint paused_until_{};
};

}  // namespace pimap::store_watcher
