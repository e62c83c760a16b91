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

void ControlLoop::reconcile_owned(std::optional<std::vector<std::int32_t>> only_shards) {
  auto users = options_.watched_users();
  if (!users.ok()) {
    Reconciler::Report r;
    r.error = "watched users: " + users.error;
    if (options_.on_report) options_.on_report("", r);
    return;
  }
  for (const auto& user : *users.value) {
    const auto shard = shard_of(user, ownership_.partitions());
    if (!ownership_.owns_shard(shard)) continue;
    if (only_shards && std::find(only_shards->begin(), only_shards->end(), shard) == only_shards->end()) continue;
    auto report = reconciler_.reconcile(user);
    if (options_.on_report) options_.on_report(user, report);
  }
}

void ControlLoop::run(std::stop_token stop) {
  auto next_periodic = std::chrono::steady_clock::now() + options_.reconcile_interval;
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
      auto report = reconciler_.reconcile(m.key, mailboxes);
      if (options_.on_report) options_.on_report(m.key, report);
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
      if (!added.empty()) reconcile_owned(added);
    }
    if (std::chrono::steady_clock::now() >= next_periodic) {
      reconcile_owned(std::nullopt);
      next_periodic = std::chrono::steady_clock::now() + options_.reconcile_interval;
    }
  }
  (void)consumer_.close();
}

}  // namespace pimap::store_watcher
