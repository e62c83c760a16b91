#include "control_loop.hpp"

#include <algorithm>

namespace pimap::store_watcher {

void ControlLoop::request(kafka::Producer& producer, const std::string& topic, int partitions, const std::string& user,
                          const std::vector<std::string>& mailboxes, std::function<void(const kafka::Error&)> done) {
  std::string value;
  for (const auto& m : mailboxes) {
    if (!value.empty()) value += '\n';
    value += m;
  }
  auto e = producer.produce(kafka::Record{topic, user, value, shard_of(user, partitions)},
                            [done](const kafka::DeliveryReport& r) { done(r.error); });
  if (!e.ok()) done(e);
}

void ControlLoop::requested(const std::string& user, const std::vector<std::string>& mailboxes,
                            ReconcileQueue::TimePoint now) {
  queue_.add(user, mailboxes, now);
}

void ControlLoop::shards_gained(const std::vector<std::int32_t>& shards, ReconcileQueue::TimePoint now) {
  if (listing_.empty()) listing_.due = now;
  listing_.shards.insert(shards.begin(), shards.end());
}

void ControlLoop::all_owned_due(ReconcileQueue::TimePoint now) {
  if (listing_.empty()) listing_.due = now;
  listing_.all = true;
}

void ControlLoop::refresh_due(ReconcileQueue::TimePoint now) {
  if (!options_.on_owned_users) return;
  if (listing_.empty()) listing_.due = now;
  listing_.refresh = true;
}

void ControlLoop::list_watched(ReconcileQueue::TimePoint now) {
  if (listing_.empty() || now < listing_.due) return;
  auto users = options_.watched_users();
  if (!users.ok()) {
    ++listing_.failures;
    auto delay = options_.retry.initial_backoff;
    for (int i = 1; i < listing_.failures && delay < options_.retry.max_backoff; ++i) delay *= 2;
    listing_.due = now + std::min(delay, options_.retry.max_backoff);
    Reconciler::Report r;
    r.error = "watched users: " + users.error;
    if (options_.on_report) options_.on_report("", r);
    return;
  }
  std::vector<std::string> owned_users;
  for (const auto& user : *users.value) {
    const auto shard = shard_of(user, ownership_.partitions());
    if (!ownership_.owns_shard(shard)) continue;
    owned_users.push_back(user);
    if (listing_.all || listing_.shards.contains(shard)) queue_.add(user, {}, now);
  }
  if (options_.on_watched) options_.on_watched(owned_users.size());
  if (options_.on_owned_users) options_.on_owned_users(std::move(owned_users));
  listing_ = Listing{};
}

void ControlLoop::work(ReconcileQueue::TimePoint now) {
  list_watched(now);
  queue_.drop_if([this](const std::string& user) {
    return !ownership_.owns_shard(shard_of(user, ownership_.partitions()));
  });
  const auto slice_end = ReconcileQueue::Clock::now() + options_.work_slice;
  while (auto job = queue_.take(now)) {
    Reconciler::Report report;
    report.ok = true;
    if (!job->mailboxes.empty()) {
      report = reconciler_.reconcile(job->user, {job->mailboxes.begin(), job->mailboxes.end()});
      if (report.ok) job->mailboxes.clear();
    }
    if (report.ok && job->all) {
      report = reconciler_.reconcile(job->user);
      if (report.ok) job->all = false;
    }
    if (options_.on_report) options_.on_report(job->user, report);
    if (report.ok)
      queue_.succeeded(job->user);
    else
      queue_.failed(std::move(*job), now);
    if (ReconcileQueue::Clock::now() >= slice_end) break;
  }
  if (options_.on_pending) options_.on_pending(queue_.size());
}

void ControlLoop::run(std::stop_token stop) {
  using Clock = ReconcileQueue::Clock;
  auto next_periodic = Clock::now() + options_.reconcile_interval;
  auto next_refresh = Clock::now() + options_.users_refresh;
  std::uint64_t seen_generation = ownership_.generation();
  std::vector<std::int32_t> owned_before = ownership_.owned();
  while (!stop.stop_requested()) {
    auto polled = consumer_.poll(std::chrono::milliseconds(200));
    kafka_ok_ = polled.ok() || !polled.error().retriable();
    if (polled.ok() && polled.value()) {
      const auto& m = *polled.value();
      std::vector<std::string> mailboxes;
      std::size_t start = 0;
      while (start < m.value.size()) {
        auto end = m.value.find('\n', start);
        if (end == std::string::npos) end = m.value.size();
        if (end > start) mailboxes.push_back(m.value.substr(start, end - start));
        start = end + 1;
      }
      requested(m.key, mailboxes, Clock::now());
      (void)consumer_.commit(m);
    }
    // Shards that arrived since the last look: their users may have changed while nobody watched.
    if (auto g = ownership_.generation(); g != seen_generation) {
      seen_generation = g;
      auto owned = ownership_.owned();
      std::vector<std::int32_t> added;
      std::set_difference(owned.begin(), owned.end(), owned_before.begin(), owned_before.end(),
                          std::back_inserter(added));
      owned_before = owned;
      if (!added.empty()) shards_gained(added, Clock::now());
      refresh_due(Clock::now());
    }
    if (Clock::now() >= next_periodic) {
      all_owned_due(Clock::now());
      next_periodic = Clock::now() + options_.reconcile_interval;
    }
    if (options_.users_refresh.count() > 0 && Clock::now() >= next_refresh) {
      refresh_due(Clock::now());
      next_refresh = Clock::now() + options_.users_refresh;
    }
    work(Clock::now());
  }
  (void)consumer_.close();
}

}  // namespace pimap::store_watcher
