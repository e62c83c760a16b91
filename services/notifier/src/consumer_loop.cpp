#include "consumer_loop.hpp"

#include <algorithm>
#include <thread>

namespace pimap::notifier {

using namespace std::chrono_literals;

ConsumerLoop::ConsumerLoop(const Options& options, Processor& processor, Metrics& metrics, kit::Logger log)
    : options_(options), processor_(processor), metrics_(metrics), log_(std::move(log)) {}

ConsumerLoop::~ConsumerLoop() {
  if (consumer_) static_cast<void>(consumer_->close());
}

bool ConsumerLoop::start() {
  kafka::ConsumerOptions co;
  co.brokers = options_.brokers;
  co.client_id = "pimap-notifier";
  co.group_id = options_.group;
  co.topics = {options_.topic};
  co.session_timeout = options_.session_timeout;
  co.auto_offset_reset = "earliest";  // a new group must not skip events already in the topic
  co.log = [log = log_](int level, const std::string& msg) {
    if (level <= 3) log.error(msg, {{"component", "kafka"}});
    else if (level == 4) log.warn(msg, {{"component", "kafka"}});
    else log.debug(msg, {{"component", "kafka"}});
  };
  co.on_assigned = [this](const std::vector<kafka::TopicPartition>& p) { on_assigned(p); };
  co.on_revoked = [this](const std::vector<kafka::TopicPartition>& p) { on_revoked(p); };
  // While Redis is down the loop stops polling; stay in the group for a long outage rather than
  // bouncing partitions between equally stuck replicas.
  co.extra["max.poll.interval.ms"] = "600000";
  auto c = kafka::Consumer::create(std::move(co));
  if (!c.ok()) {
    log_.error("kafka consumer", {{"error", c.error().message}});
    return false;
  }
  consumer_ = std::move(c).value();
  kafka_ok_ = true;
  return true;
}

void ConsumerLoop::on_assigned(const std::vector<kafka::TopicPartition>& parts) {
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : parts) positions_.try_emplace(tp.partition, -1);
    assignment_changed_ = true;
  }
  assigned_ = true;
  log_.info("partitions assigned", {{"count", parts.size()}});
}

void ConsumerLoop::on_revoked(const std::vector<kafka::TopicPartition>& parts) {
  std::lock_guard lock(mu_);
  for (const auto& tp : parts) {
    positions_.erase(tp.partition);
    revoked_.push_back(tp.partition);
  }
  log_.info("partitions revoked", {{"count", parts.size()}});
}

std::map<std::int32_t, std::int64_t> ConsumerLoop::positions() const {
  std::lock_guard lock(mu_);
  return positions_;
}

void ConsumerLoop::refresh_committed_positions() {
  std::vector<kafka::TopicPartition> unknown;
  {
    std::lock_guard lock(mu_);
    if (!assignment_changed_) return;
    assignment_changed_ = false;
    for (const auto& [p, off] : positions_)
      if (off < 0) unknown.push_back({options_.topic, p});
  }
  if (unknown.empty()) return;
  auto committed = consumer_->committed(unknown, 5s);
  if (!committed.ok()) return;  // the lag gauge waits for the first record instead
  std::lock_guard lock(mu_);
  for (const auto& po : committed.value()) {
    auto it = positions_.find(po.tp.partition);
    if (it != positions_.end() && it->second < 0 && po.offset >= 0) it->second = po.offset;
  }
}

bool ConsumerLoop::process_batch(const std::vector<kafka::Message>& batch, std::stop_token& stop) {
  std::vector<v1::StoreEvent> events;
  events.reserve(batch.size());
  for (const auto& m : batch) {
    metrics_.consumed();
    v1::StoreEvent event;
    if (!event.ParseFromString(m.value)) {
      metrics_.filtered(FilterReason::unparseable);
      log_.error("record is not a StoreEvent; skipped",
                 {{"partition", m.partition}, {"offset", m.offset}, {"bytes", m.value.size()}});
      continue;
    }
    events.push_back(std::move(event));
  }
  auto backoff = 100ms;
  for (;;) {
    if (processor_.process_batch(events) == Processor::Outcome::done) {
      if (!redis_ok_.exchange(true)) log_.info("redis reachable again; consuming");
      return true;
    }
    if (redis_ok_.exchange(false))
      log_.warn("redis failing; consumption paused, retrying the same batch",
                {{"events", events.size()}, {"error", processor_.last_error()}});
    // Sleep in small steps so a shutdown is not held up by the backoff.
    const auto until = std::chrono::steady_clock::now() + backoff;
    while (std::chrono::steady_clock::now() < until) {
      if (stop.stop_requested()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(50ms, backoff));
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
  }
}

void ConsumerLoop::commit(const std::map<std::int32_t, std::int64_t>& next) {
  if (next.empty()) return;
  std::vector<kafka::PartitionOffset> offsets;
  for (const auto& [p, off] : next) offsets.push_back({{options_.topic, p}, off});
  if (auto e = consumer_->commit(offsets); !e.ok()) {
    // The records will be redelivered (to us or the partition's next owner): duplicates only.
    metrics_.commit_failed();
    log_.warn("offset commit failed", {{"error", e.message}});
  }
}

void ConsumerLoop::drop_revoked(std::vector<kafka::Message>& batch) {
  // The callbacks run inside poll(), before it returns a record: what the batch took earlier from a
  // partition revoked there belongs to the old assignment (its next owner, or this member again from
  // the committed offset, gets it), while a record that poll returns is already of the new one. So
  // this runs after every poll, and a partition revoked and given back within one poll keeps the
  // records fetched after that.
  std::lock_guard lock(mu_);
  if (revoked_.empty()) return;
  std::erase_if(batch, [&](const kafka::Message& m) {
    return std::find(revoked_.begin(), revoked_.end(), m.partition) != revoked_.end();
  });
  revoked_.clear();
}

void ConsumerLoop::run(std::stop_token stop) {
  std::vector<kafka::Message> batch;
  int poll_errors = 0;
  while (!stop.stop_requested()) {
    batch.clear();
    auto first = consumer_->poll(200ms);
    refresh_committed_positions();
    if (!first.ok()) {
      if (++poll_errors >= 5) kafka_ok_ = false;
      log_.warn("kafka poll failed", {{"error", first.error().message}});
      continue;
    }
    poll_errors = 0;
    kafka_ok_ = true;
    drop_revoked(batch);
    if (!first.value()) continue;
    batch.push_back(std::move(*first.value()));
    while (batch.size() < options_.batch_max) {
      auto more = consumer_->poll(0ms);
      drop_revoked(batch);
      if (!more.ok() || !more.value()) break;
      batch.push_back(std::move(*more.value()));
    }
    std::map<std::int32_t, std::int64_t> done;  // partition -> next offset
    // The whole batch (every partition in it) in one go: a few pipelined Redis round trips instead
    // of several per event and device. Offsets are committed only once all of it is in Redis.
    const bool interrupted = !process_batch(batch, stop);
    if (!interrupted) {
      for (const auto& m : batch) done[m.partition] = std::max(done[m.partition], m.offset + 1);
      std::lock_guard lock(mu_);
      // Only partitions still ours: a commit for one that moved would overwrite its new owner's.
      std::erase_if(done, [&](const auto& d) { return !positions_.contains(d.first); });
      for (const auto& [p, next] : done) positions_[p] = next;
    }
    commit(done);
    if (interrupted) break;
  }
  if (auto e = consumer_->close(); !e.ok()) log_.warn("kafka consumer close", {{"error", e.message}});
  kafka_ok_ = false;
}

}  // namespace pimap::notifier
